"""Pull the project's contract specs, breakpoints and experiments from the control plane, with ETags.

A light daemon thread polls ``GET /api/v1/contracts``, ``GET /api/v1/breakpoints`` and
``GET /api/v1/experiments`` every ``poll_interval`` seconds with ``If-None-Match``. New
specs are compiled off the call path and published by one assignment, so a call sees
either the old set or the new one, never a mix; when the server is unreachable the last
known set (and the last known experiments) stay in force.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from pydantic import ValidationError

from .. import protocol
from ..contracts._base import Contract
from ..debugging._trace import Breakpoint
from ..experiments._bucketing import LRUStickyStore, StickyStore
from ..experiments._rules import ActiveExperiment, ExperimentRules
from ._guard import InternalErrorGuard, log
from ._transport import ControlPlane

__all__ = ["ProjectSync", "SyncOwner", "load_project_spec"]

CONTRACTS_PATH = "/api/v1/contracts"
BREAKPOINTS_PATH = "/api/v1/breakpoints"
EXPERIMENTS_PATH = "/api/v1/experiments"

# (spec, contract name) -> a Contract, an iterable of them, or an LLMCL ContractSet
SpecLoader = Callable[[Any, str], Any]


class SyncOwner(Protocol):
    """What the puller needs of its owner (a ``Reporter``): the control plane, a guard, a pace."""

    enabled: bool
    guard: InternalErrorGuard
    poll_interval: float
    control_plane: ControlPlane


def load_project_spec(spec: Any, name: str) -> Any:
    """Load contract ``name`` of one compiled server spec with LLMCL (imported on first use)."""
    from ..llmcl import load_spec

    return load_spec(spec, contract=name)


def _as_contracts(loaded: Any, where: str) -> list[Contract]:
    if hasattr(loaded, "input") and hasattr(loaded, "output"):  # an LLMCL ContractSet
        loaded = [*loaded.input, *loaded.output]
    elif isinstance(loaded, Contract) or not isinstance(loaded, Iterable):
        loaded = [loaded]
    items = list(loaded)
    for c in items:
        if not isinstance(c, Contract):
            raise TypeError(f"{where}: the spec loader returned {type(c).__name__}, not a Contract")
    return items


class ProjectSync:
    """The project's server-defined contracts and breakpoints, kept fresh in the background.

    ``contracts`` and ``breakpoints`` are tuples replaced whole on change; ``generation``
    grows with every new contract set; ``versions`` maps a contract name to its version.
    """

    def __init__(self, reporter: SyncOwner, *, loader: SpecLoader | None = None) -> None:
        self._reporter = reporter
        self.loader: SpecLoader = loader or load_project_spec
        self.contracts: tuple[Contract, ...] = ()
        self.versions: dict[str, int] = {}
        self.breakpoints: tuple[Breakpoint, ...] = ()
        # The share (0-1) of violated calls whose trace is uploaded, as the project sets it.
        self.trace_sample_rate = 1.0
        self.generation = 0
        self._want_contracts = False
        self._want_breakpoints = False
        self._want_experiments = False
        # The running experiments, their variants' contracts built with ``loader``; the
        # sticky assignments of experiments that ask for them live in this process.
        self.rules = ExperimentRules(self._build_variant)
        self.sticky_store: StickyStore = LRUStickyStore()
        self._etags: dict[str, str] = {}
        self._compiled: dict[tuple[str, int, str], list[Contract]] = {}
        self._bad: set[tuple[str, int]] = set()
        self._reset_after_fork()

    def _reset_after_fork(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.loaded = threading.Event()  # set after the first answer to each wanted pull
        # Set once the server answered a contracts pull; what the parent pulled before a
        # fork is in force in the child too (a fresh Event: the old one's lock may be held).
        pulled = getattr(self, "contracts_pulled", None)
        self.contracts_pulled = threading.Event()
        if pulled is not None and pulled.is_set():
            self.contracts_pulled.set()
        self._contracts_tried = threading.Event()  # set after each attempt, answered or not
        self._first_wait_until: float | None = None
        self._unavailable_logged = False

    def want(self, *, contracts: bool = False, breakpoints: bool = False, experiments: bool = False) -> None:
        """Start pulling contracts, breakpoints and/or experiments (a no-op when the reporter is disabled)."""
        if not self._reporter.enabled:
            return
        self._want_contracts |= contracts
        self._want_breakpoints |= breakpoints
        self._want_experiments |= experiments
        wanted = self._want_contracts or self._want_breakpoints or self._want_experiments
        if wanted and self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    thread = threading.Thread(target=self._run, name="llm-contracts-sync", daemon=True)
                    thread.start()
                    self._thread = thread

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._reporter.guard:
                self.poll_once()
            self._stop.wait(self._reporter.poll_interval)

    def _get(self, path: str) -> Any:
        """GET ``path``; return the decoded JSON, or None when unchanged or unavailable."""
        try:
            status, answer_headers, body = self._reporter.control_plane.get(path, self._etags.get(path))
        except Exception as exc:
            log.debug("llm_contracts cannot pull %s (%s): keeping the last known state", path, exc)
            return None
        if status == 304:
            return None
        if status != 200:
            log.debug("llm_contracts pull of %s answered HTTP %d: keeping the last known state", path, status)
            return None
        try:
            data = json.loads(body)
        except ValueError:
            # One garbled answer must not cost the rest of this round's pulls.
            log.warning(
                "llm_contracts pull of %s answered with invalid JSON: keeping the last known state", path
            )
            return None
        etag = {k.lower(): v for k, v in answer_headers.items()}.get("etag")
        if etag:
            self._etags[path] = etag
        return data

    def poll_once(self) -> None:
        """Pull once; keep what is known when the server does not answer."""
        if self._want_contracts:
            data = self._get(CONTRACTS_PATH)
            if isinstance(data, dict) and isinstance(data.get("contracts"), list):
                self._publish_contracts(data["contracts"])
                self.contracts_pulled.set()
            self._contracts_tried.set()
        if self._want_breakpoints:
            data = self._get(BREAKPOINTS_PATH)
            if isinstance(data, dict) and isinstance(data.get("breakpoints"), list):
                parsed = []
                for item in data["breakpoints"]:
                    try:
                        parsed.append(Breakpoint.from_dict(item))
                    except (ValueError, TypeError, AttributeError) as exc:
                        log.warning("llm_contracts ignores a breakpoint from the server: %s", exc)
                self.breakpoints = tuple(parsed)
                rate = data.get("trace_sample_rate", 1.0)
                if isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0.0 <= rate <= 1.0:
                    self.trace_sample_rate = float(rate)
                else:
                    log.warning("llm_contracts ignores a trace_sample_rate from the server: %r", rate)
        if self._want_experiments:
            data = self._get(EXPERIMENTS_PATH)
            if isinstance(data, dict) and isinstance(data.get("experiments"), list):
                self.rules.update(data["experiments"])
        self.loaded.set()

    @property
    def experiments(self) -> tuple[ActiveExperiment, ...]:
        """Return the running experiments last pulled (kept while the server is unreachable)."""
        return self.rules.active

    def _build_variant(self, spec: Any, name: str) -> list[Contract]:
        return _as_contracts(self.loader(spec, name), f"contract {name}")

    def _publish_contracts(self, items: list[Any]) -> None:
        contracts: list[Contract] = []
        versions: dict[str, int] = {}
        compiled: dict[tuple[str, int, str], list[Contract]] = {}
        for item in items:
            try:
                pulled = protocol.ContractSpec.model_validate(item)
            except ValidationError as exc:
                log.warning("llm_contracts ignores a malformed contract item from the server: %s", exc)
                continue
            name, version = pulled.name, pulled.version
            key = (name, version, json.dumps(pulled.spec, sort_keys=True, default=str))
            built = self._compiled.get(key)
            if built is None:
                try:
                    built = _as_contracts(self.loader(pulled.spec, name), f"contract {name} v{version}")
                except Exception as exc:
                    if (name, version) not in self._bad:
                        self._bad.add((name, version))
                        log.error(
                            "llm_contracts cannot load contract %s version %s from the server "
                            "(%s: %s); the previous version stays in force",
                            name,
                            version,
                            type(exc).__name__,
                            exc,
                        )
                    previous = [k for k in self._compiled if k[0] == name]
                    if not previous:
                        continue
                    key = previous[-1]
                    built = self._compiled[key]
                    version = key[1]
                for c in built:
                    with contextlib.suppress(AttributeError):
                        c.version = version  # type: ignore[attr-defined]
            compiled[key] = built
            contracts.extend(built)
            for c in built:
                versions[c.name] = version
            versions[name] = version
        if compiled.keys() == self._compiled.keys():
            return
        self._compiled = compiled
        # One assignment each, then the generation: a reader that sees the new generation
        # sees the new contracts.
        self.versions = versions
        self.contracts = tuple(contracts)
        self.generation += 1

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait for the first pull to finish; return False on timeout."""
        return self.loaded.wait(timeout)

    def wait_first_contracts(self, timeout: float) -> bool:
        """Wait, once per process and at most ``timeout`` seconds, for the first pull of contracts.

        The first call of a fresh process must not run without the project's contracts
        just because the poller has not answered yet; a control plane that is down or
        slow costs that call ``timeout`` at most (a refused connection much less), and
        later calls nothing. Return True when the project's contracts are known.
        """
        if self.contracts_pulled.is_set():
            return True
        with self._lock:
            if self._first_wait_until is None:
                self._first_wait_until = time.monotonic() + timeout
            remaining = self._first_wait_until - time.monotonic()
        # A refused connection ends the first attempt at once: no need to wait it out.
        if remaining > 0 and self._contracts_tried.wait(remaining) and self.contracts_pulled.is_set():
            return True
        if not self._unavailable_logged:
            self._unavailable_logged = True
            log.warning(
                "llm_contracts: the project's contracts did not arrive within %.2g s (control plane "
                "down or slow); calls enforce the client's own contracts until they do",
                timeout,
            )
        return False
