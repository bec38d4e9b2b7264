"""LLMCL, the LLM Contract Language: contracts people can read, stored as data, checked before they run.

Example::

    from llm_contracts import ContractOpenAI
    from llm_contracts.llmcl import load_source

    contracts = load_source('''
    contract SupportReply version 3 priority high {
      require tokens(input) <= 4000
      ensure len(output) <= 2000
      ensure not pii(output)
      on violation retry 2 with "Answer in at most 2000 characters."
    }
    ''')
    client = ContractOpenAI(**contracts.client_kwargs())

``compile_source`` gives the versioned JSON spec (see ``spec_schema()``), ``load_spec``
turns a spec into contracts, ``format_source`` lays source out canonically. Errors are
:class:`LLMCLError` subclasses whose ``str()`` reads like a compiler's diagnostics.
"""

from ._ast import Module
from ._compiler import compile_file, compile_source, file_resolver
from ._errors import LLMCLError, LLMCLSemanticError, LLMCLSyntaxError
from ._evaluator import ExpressionContract
from ._formatter import format_source
from ._loader import ContractSet, load_spec
from ._parser import parse
from ._schema import spec_errors, spec_schema
from ._sources import load_file, load_source
from ._spec import SPEC_VERSION

__all__ = [
    "ContractSet",
    "ExpressionContract",
    "LLMCLError",
    "LLMCLSemanticError",
    "LLMCLSyntaxError",
    "Module",
    "SPEC_VERSION",
    "compile_file",
    "compile_source",
    "file_resolver",
    "format_source",
    "load_file",
    "load_source",
    "load_spec",
    "parse",
    "spec_errors",
    "spec_schema",
]
