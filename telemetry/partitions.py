"""Daily partitions of the events table on Postgres (SQLite keeps one plain table).

Events are range-partitioned by their ``timestamp``, one partition per UTC day, so a day
past every project's retention is removed by dropping its table, in milliseconds
whatever its row count, instead of deleting its rows one by one.

Dedup across partitions. Postgres enforces a unique index on a partitioned table only
when it holds the partition key, so the dedup key is (project_id, event_id, timestamp).
That keeps (project_id, event_id) unique for every retry: an SDK fixes an event's id and
timestamp together when it records the call, and a retry or a spool replay resends the
same event, so the copy has the same timestamp, falls in the same day's partition and
meets the first one in that partition's unique index. The limit: a client that reuses an
id for a different timestamp stores a second event (the plain table on SQLite refuses it).

Retention. A day past every project's retention is first detached from the events table
(one short transaction: the table's exclusive lock for a catalogue change, whatever the
day's row count), then its table is dropped on its own, holding no lock on the events
table. Removing the files is the only part that grows with the day's size (the kernel
frees the blocks: about 0.2 ms per MB on ext4 here) and nothing waits for it. The detach
waits at most ``EVENT_PARTITION_LOCK_TIMEOUT_MS`` for the events table, a few times, since
every insert queues behind a DDL statement that waits for a lock; a day it could not take
is tried again on the next pass, and a table left detached by a pass that died is dropped
by the next one.

Rows whose day has no partition yet go to a DEFAULT partition (the migration creates
it); ``partitions_ensure`` runs from Celery beat and creates the days ingest accepts
ahead of time, moving any rows of a day out of the default partition when it creates
that day late.
"""

from __future__ import annotations

import logging
import re
import time as clock
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

EVENTS = "contracts_app_validationevent"
DEFAULT = f"{EVENTS}_default"
PREFIX = f"{EVENTS}_p"
_NAME = re.compile(re.escape(PREFIX) + r"(\d{8})$")


def events_partitioned() -> bool:
    """Return whether the events table is partitioned (Postgres after migration 0009)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid))",
            [EVENTS],
        )
        return bool(cursor.fetchone()[0])


def partition_name(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def _bound(day: date) -> str:
    # A literal built from a date: DDL takes no parameters.
    return f"'{datetime.combine(day, time(), tzinfo=UTC).isoformat()}'"


def partitions_list(cursor: Any = None) -> dict[date, str]:
    """Return the day partitions of the events table, by day."""
    own = cursor is None
    cursor = cursor or connection.cursor()
    try:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [EVENTS],
        )
        return _by_day(name for (name,) in cursor.fetchall())
    finally:
        if own:
            cursor.close()


def partition_create(cursor: Any, day: date) -> bool:
    """Create the partition of ``day`` unless it exists; return whether it was created."""
    name = partition_name(day)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    low, high = _bound(day), _bound(day + timedelta(days=1))
    in_range = f'"timestamp" >= {low} AND "timestamp" < {high}'
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE {in_range})")
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {EVENTS} FOR VALUES FROM ({low}) TO ({high})")
        return True
    # The day's rows already sit in the default partition (it was created late): Postgres
    # refuses a partition that would leave them there, so they move first, with the
    # same ids (the aggregation's queue refers to them), then the table is attached.
    cursor.execute(f"CREATE TABLE {name} (LIKE {EVENTS} INCLUDING DEFAULTS)")
    moved = f"DELETE FROM {DEFAULT} WHERE {in_range} RETURNING *"
    cursor.execute(f"WITH moved AS ({moved}) INSERT INTO {name} SELECT * FROM moved")
    cursor.execute(f"ALTER TABLE {EVENTS} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
    return True


def partitions_ensure(*, now: datetime | None = None, cursor: Any = None) -> list[str]:
    """Create the day partitions of every timestamp ingest accepts and the next days; return the new ones."""
    now = now or datetime.now(UTC)
    if cursor is None and not events_partitioned():
        return []
    first = (now - timedelta(seconds=settings.EVENT_MAX_AGE_S)).date()
    last = (now + timedelta(days=settings.EVENT_PARTITION_AHEAD_DAYS)).date()
    created = []
    day = first
    while day <= last:
        if cursor is not None:
            made = partition_create(cursor, day)
        else:
            with transaction.atomic(), connection.cursor() as own:
                made = partition_create(own, day)
        if made:
            created.append(partition_name(day))
        day += timedelta(days=1)
    return created


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Return the start of the oldest UTC day whose events a retention of ``days`` keeps.

    Retention works by whole days: an event is removed once its whole day is past the
    retention, so it is kept at least ``days`` days and at most one day more.
    """
    return datetime.combine((now - timedelta(days=days)).date(), time(), tzinfo=UTC)


def partitions_detached(cursor: Any) -> dict[date, str]:
    """Return the tables of days detached from the events table and not yet dropped, by day."""
    cursor.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND NOT c.relispartition "
        "AND starts_with(c.relname, %s) AND pg_table_is_visible(c.oid)",
        [PREFIX],
    )
    return _by_day(name for (name,) in cursor.fetchall())


def _by_day(names: Iterable[str]) -> dict[date, str]:
    """Return the day partitions' table names among ``names``, by day."""
    out = {}
    for name in names:
        match = _NAME.match(name)
        if match:
            out[datetime.strptime(match.group(1), "%Y%m%d").date()] = name
    return out


# Tries of one detach per pass; between two, a pause as long as the lock timeout.
_DETACH_TRIES = 5


def _lock_refused(exc: BaseException) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"  # lock_not_available


def _detach(name: str) -> bool:
    """Detach one day from the events table; False when its lock could not be had in time."""
    timeout_ms = max(int(settings.EVENT_PARTITION_LOCK_TIMEOUT_MS), 1)
    for attempt in range(_DETACH_TRIES):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{timeout_ms}ms'")
                cursor.execute(f"ALTER TABLE {EVENTS} DETACH PARTITION {name}")
        except OperationalError as exc:
            if not _lock_refused(exc):
                raise
            if attempt + 1 < _DETACH_TRIES:
                clock.sleep(timeout_ms / 1000)
        else:
            return True
    logger.warning("the events table stayed busy: %s is detached on a later pass", name)
    return False


def partitions_drop_expired(*, now: datetime, longest_retention_days: int) -> list[str]:
    """Remove the day partitions past the longest retention of any project; return their names."""
    if not events_partitioned():
        return []
    cutoff = retention_cutoff(now, longest_retention_days).date()
    for day, name in sorted(partitions_list().items()):
        if day >= cutoff:
            break
        try:
            _detach(name)
        except Exception:
            logger.exception("detaching the expired partition %s failed", name)
    dropped = []
    with connection.cursor() as cursor:
        detached = partitions_detached(cursor)
    # Only days past the retention: a table someone detached by hand to keep is left alone.
    for day, name in sorted(detached.items()):
        if day >= cutoff:
            continue
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {name}")
        except Exception:
            logger.exception("dropping the expired partition %s failed", name)
        else:
            dropped.append(name)
    return dropped
