"""Registers a named contract when imported (used by the CLI's --import test)."""

from llm_contracts.contracts import FunctionContract
from llm_contracts.contracts._registry import default_registry

if "lazy_example" not in default_registry:
    default_registry.register(
        "lazy_example", lambda: FunctionContract(lambda text: True, name="lazy_example")
    )
