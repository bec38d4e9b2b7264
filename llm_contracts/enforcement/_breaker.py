"""A circuit breaker per contract around contract validation."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._dataclass import dataclass
from .._exceptions import ContractConfigError

if TYPE_CHECKING:
    from ._report import ContractReport

__all__ = ["SKIPPED_BY_BREAKER", "BreakerState", "CircuitBreaker", "all_skipped_by_breaker", "mark_skipped"]

# details["skipped"] of the verdict of a contract whose breaker is open.
SKIPPED_BY_BREAKER = "circuit breaker open"
# The key of a breaker used directly, without naming a contract.
_ANY = "*"


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class _Circuit:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probe_since: float | None = None  # when the half-open probe was let through
    skipped: int = 0
    trips: int = 0


class CircuitBreaker:
    """Skip a contract while it keeps erroring, so a broken contract cannot break the app.

    Errors are contracts that *raise*, not violations. Each contract has its own
    circuit: after ``failure_threshold`` consecutive runs of a contract that raised,
    its circuit opens and the contract is skipped (and the skip counted) while every
    other contract still runs. After ``reset_timeout`` seconds one run is let through
    to probe (half-open): a clean probe closes the circuit, an erroring or interrupted
    one opens it again for another ``reset_timeout``.

    The decision is taken when the contract is about to run, not when the call
    starts: a call that fails at the HTTP level (a 500 from the model) never holds a
    probe, so validation resumes on the next call that reaches the contract. A probe
    still out after ``reset_timeout`` (its thread died) no longer blocks the next one.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ContractConfigError(f"failure_threshold must be >= 1; got {failure_threshold}")
        if reset_timeout < 0:
            raise ContractConfigError(f"reset_timeout must be >= 0; got {reset_timeout}")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}
        # True while every circuit is closed with no error counted: then allow() is True
        # and a clean record() changes nothing, so the engine may skip both. Written
        # under the lock by every change of a circuit, read without it (a change seen
        # one run late only delays a trip by that run, as allow()'s own fast path does).
        self.quiet = True

    def _settle(self) -> None:
        """Recompute ``quiet``; call with the lock held after changing a circuit."""
        self.quiet = all(c.state is BreakerState.CLOSED and not c.failures for c in self._circuits.values())

    def _circuit(self, contract: str) -> _Circuit:
        circuit = self._circuits.get(contract)
        if circuit is None:
            circuit = self._circuits[contract] = _Circuit()
        elif circuit.state is BreakerState.OPEN and self._clock() - circuit.opened_at >= self.reset_timeout:
            circuit.state = BreakerState.HALF_OPEN
            circuit.probe_since = None
        return circuit

    def _open(self, circuit: _Circuit) -> None:
        if circuit.state is not BreakerState.OPEN:
            circuit.trips += 1
        circuit.state = BreakerState.OPEN
        circuit.opened_at = self._clock()
        circuit.probe_since = None

    # -- per contract -------------------------------------------------------------------

    def allow(self, contract: str = _ANY) -> bool:
        """Return True when ``contract`` should run now; count a skip otherwise."""
        # The common case without the lock (a streamed answer asks once per chunk): a
        # closed circuit read a moment late only delays a trip by one run.
        circuit = self._circuits.get(contract)
        if circuit is not None and circuit.state is BreakerState.CLOSED:
            return True
        with self._lock:
            circuit = self._circuit(contract)
            if circuit.state is BreakerState.CLOSED:
                return True
            if circuit.state is BreakerState.HALF_OPEN and (
                circuit.probe_since is None or self._clock() - circuit.probe_since >= self.reset_timeout
            ):
                circuit.probe_since = self._clock()
                self._settle()
                return True
            circuit.skipped += 1
            self._settle()
            return False

    def record(self, contract: str = _ANY, *, errored: bool) -> None:
        """Record the outcome of one run of ``contract``."""
        if not errored:
            circuit = self._circuits.get(contract)
            if circuit is not None and circuit.state is BreakerState.CLOSED and not circuit.failures:
                return  # nothing to change: skip the lock
        with self._lock:
            circuit = self._circuit(contract)
            if errored:
                circuit.failures += 1
                if circuit.state is BreakerState.HALF_OPEN or circuit.failures >= self.failure_threshold:
                    self._open(circuit)
            else:
                circuit.failures = 0
                circuit.state = BreakerState.CLOSED
                circuit.probe_since = None
            self._settle()

    def release(self, contract: str = _ANY) -> None:
        """Record a run of ``contract`` that ended without a verdict (cancelled): a failed probe."""
        with self._lock:
            circuit = self._circuit(contract)
            if circuit.state is BreakerState.HALF_OPEN and circuit.probe_since is not None:
                self._open(circuit)
            self._settle()

    def state_of(self, contract: str) -> BreakerState:
        """Return the state of ``contract``'s circuit."""
        with self._lock:
            return self._circuit(contract).state

    # -- all contracts ------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """Return the worst state over every contract: open if any circuit is open."""
        with self._lock:
            states = {self._circuit(name).state for name in list(self._circuits)}
        for worst in (BreakerState.OPEN, BreakerState.HALF_OPEN):
            if worst in states:
                return worst
        return BreakerState.CLOSED

    @property
    def skipped(self) -> int:
        with self._lock:
            return sum(c.skipped for c in self._circuits.values())

    @property
    def trips(self) -> int:
        with self._lock:
            return sum(c.trips for c in self._circuits.values())

    def reset(self) -> None:
        """Close every circuit and forget past errors."""
        with self._lock:
            self._circuits.clear()
            self.quiet = True

    def snapshot(self) -> dict[str, Any]:
        """Return the overall state and counters, and each contract's."""
        state = self.state
        with self._lock:
            contracts = {
                name: {
                    "state": c.state.value,
                    "consecutive_errors": c.failures,
                    "skipped": c.skipped,
                    "trips": c.trips,
                }
                for name, c in sorted(self._circuits.items())
            }
        return {
            "state": state.value,
            "consecutive_errors": max((c["consecutive_errors"] for c in contracts.values()), default=0),
            "skipped": sum(c["skipped"] for c in contracts.values()),
            "trips": sum(c["trips"] for c in contracts.values()),
            "contracts": contracts,
        }


def mark_skipped(report: ContractReport) -> None:
    """Say ``skipped`` when every contract of the call was skipped by its open circuit."""
    # The three lists in turn, not report.results (a new list): the first verdict that
    # ran usually settles it, and this runs on every call.
    attempts = report.attempts
    seen = False
    for results in (report.input_results, report.stream_results, attempts[-1].results if attempts else ()):
        for result in results:
            if result.details.get("skipped") != SKIPPED_BY_BREAKER:
                return
            seen = True
    if seen:
        report.outcome = "skipped"
        report.stop_reason = "circuit breaker open: validation skipped"


def all_skipped_by_breaker(results: Iterable[Any]) -> bool:
    """Return True when there were verdicts and the breaker skipped every one of them."""
    seen = False
    for result in results:
        if result.details.get("skipped") != SKIPPED_BY_BREAKER:
            return False
        seen = True
    return seen
