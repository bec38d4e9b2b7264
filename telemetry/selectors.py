"""Reads of telemetry: latency percentiles and the health figures summed from the rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Sum

from telemetry.models import BUCKET_FIELDS, LATENCY_BUCKETS_MS, HourRollup, MinuteRollup


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """Return the ``q`` quantile (0-1) of a latency histogram, interpolated within its bucket."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for count, upper in zip(histogram, LATENCY_BUCKETS_MS, strict=True):
        if count and seen + count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper
    return lower


@dataclass
class HealthFigures:
    count: int = 0
    violations: int = 0
    errors: int = 0
    fixes_attempted: int = 0
    fixes_succeeded: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_sum_ms: float = 0.0
    histogram: list[int] = field(default_factory=lambda: [0] * len(BUCKET_FIELDS))

    @property
    def violation_rate(self) -> float | None:
        return None if self.count == 0 else self.violations / self.count

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.histogram, 0.50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.histogram, 0.95)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.histogram, 0.99)


_FIGURES = (
    "count",
    "violations",
    "errors",
    "fixes_attempted",
    "fixes_succeeded",
    "prompt_tokens",
    "completion_tokens",
    "latency_sum_ms",
)


def rollup_window(
    *,
    project_id: int,
    contract: str | None = None,
    since: datetime,
    until: datetime | None = None,
    hourly: bool = False,
) -> HealthFigures:
    """Sum the rollups of a project (and contract) over a time range."""
    model = HourRollup if hourly else MinuteRollup
    qs = model.objects.filter(project_id=project_id, bucket__gte=since)
    if until is not None:
        qs = qs.filter(bucket__lt=until)
    if contract is not None:
        qs = qs.filter(contract=contract)
    sums = qs.aggregate(**{name: Sum(name) for name in (*_FIGURES, *BUCKET_FIELDS)})
    return HealthFigures(
        **{name: sums[name] or 0 for name in _FIGURES}, histogram=[sums[name] or 0 for name in BUCKET_FIELDS]
    )
