"""The overview read from the rollups gives the numbers a recount of the raw events gives.

The overview never reads events: its series comes from a covering index over the rollups,
its sums from whole hour rows plus the minute rows at a range's edges, its breakdown the
same way. Here events of many keys (contracts, versions, experiment arms, models,
severities, latencies, fixes) are stored in several batches, counted by several
incremental passes, and every figure of the overview, its charts and its CSV is checked
against a plain count over the events themselves.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from dashboard import charts
from dashboard.selectors import TimeRange, overview_for, time_range_parse
from telemetry import services
from telemetry.models import LATENCY_BUCKETS_MS, ValidationEvent
from tests.server.conftest import NOW, Cast, make_event

CONTRACTS = ["json_format", "pii", "tone", "length"]
MODELS = ["gpt-4o-mini", "gpt-4o", ""]
SEVERITIES = ["info", "warning", "error", "critical"]
LATENCIES = [0.2, 0.9, 3.0, 7.5, 20.0, 99.9, 100.0, 450.0, 1999.0, 12_000.0]


def _events(rng: random.Random, count: int, oldest: timedelta) -> list[dict[str, Any]]:
    events = []
    for _ in range(count):
        at = NOW - timedelta(seconds=rng.uniform(0, oldest.total_seconds()))
        violated = rng.random() < 0.3
        fixed = violated and rng.random() < 0.5
        events.append(
            make_event(
                timestamp=at.isoformat(),
                contract=rng.choice(CONTRACTS),
                contract_version=rng.choice([None, 1, 2]),
                experiment=rng.choice([None, "exp"]),
                variant=rng.choice(["control", "treatment"]),
                is_valid=not violated,
                outcome="violated" if violated else "passed",
                message="bad" if violated else "",
                auto_fix_attempted=violated,
                auto_fix_succeeded=fixed,
                latency_ms=rng.choice(LATENCIES),
                llm_latency_ms=rng.choice([None, *LATENCIES]),
                model=rng.choice(MODELS),
                severity=rng.choice(SEVERITIES),
            )
        )
    return events


def _floor(at: datetime, hourly: bool) -> datetime:
    at = at.replace(second=0, microsecond=0)
    return at.replace(minute=0) if hourly else at


def _bucket_of(latency: float | None) -> int | None:
    if latency is None:
        return None
    return next(i for i, upper in enumerate(LATENCY_BUCKETS_MS) if latency < upper)


def _top(table: dict[str, list[int]], top: int = 10) -> list[tuple[str, int, int]]:
    rows = [(name, n, v) for name, (n, v) in table.items()]
    return sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))[:top]


def recount(project: Any, time_range: TimeRange) -> dict[str, Any]:
    """Count the overview's figures straight from the events, bucket by bucket."""
    hourly = time_range.hourly
    first = _floor(time_range.start, hourly)
    buckets = time_range.buckets()
    index = {bucket: i for i, bucket in enumerate(buckets)}
    size = len(buckets)
    counts, violations = [0] * size, [0] * size
    lines: dict[str, tuple[list[int], list[int]]] = {}
    by_contract: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_model: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_severity: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    histogram, llm_histogram = [0] * len(LATENCY_BUCKETS_MS), [0] * len(LATENCY_BUCKETS_MS)
    fixes = [0, 0]
    for event in ValidationEvent.objects.filter(project=project):
        bucket = _floor(event.timestamp, hourly)
        # A range holds the buckets that start in it.
        if not first <= bucket < time_range.end:
            continue
        i = index[bucket]
        bad = 0 if event.is_valid else 1
        counts[i] += 1
        violations[i] += bad
        line = lines.setdefault(event.contract, ([0] * size, [0] * size))
        line[0][i] += 1
        line[1][i] += bad
        for table, key in (
            (by_contract, event.contract),
            (by_model, event.model),
            (by_severity, event.severity),
        ):
            table[key][0] += 1
            table[key][1] += bad
        for hist, latency in ((histogram, event.latency_ms), (llm_histogram, event.llm_latency_ms)):
            at = _bucket_of(latency)
            if at is not None:
                hist[at] += 1
        fixes[0] += event.auto_fix_attempted
        fixes[1] += event.auto_fix_succeeded
    return {
        "counts": counts,
        "violations": violations,
        "lines": lines,
        "count": sum(counts),
        "violation_total": sum(violations),
        "fixes": fixes,
        "histogram": histogram,
        "llm_histogram": llm_histogram,
        "by_contract": _top(by_contract),
        "by_model": _top(by_model),
        "by_severity": _top(by_severity),
    }


RANGES = [
    {"range": "1h"},
    {"range": "24h"},
    {"range": "7d"},
    # Edges of minutes on both sides of whole hours, and no whole hour at all.
    {"range": "custom", "start": "2025-03-03T21:17:33", "end": "2025-03-04T09:44:05"},
    {"range": "custom", "start": "2025-03-04T10:05:00", "end": "2025-03-04T10:50:00"},
    # A day's minutes ending on an hour, and hours over a span of days not aligned to them.
    {"range": "custom", "start": "2025-03-03T14:00:00", "end": "2025-03-04T12:00:00"},
    {"range": "custom", "start": "2025-02-27T03:31:10", "end": "2025-03-03T20:12:59"},
]


@pytest.fixture
def stored(cast: Cast) -> None:
    rng = random.Random(20250304)
    # Three batches, each counted by its own pass: later passes add to rows of earlier ones.
    for count, oldest in ((900, timedelta(days=7)), (700, timedelta(hours=26)), (400, timedelta(hours=2))):
        accepted = services.event_ingest_batch(
            project=cast.project_a, events=_events(rng, count, oldest), now=NOW
        )
        assert accepted.accepted == count
        services.rollups_aggregate(now=NOW)


@pytest.mark.parametrize("params", RANGES, ids=lambda p: "-".join(p.values()))
def test_the_overview_has_the_numbers_of_a_recount_of_the_events(
    cast: Cast, stored: None, params: dict[str, str]
) -> None:
    time_range = time_range_parse(params, now=NOW)
    overview = overview_for(project=cast.project_a, time_range=time_range)
    expected = recount(cast.project_a, time_range)
    assert expected["count"] > 0

    series = overview.series()
    assert series.buckets == time_range.buckets()
    assert series.counts == expected["counts"]
    assert series.violations == expected["violations"]
    assert series.by_contract == expected["lines"]
    assert (overview.count, overview.violations) == (expected["count"], expected["violation_total"])
    assert [overview.fixes_attempted, overview.fixes_succeeded] == expected["fixes"]
    assert overview.histogram == expected["histogram"]
    assert overview.llm_histogram == expected["llm_histogram"]
    assert overview.by_contract == expected["by_contract"]
    assert overview.by_model == expected["by_model"]
    assert overview.by_severity == expected["by_severity"]

    # The charts and the CSV: the same as those of an overview built from the recount's cells.
    cells: dict[datetime, dict[str, tuple[int, int]]] = {}
    for contract, (counts, violations) in expected["lines"].items():
        for i, bucket in enumerate(time_range.buckets()):
            if counts[i]:
                cells.setdefault(bucket, {})[contract] = (counts[i], violations[i])
    by_hand = type(overview)(time_range=time_range, cells=cells, by_contract=expected["by_contract"])
    by_hand.histogram, by_hand.llm_histogram = expected["histogram"], expected["llm_histogram"]
    assert charts.violation_rate_figure(overview) == charts.violation_rate_figure(by_hand)
    assert charts.validations_figure(overview) == charts.validations_figure(by_hand)
    assert charts.latency_figure(overview) == charts.latency_figure(by_hand)
    assert charts.violation_rate_rows(overview) == charts.violation_rate_rows(by_hand)
    assert charts.validations_rows(overview) == charts.validations_rows(by_hand)


def test_the_page_sends_each_charts_x_once_and_the_same_figures(
    cast: Cast, stored: None, client: Client
) -> None:
    client.force_login(cast.owner)
    response = client.get(
        f"/p/{cast.project_a.slug}/",
        {"range": "custom", "start": "2025-03-04T06:30", "end": "2025-03-04T12:30"},
    )
    assert response.status_code == 200
    figures = response.context["charts"]
    rate = figures["violation_rate"]
    # Nine lines of 360 minutes would carry the same 360 dates nine times.
    assert len(rate["x"]) == 360 and all("x" not in trace for trace in rate["data"])
    full = charts.violation_rate_figure(response.context["o"])
    assert [{**trace, "x": rate["x"]} for trace in rate["data"]] == full["data"]
