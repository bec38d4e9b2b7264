"""Health aggregation: rollups match the raw events, and re-running changes nothing."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from accounts.models import Project
from telemetry import selectors as telemetry_selectors
from telemetry import services as telemetry_services
from telemetry.models import HourRollup, MinuteRollup, ValidationEvent, Watermark

from .conftest import NOW, Cast, make_event


def ingest(project: Project, events: list[dict[str, Any]]) -> None:
    result = telemetry_services.event_ingest_batch(project=project, events=events)
    assert result.rejected == 0


def varied_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        valid = rng.random() > 0.3
        out.append(
            make_event(
                timestamp=(
                    NOW - timedelta(minutes=rng.randrange(0, 150), seconds=rng.randrange(60))
                ).isoformat(),
                contract=rng.choice(["json_format", "pii", "length"]),
                contract_version=rng.choice([None, 1, 2]),
                experiment=rng.choice([None, "exp1"]),
                variant=rng.choice([None, "a", "b"]),
                is_valid=valid,
                error=rng.random() < 0.05,
                auto_fix_attempted=not valid,
                auto_fix_succeeded=not valid and rng.random() < 0.5,
                latency_ms=round(rng.lognormvariate(2, 1.5), 3),
                llm_latency_ms=rng.choice([None, 300.0]),
                prompt_tokens=rng.choice([None, 10, 200]),
                completion_tokens=rng.randrange(0, 50),
            )
        )
    return out


DIRECT_SQL = """
    SELECT contract, COALESCE(contract_version, 0), COALESCE(experiment, ''), COALESCE(variant, ''),
           COUNT(*), SUM(CASE WHEN is_valid THEN 0 ELSE 1 END), SUM(CASE WHEN error THEN 1 ELSE 0 END),
           SUM(CASE WHEN auto_fix_attempted THEN 1 ELSE 0 END),
           SUM(CASE WHEN auto_fix_succeeded THEN 1 ELSE 0 END),
           COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), SUM(latency_ms),
           COALESCE(SUM(llm_latency_ms), 0)
    FROM contracts_app_validationevent WHERE project_id = %s
    GROUP BY 1, 2, 3, 4
"""
FIELDS = (
    "count",
    "violations",
    "errors",
    "fixes_attempted",
    "fixes_succeeded",
    "prompt_tokens",
    "completion_tokens",
    "latency_sum_ms",
    "llm_latency_sum_ms",
)


def direct(project: Project) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(DIRECT_SQL, [project.pk])
        return {tuple(row[:4]): tuple(row[4:]) for row in cursor.fetchall()}


def summed(
    model: type[MinuteRollup] | type[HourRollup], project: Project
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    out: dict[tuple[Any, ...], list[Any]] = {}
    for row in model.objects.filter(project=project):
        key = (row.contract, row.contract_version, row.experiment, row.variant)
        acc = out.setdefault(key, [0] * len(FIELDS))
        for i, name in enumerate(FIELDS):
            acc[i] += getattr(row, name)
        assert sum(row.histogram) == row.count
    return {k: tuple(v) for k, v in out.items()}


def assert_agree(
    a: dict[tuple[Any, ...], tuple[Any, ...]], b: dict[tuple[Any, ...], tuple[Any, ...]]
) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][:7] == b[key][:7], key
        assert a[key][7:] == pytest.approx(b[key][7:]), key


def snapshot() -> list[tuple[Any, ...]]:
    rows = []
    for model in (MinuteRollup, HourRollup):
        for row in model.objects.order_by(
            "project_id", "bucket", "contract", "contract_version", "experiment", "variant"
        ):
            rows.append(
                (
                    model.__name__,
                    row.project_id,
                    row.bucket,
                    row.contract,
                    row.contract_version,
                    row.experiment,
                    row.variant,
                    *(getattr(row, f) for f in FIELDS),
                    *row.histogram,
                )
            )
    return rows


class TestRollups:
    def test_the_rollups_agree_with_a_direct_sql_aggregate(self, cast: Cast) -> None:
        ingest(cast.project_a, varied_events(600))
        ingest(cast.project_b, varied_events(50, seed=3))
        telemetry_services.rollups_aggregate()
        expected = direct(cast.project_a)
        assert_agree(summed(MinuteRollup, cast.project_a), expected)
        assert_agree(summed(HourRollup, cast.project_a), expected)
        assert_agree(summed(MinuteRollup, cast.project_b), direct(cast.project_b))

    def test_minute_rows_cover_one_minute_and_hour_rows_one_hour(self, cast: Cast) -> None:
        ingest(
            cast.project_a,
            [
                make_event(timestamp=NOW.isoformat()),
                make_event(timestamp=(NOW + timedelta(seconds=20)).isoformat()),
                make_event(timestamp=(NOW + timedelta(minutes=45)).isoformat()),
            ],
        )
        telemetry_services.rollups_aggregate()
        assert [
            (r.bucket.hour, r.bucket.minute, r.count) for r in MinuteRollup.objects.order_by("bucket")
        ] == [(12, 30, 2), (13, 15, 1)]
        assert [(r.bucket.hour, r.bucket.minute, r.count) for r in HourRollup.objects.order_by("bucket")] == [
            (12, 0, 2),
            (13, 0, 1),
        ]

    def test_running_the_aggregation_twice_changes_nothing(self, cast: Cast) -> None:
        ingest(cast.project_a, varied_events(300))
        telemetry_services.rollups_aggregate()
        first = snapshot()
        telemetry_services.rollups_aggregate()
        assert snapshot() == first
        # Even a pass that re-reads everything from the start rebuilds the same rows.
        Watermark.objects.filter(name="rollups").update(value=NOW - timedelta(days=10_000))
        telemetry_services.rollups_aggregate()
        assert snapshot() == first

    def test_late_events_update_their_buckets_without_double_counting(self, cast: Cast) -> None:
        ingest(cast.project_a, varied_events(200))
        telemetry_services.rollups_aggregate()
        ingest(cast.project_a, varied_events(100, seed=11))
        telemetry_services.rollups_aggregate()
        assert_agree(summed(MinuteRollup, cast.project_a), direct(cast.project_a))
        assert_agree(summed(HourRollup, cast.project_a), direct(cast.project_a))

    def test_percentiles_are_read_from_the_histogram(self, cast: Cast) -> None:
        ingest(
            cast.project_a,
            [make_event(latency_ms=3.0) for _ in range(90)]
            + [make_event(latency_ms=700.0) for _ in range(10)],
        )
        telemetry_services.rollups_aggregate()
        figures = telemetry_selectors.rollup_window(
            project_id=cast.project_a.pk, contract="json_format", since=NOW - timedelta(hours=1)
        )
        assert figures.count == 100
        assert 2 <= figures.p50_ms <= 5  # type: ignore[operator]
        assert 500 <= figures.p95_ms <= 1000  # type: ignore[operator]
        assert figures.violation_rate == 0

    def test_percentile_of_an_empty_histogram_is_none(self) -> None:
        assert telemetry_selectors.percentile([0] * 14, 0.5) is None


class TestRetention:
    def test_it_deletes_only_events_older_than_the_projects_retention(self, cast: Cast) -> None:
        from django.utils import timezone

        now = timezone.now()
        cast.project_b.retention_days = 60
        cast.project_b.save()
        old = [make_event(timestamp=(now - timedelta(days=40)).isoformat()) for _ in range(7)]
        fresh = [make_event(timestamp=(now - timedelta(days=29)).isoformat()) for _ in range(3)]
        ingest(cast.project_a, old + fresh)
        ingest(
            cast.project_b, [make_event(timestamp=(now - timedelta(days=40)).isoformat()) for _ in range(2)]
        )
        assert telemetry_services.events_expire(now=now, batch_size=2) == 7
        assert sorted(
            ValidationEvent.objects.filter(project=cast.project_a).values_list("event_id", flat=True)
        ) == sorted(e["event_id"] for e in fresh)
        assert ValidationEvent.objects.filter(project=cast.project_b).count() == 2
        assert telemetry_services.events_expire(now=now) == 0
