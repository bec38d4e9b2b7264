"""Adapters that bring contracts to other libraries, each behind its own extra.

- :mod:`llm_contracts.integrations.langchain` (``pip install 'llm-contracts[langchain]'``):
  ``ContractChatModel`` wraps any LangChain chat model and enforces contracts on it;
  ``ContractCallbackHandler`` records the verdicts of every LangChain model call without
  enforcing them.
- :mod:`llm_contracts.integrations.guardrails` (``pip install 'llm-contracts[guardrails]'``):
  ``from_guardrails(validator)`` and ``from_guard(guard)`` turn Guardrails AI validators
  into contracts.

pydantic-ai and the OpenAI Agents SDK need no adapter: they take the drop-in client
(see the README). Nothing here is imported by ``import llm_contracts``; importing a module
whose library is missing raises an ``ImportError`` naming the extra to install.
"""
