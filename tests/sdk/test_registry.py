import sys

import pytest

from llm_contracts import ContractConfigError, FunctionContract
from llm_contracts.contracts._registry import ContractRegistry, register_contract


def make_short(max_len: int = 10) -> FunctionContract:
    return FunctionContract(lambda text: len(text) <= max_len, name=f"short_{max_len}")


class TestRegistry:
    def test_it_builds_a_registered_factory_on_first_use_only(self):
        calls = []

        def factory(**kw):
            calls.append(kw)
            return make_short(**kw)

        registry = ContractRegistry(builtins=False)
        registry.register("short", factory)
        assert calls == []
        first = registry.get("short", max_len=3)
        again = registry.get("short", max_len=3)
        assert first is again
        assert calls == [{"max_len": 3}]
        assert registry.get("short", max_len=4) is not first

    def test_it_evicts_the_least_recently_used_instance(self):
        registry = ContractRegistry(maxsize=2, builtins=False)
        registry.register("short", make_short)
        a = registry.get("short", max_len=1)
        registry.get("short", max_len=2)
        registry.get("short", max_len=1)  # a is now the most recent
        registry.get("short", max_len=3)  # evicts max_len=2
        assert registry.loaded() == 2
        assert registry.get("short", max_len=1) is a
        assert registry.loads == 3

    def test_an_import_path_is_imported_lazily(self):
        registry = ContractRegistry(builtins=False)
        registry.register("lazy", "tests.sdk.lazy_contract_module:build")
        assert "tests.sdk.lazy_contract_module" not in sys.modules
        contract = registry.get("lazy")
        assert contract.name == "lazy_from_module"
        assert "tests.sdk.lazy_contract_module" in sys.modules

    def test_unknown_names_and_bad_factories_are_clear_errors(self):
        registry = ContractRegistry(builtins=False)
        with pytest.raises(ContractConfigError, match="no contract named 'nope'"):
            registry.get("nope")
        with pytest.raises(ContractConfigError, match="package.module:attribute"):
            registry.register("bad", "not_a_path")
        registry.register("broken", "tests.sdk.does_not_exist:build")
        with pytest.raises(ContractConfigError, match="could not be loaded"):
            registry.get("broken")
        registry.register("not_contract", lambda: 42)
        with pytest.raises(ContractConfigError, match="not a Contract"):
            registry.get("not_contract")

    def test_registering_a_name_twice_needs_replace(self):
        registry = ContractRegistry(builtins=False)
        register_contract("short", registry=registry)(make_short)
        with pytest.raises(ContractConfigError, match="already registered"):
            registry.register("short", make_short)
        registry.register("short", make_short(max_len=99), replace=True)
        assert registry.get("short").name == "short_99"
