"""Reads of the control plane: specs for the SDK, breakpoints, health figures from the rollups."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Sum

from contracts_app.models import (
    BUCKET_FIELDS,
    LATENCY_BUCKETS_MS,
    Breakpoint,
    Contract,
    HourRollup,
    MinuteRollup,
    Project,
)


def etag_of(data: Any) -> str:
    """Return a strong ETag for JSON-serialisable data."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def contracts_active_specs(*, project: Project) -> list[dict[str, Any]]:
    """Return the latest version of each active contract of the project, as the SDK pulls them."""
    out = []
    for contract in Contract.objects.filter(project=project, active=True).order_by("name"):
        latest = contract.versions.order_by("-version").first()
        if latest is not None:
            out.append(
                {
                    "name": contract.name,
                    "version": latest.version,
                    "spec": latest.spec,
                    "source": latest.source,
                }
            )
    return out


def breakpoints_active(*, project: Project) -> list[Breakpoint]:
    """Return the project's active breakpoints that still have hits left."""
    return [
        bp
        for bp in Breakpoint.objects.filter(project=project, active=True).order_by("id")
        if bp.remaining is None or bp.remaining > 0
    ]


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


def database_ok() -> bool:
    """Return whether the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means "not healthy"; the health answer says so
        return False
    return True
