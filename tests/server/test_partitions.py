"""Events partitioned by day on Postgres: partitions made ahead, retention by partition, dedup across them."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from telemetry import partitions
from telemetry import services as telemetry_services
from telemetry import tasks as telemetry_tasks
from telemetry.models import MinuteRollup, ValidationEvent

from .conftest import NOW, Cast, make_event

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)


def where(event_id: str) -> str:
    """Return the partition holding an event."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {partitions.EVENTS} WHERE event_id = %s", [event_id]
        )
        return str(cursor.fetchone()[0])


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return bool(cursor.fetchone()[0])


def at(moment: datetime, **fields: Any) -> dict[str, Any]:
    return make_event(event_id=uuid.uuid4().hex, timestamp=moment.isoformat(), **fields)


class TestPartitionCreation:
    def test_the_migration_made_a_table_partitioned_by_day_with_the_accepted_days(self, db: None) -> None:
        assert partitions.events_partitioned()
        days = partitions.partitions_list()
        today = timezone.now().date()
        assert today in days and today + timedelta(days=1) in days
        assert days[today] == f"contracts_app_validationevent_p{today:%Y%m%d}"

    def test_the_beat_task_creates_the_days_ahead_once(self, db: None, settings: Any) -> None:
        later = timezone.now() + timedelta(days=20)
        settings.EVENT_MAX_AGE_S = 24 * 3600
        created = partitions.partitions_ensure(now=later)
        assert created == [
            partitions.partition_name((later + timedelta(days=d)).date()) for d in range(-1, 4)
        ]
        assert partitions.partitions_ensure(now=later) == []
        assert "contracts_app.partitions_ensure" in {
            e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()
        }
        assert telemetry_tasks.partitions_ensure.apply().get() == []

    def test_an_event_lands_in_its_days_partition(self, cast: Cast) -> None:
        now = timezone.now()
        event = at(now - timedelta(days=1))
        assert (
            telemetry_services.event_ingest_batch(project=cast.project_a, events=[event], now=now).accepted
            == 1
        )
        assert where(event["event_id"]) == partitions.partition_name((now - timedelta(days=1)).date())

    def test_a_day_created_late_takes_its_rows_from_the_default_partition(
        self, cast: Cast, settings: Any
    ) -> None:
        # The fixtures' NOW is long before any partition: its events go to the default one.
        events = [at(NOW), at(NOW + timedelta(hours=1))]
        assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).accepted == 2
        assert where(events[0]["event_id"]) == partitions.DEFAULT
        ids = set(ValidationEvent.objects.values_list("id", flat=True))

        accepted_age = settings.EVENT_MAX_AGE_S
        settings.EVENT_MAX_AGE_S = 3600
        assert partitions.partition_name(NOW.date()) in partitions.partitions_ensure(now=NOW)
        settings.EVENT_MAX_AGE_S = accepted_age
        assert {where(e["event_id"]) for e in events} == {partitions.partition_name(NOW.date())}
        # Same rows, same ids: the aggregation's queue still finds them, and dedup holds.
        assert set(ValidationEvent.objects.values_list("id", flat=True)) == ids
        assert telemetry_services.rollups_aggregate().events == 2
        assert sum(MinuteRollup.objects.values_list("count", flat=True)) == 2
        assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).duplicates == 2


class TestRetentionByPartition:
    def test_days_past_every_retention_are_dropped_and_a_shorter_one_deletes_rows(
        self, cast: Cast, settings: Any
    ) -> None:
        now = timezone.now()
        settings.EVENT_MAX_AGE_S = 45 * 24 * 3600
        partitions.partitions_ensure(now=now)
        cast.project_a.retention_days = 30
        cast.project_a.save()
        cast.project_b.retention_days = 10
        cast.project_b.save()
        old, middle, recent = (now - timedelta(days=d) for d in (40, 20, 5))
        for project in (cast.project_a, cast.project_b):
            batch = (
                [at(old) for _ in range(4)] + [at(middle) for _ in range(3)] + [at(recent) for _ in range(2)]
            )
            assert telemetry_services.event_ingest_batch(project=project, events=batch, now=now).accepted == 9
        old_partition = partitions.partition_name(old.date())
        assert exists(old_partition)

        # The test's inserts share its transaction: their deferred foreign key checks
        # must run before a table they touched can be dropped (a real pass runs later).
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Only project B's rows of the middle day are deleted row by row; the old day is
        # dropped whole.
        assert telemetry_services.events_expire(now=now, batch_size=2) == 3
        assert not exists(old_partition)
        assert exists(partitions.partition_name(middle.date()))
        remaining = {
            (p, t.date())
            for p, t in ValidationEvent.objects.values_list("project__slug", "timestamp").distinct()
        }
        slug_a, slug_b = cast.project_a.slug, cast.project_b.slug
        assert remaining == {(slug_a, middle.date()), (slug_a, recent.date()), (slug_b, recent.date())}
        assert telemetry_services.events_expire(now=now) == 0

    def test_a_day_left_detached_by_an_interrupted_pass_is_dropped_by_the_next(
        self, cast: Cast, settings: Any
    ) -> None:
        now = timezone.now()
        settings.EVENT_MAX_AGE_S = 45 * 24 * 3600
        partitions.partitions_ensure(now=now)
        old = now - timedelta(days=40)
        result = telemetry_services.event_ingest_batch(project=cast.project_a, events=[at(old)], now=now)
        assert result.accepted == 1
        name = partitions.partition_name(old.date())
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # A pass that died between taking the day out of the events table and dropping it.
            cursor.execute(f"ALTER TABLE {partitions.EVENTS} DETACH PARTITION {name}")
        assert exists(name) and old.date() not in partitions.partitions_list()
        assert name in partitions.partitions_drop_expired(now=now, longest_retention_days=30)
        assert not exists(name)

    def test_a_busy_events_table_is_waited_for_briefly_and_the_next_pass_drops_the_day(
        self, transactional_db: None, settings: Any
    ) -> None:
        import psycopg

        now = timezone.now()
        old = now - timedelta(days=40)
        name = partitions.partition_name(old.date())
        with connection.cursor() as cursor:
            partitions.partition_create(cursor, old.date())
        params = connection.get_connection_params()
        dsn = {k: params[k] for k in ("host", "port", "user", "password", "dbname") if params.get(k)}
        settings.EVENT_PARTITION_LOCK_TIMEOUT_MS = 50
        try:
            with psycopg.connect(**dsn) as reader:
                # A long read of the events table (a page's query) holds its share lock.
                reader.execute(f"SELECT count(*) FROM {partitions.EVENTS}")
                started = time.perf_counter()
                assert partitions.partitions_drop_expired(now=now, longest_retention_days=30) == []
                # Ingest queues behind a DDL statement waiting for the table: the wait stays short.
                assert time.perf_counter() - started < 2
                assert exists(name)
                reader.rollback()
            # Other tests' expired days may share this database: they go too.
            assert name in partitions.partitions_drop_expired(now=now, longest_retention_days=30)
            assert not exists(name)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")

    def test_retention_keeps_whole_days(self, cast: Cast) -> None:
        now = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
        # 30 days before 15:00 is 15:00 on May 11: all of May 11 is kept, May 10 is not.
        assert partitions.retention_cutoff(now, 30) == datetime(2026, 5, 11, tzinfo=UTC)


class TestDedupAcrossPartitions:
    def test_a_batch_spread_over_days_is_stored_once_however_late_it_is_resent(self, cast: Cast) -> None:
        now = timezone.now()
        batch = [at(now - timedelta(days=d, minutes=d)) for d in (0, 1, 2, 3)]
        assert (
            telemetry_services.event_ingest_batch(project=cast.project_a, events=batch, now=now).accepted == 4
        )
        assert len({where(e["event_id"]) for e in batch}) == 4
        # The SDK's spool replays the same events a day later, in another order.
        later = now + timedelta(days=1)
        again = telemetry_services.event_ingest_batch(project=cast.project_a, events=batch[::-1], now=later)
        assert (again.accepted, again.duplicates) == (0, 4)
        # Through the API too, mixed with a new event.
        fresh = at(now)
        result = telemetry_services.event_ingest_batch(
            project=cast.project_a, events=[batch[2], fresh], now=now
        )
        assert [r["status"] for r in result.results] == ["duplicate", "accepted"]
        assert ValidationEvent.objects.filter(project=cast.project_a).count() == 5
        # The key is per project: another project may use the same ids.
        assert (
            telemetry_services.event_ingest_batch(project=cast.project_b, events=batch, now=now).accepted == 4
        )
