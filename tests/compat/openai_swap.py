"""A pytest plugin for openai's own test suite: swap openai's clients for the drop-in ones.

Loaded with ``-p tests.compat.openai_swap`` before the suite's modules are imported, so
their ``from openai import OpenAI, AsyncOpenAI`` picks up the contracted clients.
``LLMC_OPENAI_SUITE_MODE`` says what to run: ``plain`` (openai's own clients), ``dropin``
(the contracted clients, no contracts) or ``contract`` (the contracted clients, each with
one output contract that always passes, so every generation call takes the checked path).
"""

from __future__ import annotations

import os

import openai

MODE = os.environ.get("LLMC_OPENAI_SUITE_MODE", "plain")

if MODE not in ("plain", "dropin", "contract"):
    raise SystemExit(f"LLMC_OPENAI_SUITE_MODE must be plain, dropin or contract; got {MODE!r}")

if MODE != "plain":
    from llm_contracts import AsyncContractOpenAI, ContractOpenAI, FunctionContract
    from llm_contracts.providers import _openai as drop_in

    if MODE == "contract":
        init_contracts = drop_in._ContractClientMixin._init_contracts

        def _with_one_contract(self, kwargs):  # type: ignore[no-untyped-def]
            if not any(kwargs.get(k) for k in ("contracts", "input_contracts", "output_contracts")):
                kwargs["output_contracts"] = [FunctionContract(lambda text: True, name="always_passes")]
            init_contracts(self, kwargs)

        drop_in._ContractClientMixin._init_contracts = _with_one_contract  # type: ignore[method-assign]

    openai.OpenAI = ContractOpenAI  # type: ignore[misc]
    openai.AsyncOpenAI = AsyncContractOpenAI  # type: ignore[misc]
