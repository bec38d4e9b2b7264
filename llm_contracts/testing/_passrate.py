"""Pass rates of nondeterministic runs: counts, Wilson intervals, and verdicts tallied per contract."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..enforcement._report import ContractReport

__all__ = ["PassRate", "VerdictTally", "pass_rate_table", "wilson_interval"]


def wilson_interval(passed: int, runs: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Return the Wilson score interval of ``passed`` of ``runs``; None without scipy or runs."""
    if runs <= 0:
        return None
    try:
        from scipy.stats import binomtest
    except ImportError:
        return None
    ci = binomtest(passed, runs).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(slots=True)
class PassRate:
    """How many of ``runs`` passed, and the interval the true rate lies in at ``confidence``."""

    name: str
    passed: int
    runs: int
    required: float | None = None
    confidence: float = 0.95

    @property
    def rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.passed, self.runs, self.confidence)

    @property
    def ok(self) -> bool:
        return self.required is None or self.rate >= self.required

    def interval_text(self) -> str:
        interval = self.interval
        if interval is None:
            return "interval needs scipy (pip install 'llm-contracts[testing]')"
        return f"{self.confidence:.0%} confidence interval {interval[0]:.2f}-{interval[1]:.2f} (Wilson)"

    def describe(self) -> str:
        """Return e.g. ``pass rate 0.85 (17 of 20 runs) is below the required 0.90; 95% ...``."""
        head = f"pass rate {self.rate:.2f} ({self.passed} of {self.runs} runs)"
        if self.required is not None:
            head += f" is {'at or above' if self.ok else 'below'} the required {self.required:.2f}"
        return f"{head}; {self.interval_text()}"


@dataclass
class VerdictTally:
    """Count, per contract, the verdicts of every call observed: each answer's, re-asks included."""

    passed: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, report: ContractReport) -> None:
        verdicts = [*report.input_results, *report.stream_results]
        for attempt in report.attempts:
            verdicts.extend(attempt.results)
        with self._lock:
            for result in verdicts:
                if result.details.get("skipped"):  # the breaker skipped it: no verdict
                    continue
                name = result.contract_name
                self.total[name] = self.total.get(name, 0) + 1
                self.passed[name] = self.passed.get(name, 0) + (result.is_valid and not result.error)

    def merge(self, other: VerdictTally) -> None:
        with self._lock:
            for name, count in other.total.items():
                self.total[name] = self.total.get(name, 0) + count
                self.passed[name] = self.passed.get(name, 0) + other.passed.get(name, 0)

    def rates(self, confidence: float = 0.95) -> list[PassRate]:
        return [
            PassRate(name, self.passed.get(name, 0), total, confidence=confidence)
            for name, total in sorted(self.total.items())
        ]


def _interval(rate: PassRate) -> str:
    interval = rate.interval
    return "-" if interval is None else f"{interval[0]:.2f}-{interval[1]:.2f}"


def pass_rate_table(rows: Iterable[PassRate], first: str, count: str) -> list[str]:
    """Return the lines of a table of pass rates; ``first`` and ``count`` name two columns."""
    rows = list(rows)
    required = any(r.required is not None for r in rows)
    body = [
        (
            r.name,
            str(r.runs),
            str(r.passed),
            f"{r.rate:.2f}",
            _interval(r),
            *(
                ["" if r.required is None else f">= {r.required:.2f} {'ok' if r.ok else 'FAILED'}"]
                if required
                else []
            ),
        )
        for r in rows
    ]
    header = (first, count, "passed", "rate", "interval", *(["required"] if required else []))
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    right = {1, 2, 3}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [line(header), *(line(row) for row in body)]
