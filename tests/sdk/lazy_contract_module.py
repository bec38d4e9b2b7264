"""A module the registry tests import lazily."""

from llm_contracts import FunctionContract


def build() -> FunctionContract:
    return FunctionContract(lambda text: True, name="lazy_from_module")
