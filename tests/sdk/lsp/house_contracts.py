"""Registers the named contract "house_tone" when imported (the language server's --import test)."""

from llm_contracts.contracts import Contract, FunctionContract
from llm_contracts.contracts._registry import default_registry


def house_tone() -> Contract:
    """Reject answers that call the customer "dude"."""
    return FunctionContract(lambda text: "dude" not in text.lower(), name="house_tone")


if "house_tone" not in default_registry:
    default_registry.register("house_tone", house_tone)
