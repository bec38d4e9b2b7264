"""Hour partitions above a volume, mixed with day ones: creation, retention, dedup, aggregation, pages."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from contracts_app import services as contract_services
from contracts_app.models import Trace
from contracts_app.schemas import TraceIn
from telemetry import partitions
from telemetry import services as telemetry_services
from telemetry.models import ValidationEvent

from .conftest import Cast, make_event
from .test_incremental_rollups import assert_equal_to_recount

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)

EVENTS, TRACES = partitions.EVENT_TABLE, partitions.TRACE_TABLE


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def at(moment: datetime, **fields: Any) -> dict[str, Any]:
    return make_event(event_id=uuid.uuid4().hex, timestamp=moment.isoformat(), **fields)


def where(event_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {EVENTS.name} WHERE event_id = %s", [event_id])
        return str(cursor.fetchone()[0])


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return bool(cursor.fetchone()[0])


def hours_of(day: date, table: partitions.Table = EVENTS) -> list[str]:
    return [partitions.hour_partition_name(midnight(day) + timedelta(hours=h), table) for h in range(24)]


def analyse(table: partitions.Table) -> None:
    # What autovacuum's analyse does on a busy table: the estimate the beat task reads.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table.name}")


def hour_days(*days: date) -> None:
    """Make ``days`` of hour partitions."""
    with connection.cursor() as cursor:
        for day in days:
            partitions.hour_partitions_create(cursor, day)


class TestCreation:
    def test_above_the_volume_the_beat_task_makes_the_new_days_of_hours(
        self, cast: Cast, settings: Any
    ) -> None:
        later = timezone.now() + timedelta(days=30)
        settings.EVENT_MAX_AGE_S = 2 * 24 * 3600
        assert partitions.partitions_ensure(now=later)  # days, as before
        busy = later - timedelta(days=1)
        batch = [at(busy) for _ in range(20)]
        accepted = telemetry_services.event_ingest_batch(project=cast.project_a, events=batch, now=later)
        assert accepted.accepted == 20
        analyse(EVENTS)

        # Below the setting, or with it off, new days stay days.
        settings.EVENT_PARTITION_HOURLY_ABOVE = 1000
        assert partitions.partitions_ensure(now=later + timedelta(days=1)) == [
            partitions.partition_name((later + timedelta(days=4)).date())
        ]
        settings.EVENT_PARTITION_HOURLY_ABOVE = 10
        settings.EVENT_MAX_AGE_S = 6 * 24 * 3600
        created = partitions.partitions_ensure(now=later + timedelta(days=3))
        # Days already made stay as they are; the coming ones are 24 hours each, and a past
        # day still missing (it takes late events only) is one day.
        new_days = [(later + timedelta(days=d)).date() for d in (5, 6)]
        past = partitions.partition_name((later - timedelta(days=3)).date())
        assert created == [past] + [name for day in new_days for name in hours_of(day)]
        assert partitions.partitions_ensure(now=later + timedelta(days=3)) == []
        parts = partitions.partitions_parts()
        assert {p.start.date() for p in parts if p.hourly} >= set(new_days)
        assert (later + timedelta(days=4)).date() in partitions.partitions_list()
        # An event goes to its hour.
        moment = midnight(new_days[0]) + timedelta(hours=10, minutes=30)
        event = at(moment)
        result = telemetry_services.event_ingest_batch(
            project=cast.project_a, events=[event], now=moment + timedelta(minutes=1)
        )
        assert result.accepted == 1
        assert where(event["event_id"]) == partitions.hour_partition_name(moment.replace(minute=0))

    def test_a_day_of_hours_created_late_takes_its_rows_from_the_default(self, cast: Cast) -> None:
        day = (timezone.now() - timedelta(days=50)).date()
        events = [at(midnight(day) + timedelta(hours=h, minutes=5)) for h in (0, 13, 23)]
        assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).accepted == 3
        assert {where(e["event_id"]) for e in events} == {EVENTS.default}
        with connection.cursor() as cursor:
            assert partitions.hour_partitions_create(cursor, day) == hours_of(day)
        assert [where(e["event_id"]) for e in events] == [hours_of(day)[h] for h in (0, 13, 23)]

    def test_traces_take_hours_above_their_own_setting(self, cast: Cast, settings: Any) -> None:
        later = timezone.now() + timedelta(days=30)
        settings.EVENT_MAX_AGE_S = 2 * 24 * 3600
        partitions.partitions_ensure(now=later, table=TRACES)
        with connection.cursor() as cursor:
            for n in range(5):
                cursor.execute(
                    f"INSERT INTO {TRACES.name} (project_id, trace_id, call_id, created_at, received_at, "
                    "outcome, model, steps) VALUES (%s, %s, '', %s, %s, '', '', '[]')",
                    [cast.project_a.pk, f"t{n}", later - timedelta(days=1), later],
                )
        analyse(TRACES)
        settings.TRACE_PARTITION_HOURLY_ABOVE = 3
        day = (later + timedelta(days=4)).date()
        assert partitions.partitions_ensure(now=later + timedelta(days=1), table=TRACES) == hours_of(
            day, TRACES
        )


class TestRetention:
    def test_expired_hours_are_dropped_whole_and_kept_hours_keep_their_rows(
        self, cast: Cast, settings: Any
    ) -> None:
        now = timezone.now()
        today = now.date()
        old, middle, recent = (today - timedelta(days=d) for d in (40, 20, 5))
        hour_days(old, middle)
        settings.EVENT_MAX_AGE_S = 45 * 24 * 3600
        partitions.partitions_ensure(now=now)  # the other days, as day partitions
        assert recent in partitions.partitions_list() and old not in partitions.partitions_list()
        cast.project_a.retention_days = 30
        cast.project_a.save()
        cast.project_b.retention_days = 10
        cast.project_b.save()
        for project in (cast.project_a, cast.project_b):
            batch = [
                at(midnight(day) + timedelta(hours=h, minutes=1))
                for day in (old, middle, recent)
                for h in (0, 12, 23)
            ]
            assert telemetry_services.event_ingest_batch(project=project, events=batch, now=now).accepted == 9
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Project B's middle day goes row by row (3 rows, in hour partitions); the old
        # day's 24 hours go whole.
        assert telemetry_services.events_expire(now=now, batch_size=2) == 3
        assert not any(exists(name) for name in hours_of(old))
        assert all(exists(name) for name in hours_of(middle))
        remaining = {
            (p, t.date()) for p, t in ValidationEvent.objects.values_list("project__slug", "timestamp")
        }
        a, b = cast.project_a.slug, cast.project_b.slug
        assert remaining == {(a, middle), (a, recent), (b, recent)}
        assert telemetry_services.events_expire(now=now) == 0

    def test_hours_left_detached_by_an_interrupted_pass_are_dropped_by_the_next(self, cast: Cast) -> None:
        now = timezone.now()
        old = (now - timedelta(days=40)).date()
        hour_days(old)
        name = hours_of(old)[7]
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {EVENTS.name} DETACH PARTITION {name}")
        dropped = partitions.partitions_drop_expired(now=now, longest_retention_days=30)
        assert set(hours_of(old)) <= set(dropped)
        assert not exists(name)


class TestDedup:
    def test_a_batch_across_hour_and_day_boundaries_is_stored_once(self, cast: Cast) -> None:
        now = timezone.now()
        day = (now - timedelta(days=12)).date()
        with connection.cursor() as cursor:
            partitions.partition_create(cursor, day)  # a day partition
            partitions.hour_partitions_create(cursor, day + timedelta(days=1))  # then a day of hours
        boundary = midnight(day + timedelta(days=1))
        moments = [
            boundary - timedelta(microseconds=1),  # the day partition's last instant
            boundary,  # the first hour's first
            boundary + timedelta(hours=1) - timedelta(microseconds=1),
            boundary + timedelta(hours=1),
        ]
        batch = [at(m) for m in moments]
        assert (
            telemetry_services.event_ingest_batch(project=cast.project_a, events=batch, now=now).accepted == 4
        )
        assert [where(e["event_id"]) for e in batch] == [
            partitions.partition_name(day),
            *hours_of(day + timedelta(days=1))[0:1],
            *hours_of(day + timedelta(days=1))[0:1],
            *hours_of(day + timedelta(days=1))[1:2],
        ]
        # A retry, a day later, in another order, mixed with a new event.
        fresh = at(boundary + timedelta(minutes=30))
        again = telemetry_services.event_ingest_batch(
            project=cast.project_a, events=[*batch[::-1], fresh], now=now + timedelta(days=1)
        )
        assert [r["status"] for r in again.results] == ["duplicate"] * 4 + ["accepted"]
        assert ValidationEvent.objects.filter(project=cast.project_a).count() == 5

    def test_a_trace_id_is_stored_once_across_hours(self, cast: Cast) -> None:
        now = timezone.now()
        day = (now - timedelta(days=2)).date()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(day, TRACES)}")
            partitions.hour_partitions_create(cursor, day, TRACES)
        created = []
        for hour in (3, 4, 22):
            trace = TraceIn.model_validate(
                {
                    "trace_id": "same",
                    "created_at": (midnight(day) + timedelta(hours=hour)).isoformat(),
                    "steps": [],
                }
            )
            created.append(contract_services.trace_store(project=cast.project_a, trace=trace)[1])
        assert created == [True, False, False]
        assert Trace.objects.filter(trace_id="same").count() == 1
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT tableoid::regclass::text FROM {TRACES.name} WHERE trace_id = 'same'")
            assert cursor.fetchone()[0] == hours_of(day, TRACES)[3]


class TestAggregationAndPages:
    def test_rollups_over_mixed_partitions_equal_a_recount_and_the_pages_answer(
        self, cast: Cast, client: Client
    ) -> None:
        now = timezone.now()
        hour_day, day_day = ((now - timedelta(days=d)).date() for d in (3, 4))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(hour_day)}")
            partitions.hour_partitions_create(cursor, hour_day)
        assert day_day in partitions.partitions_list() and hour_day not in partitions.partitions_list()
        # Events around the day/hour boundary and across hours, some in late passes.
        start = midnight(hour_day) - timedelta(hours=2)
        events = [
            at(start + timedelta(minutes=17 * n), is_valid=n % 3 != 0, latency_ms=float(n % 50))
            for n in range(60)
        ]
        for chunk in (events[40:], events[:20], events[20:40]):
            telemetry_services.event_ingest_batch(project=cast.project_a, events=chunk, now=now)
            telemetry_services.rollups_aggregate(now=now)
        homes = {where(e["event_id"]) for e in events}
        assert partitions.partition_name(day_day) in homes and len(homes) > 10
        assert_equal_to_recount(cast.project_a)
        client.force_login(cast.owner)
        slug = cast.project_a.slug
        some = ValidationEvent.objects.filter(project=cast.project_a, is_valid=False).order_by("-timestamp")[
            0
        ]
        for url in (
            f"/p/{slug}/",
            f"/p/{slug}/?range=7d",
            f"/p/{slug}/violations/?range=7d",
            f"/p/{slug}/events/{some.pk}/",
        ):
            assert client.get(url).status_code == 200, url
