"""A registry of named contracts, loaded lazily and kept in a bounded LRU."""

from __future__ import annotations

import importlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .._exceptions import ContractConfigError
from ._base import Contract

__all__ = ["ContractRegistry", "default_registry", "register_contract"]

Factory = Callable[..., Contract]

# Built-ins are registered by import path, so looking one up imports only its module.
_BUILTINS = {
    "prompt_length": "llm_contracts.contracts._input:PromptLengthContract",
    "prompt_injection": "llm_contracts.contracts._input:PromptInjectionContract",
    "request_parameters": "llm_contracts.contracts._input:RequestParametersContract",
    "pii": "llm_contracts.contracts._pii:PIIContract",
    "content_policy": "llm_contracts.contracts._policy:ContentPolicyContract",
    "json_format": "llm_contracts.contracts._json:JSONFormatContract",
    "pydantic": "llm_contracts.contracts._json:PydanticContract",
    "regex": "llm_contracts.contracts._output:RegexContract",
    "length": "llm_contracts.contracts._output:LengthContract",
    "refusal": "llm_contracts.contracts._output:RefusalContract",
    "response_time": "llm_contracts.contracts._performance:ResponseTimeContract",
    "token_budget": "llm_contracts.contracts._performance:TokenBudgetContract",
    "tool_calls": "llm_contracts.contracts._tools:ToolCallContract",
}


def _key(name: str, kwargs: dict[str, Any]) -> tuple[str, str]:
    try:
        frozen = json.dumps(kwargs, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        frozen = repr(sorted(kwargs.items()))
    return name, frozen


class ContractRegistry:
    """Named contract factories, resolved on first use.

    A factory is a callable returning a ``Contract`` or an import path
    ``"package.module:attribute"``; nothing is imported until the name is asked for.
    Instances built with the same arguments are reused from an LRU of ``maxsize``.

    Example::

        registry.register("ticket_json", "myapp.contracts:ticket_contract")
        contract = registry.get("ticket_json")
    """

    def __init__(self, *, maxsize: int = 256, builtins: bool = True) -> None:
        if maxsize < 1:
            raise ContractConfigError(f"maxsize must be >= 1; got {maxsize}")
        self.maxsize = maxsize
        self._factories: dict[str, Factory | str] = dict(_BUILTINS) if builtins else {}
        self._loaded: OrderedDict[tuple[str, str], Contract] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        self.hits = 0

    def register(self, name: str, factory: Factory | str | Contract, *, replace: bool = False) -> None:
        """Register ``factory`` (a callable, an import path or a ready contract) under ``name``."""
        if not name or not isinstance(name, str):
            raise ContractConfigError(f"a contract name must be a non-empty string; got {name!r}")
        if isinstance(factory, str) and ":" not in factory:
            raise ContractConfigError(f"import path {factory!r} must look like 'package.module:attribute'")
        if not isinstance(factory, (str, Contract)) and not callable(factory):
            raise ContractConfigError(f"factory for {name!r} must be callable, a Contract or an import path")
        with self._lock:
            if name in self._factories and not replace:
                raise ContractConfigError(f"a contract named {name!r} is already registered")
            self._factories[name] = (lambda _c=factory: _c) if isinstance(factory, Contract) else factory
            for key in [k for k in self._loaded if k[0] == name]:
                del self._loaded[key]

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        with self._lock:
            return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def _resolve(self, name: str) -> Factory:
        factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(sorted(self._factories)) or "none"
            raise ContractConfigError(f"no contract named {name!r} is registered (known: {known})")
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            try:
                target = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise ContractConfigError(
                    f"contract {name!r} could not be loaded from {factory!r}: {exc}"
                ) from exc
            if not callable(target):
                raise ContractConfigError(f"contract {name!r} at {factory!r} is not callable")
            return target  # type: ignore[no-any-return]
        return factory

    def get(self, name: str, **kwargs: Any) -> Contract:
        """Return the contract ``name`` built with ``kwargs``, loading it on first use."""
        key = _key(name, kwargs)
        with self._lock:
            contract = self._loaded.get(key)
            if contract is not None:
                self._loaded.move_to_end(key)
                self.hits += 1
                return contract
        factory = self._resolve(name)
        contract = factory(**kwargs)
        if not isinstance(contract, Contract):
            raise ContractConfigError(
                f"factory of {name!r} returned {type(contract).__name__}, not a Contract"
            )
        with self._lock:
            self.loads += 1
            self._loaded[key] = contract
            self._loaded.move_to_end(key)
            while len(self._loaded) > self.maxsize:
                self._loaded.popitem(last=False)
        return contract

    def loaded(self) -> int:
        """Return how many contract instances the LRU holds."""
        with self._lock:
            return len(self._loaded)


default_registry = ContractRegistry()


def register_contract(
    name: str, *, registry: ContractRegistry | None = None, replace: bool = False
) -> Callable[[Factory], Factory]:
    """Register the decorated factory (a function or a Contract class) under ``name``."""

    def decorate(factory: Factory) -> Factory:
        (registry or default_registry).register(name, factory, replace=replace)
        return factory

    return decorate
