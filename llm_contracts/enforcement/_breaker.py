"""A circuit breaker around contract validation."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable

from .._exceptions import ContractConfigError

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Skip validation while contracts keep erroring, so a broken contract cannot break the app.

    Errors are contracts that *raise*, not violations. After ``failure_threshold``
    consecutive calls with an error the breaker opens: validation is skipped (and the
    skip counted) and calls go straight to the model. After ``reset_timeout`` seconds
    one call is let through to probe (half-open); a clean probe closes the breaker, an
    erroring one opens it again.
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
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.skipped = 0
        self.trips = 0

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = BreakerState.HALF_OPEN
            self._probing = False

    def allow(self) -> bool:
        """Return True when validation should run for this call; count a skip otherwise."""
        with self._lock:
            self._maybe_half_open()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            self.skipped += 1
            return False

    def record(self, *, errored: bool) -> None:
        """Record the outcome of one validated call."""
        with self._lock:
            if errored:
                self._failures += 1
                if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                    if self._state is not BreakerState.OPEN:
                        self.trips += 1
                    self._state = BreakerState.OPEN
                    self._opened_at = self._clock()
                    self._probing = False
            else:
                self._failures = 0
                self._state = BreakerState.CLOSED
                self._probing = False

    def reset(self) -> None:
        """Close the breaker and forget past errors."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._probing = False

    def snapshot(self) -> dict[str, object]:
        """Return the breaker's state and counters."""
        state = self.state
        return {"state": state.value, "consecutive_errors": self._failures,
                "skipped": self.skipped, "trips": self.trips}
