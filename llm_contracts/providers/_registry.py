"""The registry of provider specs: what each provider brings, and how third-party ones are found.

A provider is one :class:`ProviderSpec`: its generation endpoints (each a request view,
which also writes the re-ask turn, and a response view), its drop-in client classes
(imported only when first asked for, so a vendor SDK loads only when it is used) and
its model constraints. The built-in providers register themselves when
``llm_contracts.providers`` is imported; others are found in the ``llm_contracts.providers``
entry-point group the first time a provider is looked up, or registered from code with
:func:`register`. A plugin that fails to load is logged and left out; it never breaks the
import of the SDK or the lookup of another provider.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any

from .._dataclass import dataclass
from .._exceptions import ContractConfigError
from ..contracts._types import LLMResponse, RequestView, ResponseView

__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderSpec",
    "Route",
    "broken_plugins",
    "discover",
    "get_provider",
    "provider_names",
    "register",
    "register_built_ins",
]

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from ..contracts._limits import ModelLimits

log = logging.getLogger("llm_contracts")

ENTRY_POINT_GROUP = "llm_contracts.providers"


@dataclass(frozen=True, slots=True)
class Route:
    """One generation endpoint: how its bodies and its answers read, and are written."""

    endpoint: str
    requests: RequestView
    responses: ResponseView


def _match(routes: Mapping[str, Route], method: str, url: Any) -> Route | None:
    if str(method).lower() != "post":
        return None
    path = url if isinstance(url, str) else str(getattr(url, "path", url))
    path = path.partition("?")[0]  # anthropic's beta calls carry ?beta=true
    route = routes.get(path)
    if route is not None or "://" not in path:
        return route
    # A full URL: match on its path's tail (base URLs may carry a prefix).
    return next((r for endpoint, r in routes.items() if path.endswith(endpoint)), None)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What one provider brings to the SDK.

    Parameters:
        name: the provider's name, as reports, events and spans carry it.
        routes: the generation endpoints by path (``"/v1/messages"``): each one's request
            view (wire body -> ``LLMRequest``, input fixes back into the body, the re-ask
            turn in the provider's message format) and response view (answers and stream
            events -> ``LLMResponse`` and deltas). Calls to other paths go straight through.
        clients: the drop-in client classes by public name, as ``"module:attribute"``
            strings imported on first use (or the classes themselves).
        models: the published limits of the provider's models, by model name; a dated
            snapshot (``-20250514``) of a listed model has the listed model's limits.
        requires: the vendor package the clients need, named when it is missing.
        answers: the vendor's answer types by ``"module:Class"``, each with the route that
            reads it, so a decorated function returning one is judged on its text (looked
            up only in modules already imported: the vendor SDK is never imported for it).

    Example::

        register(ProviderSpec(name="acme", routes={"/v1/generate": Route("/v1/generate", REQ, RESP)},
                              clients={"ContractAcme": "acme_contracts:ContractAcme"}))
    """

    name: str
    routes: Mapping[str, Route] = field(default_factory=dict)
    clients: Mapping[str, str | type[Any]] = field(default_factory=dict)
    models: Mapping[str, ModelLimits] = field(default_factory=dict)
    requires: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ContractConfigError(f"a provider spec needs a non-empty name; got {self.name!r}")
        for path, route in self.routes.items():
            if not isinstance(route, Route):
                raise ContractConfigError(
                    f"provider {self.name!r}: routes[{path!r}] must be a Route; got {type(route).__name__}"
                )

    def route_for(self, method: str, url: Any) -> Route | None:
        """Return the route of a generation call, or None for every other call."""
        return _match(self.routes, method, url)

    def read_answer(self, result: Any) -> LLMResponse | None:
        """Return the neutral view of ``result`` when it is one of this provider's answer types."""
        for path, endpoint in self.answers.items():
            module_name, _, attribute = path.partition(":")
            module = sys.modules.get(module_name)
            kind = getattr(module, attribute, None) if module is not None else None
            if isinstance(kind, type) and isinstance(result, kind):
                return self.routes[endpoint].responses.response(result, None)
        return None

    def client(self, name: str) -> type[Any]:
        """Return the client class registered as ``name``, importing it now if need be."""
        target = self.clients.get(name)
        if target is None:
            raise ContractConfigError(
                f"provider {self.name!r} has no client {name!r}; "
                f"it has {', '.join(sorted(self.clients)) or 'none'}"
            )
        if isinstance(target, type):
            return target
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if self.requires and exc.name and exc.name.split(".")[0] == self.requires:
                raise ImportError(
                    f"{name} needs the {self.requires!r} package: "
                    f"pip install 'llm-contracts[{self.requires}]'"
                ) from exc
            raise
        return getattr(module, attribute)  # type: ignore[no-any-return]

    def model_limits(self, model: str | None) -> ModelLimits | None:
        """Return the limits of a known model of this provider, or None."""
        if not model:
            return None
        limits = self.models.get(model)
        if limits is None:
            base, _, tail = model.rpartition("-")
            if base and tail.isdigit() and len(tail) == 8:
                limits = self.models.get(base)
        return limits


_SPECS: dict[str, ProviderSpec] = {}
_BROKEN: dict[str, str] = {}
_LOCK = threading.Lock()
_discovered = False
# Loaders of the built-in specs, run before the registry is first read or written: the
# specs' views (and their models' limits) load then, not with every client.
_BUILT_INS: list[Callable[[], Iterable[ProviderSpec]]] = []
_BUILT_INS_LOCK = threading.Lock()


def register_built_ins(load: Callable[[], Iterable[ProviderSpec]]) -> None:
    """Register the specs ``load`` returns when the registry is first used (before any other)."""
    _BUILT_INS.append(load)


def _load_built_ins() -> None:
    if not _BUILT_INS:
        return
    with _BUILT_INS_LOCK:
        while _BUILT_INS:
            specs = list(_BUILT_INS[0]())
            with _LOCK:
                for spec in specs:
                    _SPECS.setdefault(spec.name, spec)
            _BUILT_INS.pop(0)


def register(spec: ProviderSpec, *, replace: bool = False) -> ProviderSpec:
    """Register ``spec``; a second spec of the same name is an error unless ``replace=True``."""
    _load_built_ins()
    if not isinstance(spec, ProviderSpec):
        raise ContractConfigError(f"register() takes a ProviderSpec; got {type(spec).__name__}")
    with _LOCK:
        current = _SPECS.get(spec.name)
        if current is not None and current is not spec and not replace:
            raise ContractConfigError(
                f"a provider named {spec.name!r} is registered already (pass replace=True to replace it)"
            )
        _SPECS[spec.name] = spec
    return spec


def _load(entry: EntryPoint) -> ProviderSpec:
    target = entry.load()
    spec = target() if callable(target) and not isinstance(target, ProviderSpec) else target
    if not isinstance(spec, ProviderSpec):
        raise TypeError(f"entry point {entry.value!r} gave {type(spec).__name__}, not a ProviderSpec")
    return spec


def discover(*, force: bool = False) -> None:
    """Load the providers of the ``llm_contracts.providers`` entry points (once, unless forced).

    Each entry point names a :class:`ProviderSpec` or a callable returning one. A plugin
    that fails to load or clashes with a registered name is logged and listed in
    :func:`broken_plugins`; the others load all the same.
    """
    _load_built_ins()
    global _discovered
    if _discovered and not force:
        return
    _discovered = True
    # Imported here: importlib.metadata costs milliseconds, and only a lookup needs it.
    from importlib import metadata

    try:
        entries = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # a broken distribution's metadata must not break the SDK
        log.exception("llm_contracts could not read the %s entry points", ENTRY_POINT_GROUP)
        return
    for entry in entries:
        try:
            spec = _load(entry)
            if _SPECS.get(spec.name) is spec:
                continue
            if spec.name in _SPECS:
                raise ContractConfigError(f"it is named {spec.name!r}, like a provider registered already")
            register(spec)
            _BROKEN.pop(entry.name, None)
        except Exception as exc:  # any failure of a plugin stays with that plugin
            _BROKEN[entry.name] = f"{type(exc).__name__}: {exc}"
            log.warning(
                "llm_contracts left out the provider plugin %r (%s): %s: %s",
                entry.name,
                entry.value,
                type(exc).__name__,
                exc,
            )


def get_provider(name: str) -> ProviderSpec:
    """Return the spec of the provider ``name`` (looking in the entry points when not registered)."""
    _load_built_ins()
    spec = _SPECS.get(name)
    if spec is None:
        discover()
        spec = _SPECS.get(name)
    if spec is None:
        why = f" (its plugin failed to load: {_BROKEN[name]})" if name in _BROKEN else ""
        raise ContractConfigError(
            f"no provider named {name!r}{why}; registered: {', '.join(provider_names())}"
        )
    return spec


def provider_names() -> list[str]:
    """Return the names of every registered provider, plugins included, sorted."""
    discover()
    return sorted(_SPECS)


def registered() -> list[ProviderSpec]:
    """Return the specs registered so far, without looking for plugins."""
    _load_built_ins()
    return list(_SPECS.values())


def broken_plugins() -> dict[str, str]:
    """Return the provider plugins that failed to load, by entry-point name, with why."""
    discover()
    return dict(_BROKEN)


def _unregister(name: str) -> None:
    """Remove a provider (for tests that register their own)."""
    _load_built_ins()
    with _LOCK:
        _SPECS.pop(name, None)
