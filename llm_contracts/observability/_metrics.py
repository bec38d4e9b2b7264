"""In-process metrics per contract: calls, violations, errors, latency, auto-fix rate."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from .._dataclass import dataclass

if TYPE_CHECKING:
    from ..contracts._base import ValidationResult

__all__ = ["ContractStats", "Metrics"]

_SAMPLES = 1024


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass(slots=True)
class ContractStats:
    """Counters of one contract; latencies keep the last 1,024 samples."""

    calls: int = 0
    violations: int = 0
    errors: int = 0
    fixes_attempted: int = 0
    fixes_succeeded: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_SAMPLES))

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "calls": self.calls,
            "violations": self.violations,
            "errors": self.errors,
            "violation_rate": self.violations / self.calls if self.calls else 0.0,
            "latency_p50_ms": round(_percentile(ordered, 0.50) * 1000, 4),
            "latency_p95_ms": round(_percentile(ordered, 0.95) * 1000, 4),
            "auto_fix_attempted": self.fixes_attempted,
            "auto_fix_succeeded": self.fixes_succeeded,
            "auto_fix_success_rate": (
                self.fixes_succeeded / self.fixes_attempted if self.fixes_attempted else None
            ),
        }


class Metrics:
    """Thread-safe counters per contract plus call-level counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contracts: dict[str, ContractStats] = {}
        self.calls = 0
        self.calls_violated = 0
        self.calls_repaired = 0
        self.validation_skipped = 0
        self.internal_errors = 0

    def _stats(self, name: str) -> ContractStats:
        stats = self._contracts.get(name)
        if stats is None:
            stats = self._contracts[name] = ContractStats()
        return stats

    def record_result(self, name: str, *, valid: bool, error: bool, latency_s: float) -> None:
        with self._lock:
            stats = self._contracts.get(name) or self._stats(name)
            stats.calls += 1
            if error:
                stats.errors += 1
            elif not valid:
                stats.violations += 1
            stats.latencies.append(latency_s)

    def record_results(self, results: Iterable[tuple[str, ValidationResult]]) -> None:
        """Record ``(contract name, verdict)`` pairs at once, as ``record_result`` would one by one."""
        with self._lock:
            contracts = self._contracts
            for name, result in results:
                stats = contracts.get(name) or self._stats(name)
                stats.calls += 1
                if result.error:
                    stats.errors += 1
                elif not result.is_valid:
                    stats.violations += 1
                stats.latencies.append(result.latency_s)

    def record_fix(self, name: str, *, succeeded: bool) -> None:
        with self._lock:
            stats = self._stats(name)
            stats.fixes_attempted += 1
            if succeeded:
                stats.fixes_succeeded += 1

    def record_call(self, *, outcome: str) -> None:
        with self._lock:
            self.calls += 1
            if outcome == "violated":
                self.calls_violated += 1
            elif outcome == "repaired":
                self.calls_repaired += 1
            elif outcome == "skipped":
                self.validation_skipped += 1

    def record_internal_error(self) -> None:
        with self._lock:
            self.internal_errors += 1

    def contract(self, name: str) -> dict[str, Any]:
        """Return the summary of one contract."""
        with self._lock:
            return self._stats(name).summary()

    def health_report(self) -> dict[str, Any]:
        """Return every contract's summary and the call-level counters."""
        with self._lock:
            contracts = {name: stats.summary() for name, stats in sorted(self._contracts.items())}
            return {
                "calls": self.calls,
                "calls_violated": self.calls_violated,
                "calls_repaired": self.calls_repaired,
                "validation_skipped": self.validation_skipped,
                "internal_errors": self.internal_errors,
                "contracts": contracts,
            }
