"""Time partitions of the events and traces tables on Postgres (SQLite keeps plain tables).

Both tables are range-partitioned by their time column (events by ``timestamp``, traces by
``created_at``), one partition per UTC day, or per UTC hour for a table busier than its
``*_PARTITION_HOURLY_ABOVE`` setting, so a day past every project's retention is removed by
dropping its tables, in milliseconds whatever its row count, instead of deleting its rows
one by one. Day and hour partitions mix freely: each covers a half-open time range and
none overlap, so the queries, the dedup keys and the aggregation (which reads an event by
its id and timestamp, so Postgres looks in the one partition that holds it) do not care
which kind holds a row.

Dedup across partitions. Postgres enforces a unique index on a partitioned table only
when it holds the partition key.

- Events: the dedup key is (project_id, event_id, timestamp). That keeps (project_id,
  event_id) unique for every retry: an SDK fixes an event's id and timestamp together
  when it records the call, and a retry or a spool replay resends the same event, so the
  copy has the same timestamp, falls in the same partition (day or hour) and meets the
  first one in that partition's unique index. The limit: a client that reuses an id for a
  different timestamp stores a second event (the plain table on SQLite refuses it).
- Traces: the database key is (project_id, trace_id, created_at), and the one writer,
  ``contracts_app.services.trace_store``, makes (project_id, trace_id) unique across
  partitions: it takes a transaction advisory lock on the pair, then looks the id up in
  every partition (that key's index, a probe per partition) before inserting, so a
  second upload of a trace id waits for the first to commit and then finds it, whatever
  its ``created_at``. The limit: a row written around ``trace_store`` (raw SQL) is held to
  the database key only.

Retention. An expired partition is first detached from its table (one short
transaction: the table's exclusive lock for a catalogue change, whatever the partition's
row count), then dropped on its own, holding no lock on the parent table. Removing the
files is the only part that grows with the size (the kernel frees the blocks: about
0.2 ms per MB on ext4 here) and nothing waits for it. The detach waits at most
``EVENT_PARTITION_LOCK_TIMEOUT_MS`` for the table (events and traces alike), a few times,
since every insert queues behind a DDL statement that waits for a lock; a partition it
could not take is tried again on the next pass, and a table left detached by a pass that
died is dropped by the next one.

Rows whose time has no partition yet go to a DEFAULT partition (the migrations create
it); ``partitions_ensure_all`` runs from Celery beat and creates the partitions of every
time ingest accepts ahead of time, moving any rows of a range out of the default partition
when it creates that range late.

Hour partitions. When a day is created, the busiest of the last ``_VOLUME_DAYS`` complete
days is estimated from Postgres's statistics (``reltuples``, kept by autovacuum's
analyse); above the table's setting, the new day is made of 24 hour partitions. The
choice is made once per day, when the day is first created (``EVENT_PARTITION_AHEAD_DAYS``
ahead), so a change of volume shows in the days created after it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time as clock
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
# Complete days whose volume decides whether a new day is split into hours.
_VOLUME_DAYS = 7


@dataclass(frozen=True)
class Table:
    """A table range-partitioned by a time column: its name, its column and its hourly setting."""

    name: str
    column: str
    # The setting naming the rows a day above which new days are made of hour partitions.
    hourly_setting: str

    @property
    def default(self) -> str:
        return f"{self.name}_default"

    @property
    def prefix(self) -> str:
        return f"{self.name}_p"

    def hourly_above(self) -> int:
        return int(getattr(settings, self.hourly_setting, 0) or 0)


EVENT_TABLE = Table("contracts_app_validationevent", "timestamp", "EVENT_PARTITION_HOURLY_ABOVE")
TRACE_TABLE = Table("contracts_app_trace", "created_at", "TRACE_PARTITION_HOURLY_ABOVE")
TABLES = (EVENT_TABLE, TRACE_TABLE)

EVENTS = EVENT_TABLE.name
DEFAULT = EVENT_TABLE.default
PREFIX = EVENT_TABLE.prefix
# A day partition ends in its date, an hour partition in its date and hour.
_SUFFIX = re.compile(r"_p(\d{8})(\d{2})?$")


@dataclass(frozen=True, order=True)
class Part:
    """One partition: the half-open time range [start, end) it holds, and its table name."""

    start: datetime
    end: datetime
    name: str

    @property
    def hourly(self) -> bool:
        return self.end - self.start == _HOUR


def is_partitioned(table: Table) -> bool:
    """Return whether ``table`` is partitioned (Postgres after its migration)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid))",
            [table.name],
        )
        return bool(cursor.fetchone()[0])


def events_partitioned() -> bool:
    """Return whether the events table is partitioned (Postgres after migration 0009)."""
    return is_partitioned(EVENT_TABLE)


def partition_name(day: date, table: Table = EVENT_TABLE) -> str:
    """Return the name of the day partition of ``day``."""
    return f"{table.prefix}{day:%Y%m%d}"


def hour_partition_name(hour: datetime, table: Table = EVENT_TABLE) -> str:
    """Return the name of the hour partition starting at ``hour`` (UTC)."""
    return f"{table.prefix}{hour.astimezone(UTC):%Y%m%d%H}"


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _literal(moment: datetime) -> str:
    # A literal built from a datetime: DDL takes no parameters.
    return f"'{moment.astimezone(UTC).isoformat()}'"


def _parse(name: str, table: Table) -> Part | None:
    """Return the partition a table name stands for, or None when it names none of ``table``'s."""
    if not name.startswith(table.prefix):
        return None
    match = _SUFFIX.search(name)
    if match is None or name[: match.start()] + "_p" != table.prefix:
        return None
    start = _start(datetime.strptime(match.group(1), "%Y%m%d").date())
    if match.group(2) is None:
        return Part(start, start + _DAY, name)
    hour = int(match.group(2))
    if hour > 23:
        return None
    start += timedelta(hours=hour)
    return Part(start, start + _HOUR, name)


def _parts(names: Iterable[str], table: Table) -> list[Part]:
    return sorted(part for part in (_parse(name, table) for name in names) if part is not None)


def partitions_parts(table: Table = EVENT_TABLE, cursor: Any = None) -> list[Part]:
    """Return the day and hour partitions attached to ``table``, oldest first."""
    own = cursor is None
    cursor = cursor or connection.cursor()
    try:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [table.name],
        )
        return _parts((name for (name,) in cursor.fetchall()), table)
    finally:
        if own:
            cursor.close()


def partitions_list(cursor: Any = None, table: Table = EVENT_TABLE) -> dict[date, str]:
    """Return the day partitions of ``table`` (hour partitions left out), by day."""
    return {p.start.date(): p.name for p in partitions_parts(table, cursor) if not p.hourly}


def _create(cursor: Any, table: Table, start: datetime, end: datetime, name: str) -> bool:
    """Create the partition [start, end) of ``table`` named ``name`` unless it exists."""
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    low, high = _literal(start), _literal(end)
    in_range = f'"{table.column}" >= {low} AND "{table.column}" < {high}'
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table.default} WHERE {in_range})")
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {table.name} FOR VALUES FROM ({low}) TO ({high})")
        return True
    # The range's rows already sit in the default partition (it was created late): Postgres
    # refuses a partition that would leave them there, so they move first, with the
    # same ids (the aggregation's queue refers to them), then the table is attached.
    cursor.execute(f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS)")
    moved = f"DELETE FROM {table.default} WHERE {in_range} RETURNING *"
    cursor.execute(f"WITH moved AS ({moved}) INSERT INTO {name} SELECT * FROM moved")
    cursor.execute(f"ALTER TABLE {table.name} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
    return True


def partition_create(cursor: Any, day: date, table: Table = EVENT_TABLE) -> bool:
    """Create the day partition of ``day`` unless it exists; return whether it was created."""
    start = _start(day)
    return _create(cursor, table, start, start + _DAY, partition_name(day, table))


def hour_partitions_create(cursor: Any, day: date, table: Table = EVENT_TABLE) -> list[str]:
    """Create the 24 hour partitions of ``day`` that do not exist; return those created."""
    created = []
    for hour in range(24):
        start = _start(day) + timedelta(hours=hour)
        name = hour_partition_name(start, table)
        if _create(cursor, table, start, start + _HOUR, name):
            created.append(name)
    return created


def day_volumes(cursor: Any, table: Table = EVENT_TABLE) -> dict[date, float]:
    """Return the estimated rows of each day of ``table`` (its partitions' ``reltuples``)."""
    cursor.execute(
        "SELECT c.relname, greatest(c.reltuples, 0) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = %s",
        [table.name],
    )
    out: dict[date, float] = {}
    for name, rows in cursor.fetchall():
        part = _parse(name, table)
        if part is not None:
            out[part.start.date()] = out.get(part.start.date(), 0.0) + float(rows)
    return out


def _hourly(cursor: Any, table: Table, today: date) -> bool:
    """Return whether a new day of ``table`` should be made of hour partitions."""
    above = table.hourly_above()
    if above <= 0:
        return False
    volumes = day_volumes(cursor, table)
    recent = [volumes.get(today - timedelta(days=n), 0.0) for n in range(1, _VOLUME_DAYS + 1)]
    return max(recent) > above


def _ensure_day(cursor: Any, table: Table, day: date, covered: set[date], hourly: bool) -> list[str]:
    if day in covered:
        return []
    if hourly:
        return hour_partitions_create(cursor, day, table)
    return [partition_name(day, table)] if partition_create(cursor, day, table) else []


def partitions_ensure(
    *, now: datetime | None = None, cursor: Any = None, table: Table = EVENT_TABLE
) -> list[str]:
    """Create the partitions of every time ingest accepts and the next days; return the new ones.

    A day already held by a day partition, or by any of its hour partitions, is left as it
    is (the missing hours of a day made of hours are created); a new day is a day
    partition, or, from today on, 24 hour partitions when ``table`` is busier than its
    hourly setting.
    """
    now = now or datetime.now(UTC)
    if cursor is None and not is_partitioned(table):
        return []
    first = (now - timedelta(seconds=settings.EVENT_MAX_AGE_S)).date()
    last = (now + timedelta(days=settings.EVENT_PARTITION_AHEAD_DAYS)).date()
    created: list[str] = []

    def one_day(cur: Any, day: date, hour_days: set[date], days: set[date], hourly: bool) -> None:
        # A day made of hours stays hours (its missing hours are made), a day stays a day.
        if day in hour_days:
            created.extend(hour_partitions_create(cur, day, table))
        else:
            # Hours for the coming days only: a past day still missing takes late rows only.
            created.extend(_ensure_day(cur, table, day, days, hourly and day >= now.date()))

    def plan(cur: Any) -> tuple[set[date], set[date], bool]:
        parts = partitions_parts(table, cur)
        days = {p.start.date() for p in parts if not p.hourly}
        hour_days = {p.start.date() for p in parts if p.hourly}
        return hour_days, days, _hourly(cur, table, now.date())

    day = first
    if cursor is not None:
        hour_days, days, hourly = plan(cursor)
        while day <= last:
            one_day(cursor, day, hour_days, days, hourly)
            day += _DAY
        return created
    with connection.cursor() as own:
        hour_days, days, hourly = plan(own)
    # One transaction a day: creating a partition locks the parent table briefly.
    while day <= last:
        with transaction.atomic(), connection.cursor() as own:
            one_day(own, day, hour_days, days, hourly)
        day += _DAY
    return created


def partitions_ensure_all(*, now: datetime | None = None) -> list[str]:
    """Create ahead the partitions of the events and the traces tables; return the new ones."""
    created = []
    for table in TABLES:
        created.extend(partitions_ensure(now=now, table=table))
    return created


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Return the start of the oldest UTC day whose rows a retention of ``days`` keeps.

    Retention works by whole days: a row is removed once its whole day is past the
    retention, so it is kept at least ``days`` days and at most one day more.
    """
    return datetime.combine((now - timedelta(days=days)).date(), time(), tzinfo=UTC)


def partitions_detached(cursor: Any, table: Table = EVENT_TABLE) -> dict[date, str]:
    """Return the day tables detached from ``table`` and not yet dropped, by day."""
    return {p.start.date(): p.name for p in _detached_parts(cursor, table) if not p.hourly}


def _detached_parts(cursor: Any, table: Table) -> list[Part]:
    cursor.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND NOT c.relispartition "
        "AND starts_with(c.relname, %s) AND pg_table_is_visible(c.oid)",
        [table.prefix],
    )
    return _parts((name for (name,) in cursor.fetchall()), table)


# Tries of one detach per pass; between two, a pause as long as the lock timeout.
_DETACH_TRIES = 5


def _lock_refused(exc: BaseException) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"  # lock_not_available


def _table_of(name: str) -> Table:
    for table in TABLES:
        if _parse(name, table) is not None:
            return table
    raise ValueError(f"{name} is no partition of a partitioned table")


def _detach(name: str) -> bool:
    """Detach one partition from its table; False when the table's lock could not be had in time."""
    table = _table_of(name)
    timeout_ms = max(int(settings.EVENT_PARTITION_LOCK_TIMEOUT_MS), 1)
    for attempt in range(_DETACH_TRIES):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{timeout_ms}ms'")
                cursor.execute(f"ALTER TABLE {table.name} DETACH PARTITION {name}")
        except OperationalError as exc:
            if not _lock_refused(exc):
                raise
            if attempt + 1 < _DETACH_TRIES:
                clock.sleep(timeout_ms / 1000)
        else:
            return True
    logger.warning("the table %s stayed busy: %s is detached on a later pass", table.name, name)
    return False


def partitions_drop_expired(
    *, now: datetime, longest_retention_days: int, table: Table = EVENT_TABLE
) -> list[str]:
    """Remove the partitions of ``table`` past the longest retention of any project; return their names."""
    if not is_partitioned(table):
        return []
    cutoff = retention_cutoff(now, longest_retention_days)
    for part in partitions_parts(table):
        if part.end > cutoff:
            break
        try:
            _detach(part.name)
        except Exception:
            logger.exception("detaching the expired partition %s failed", part.name)
    dropped = []
    with connection.cursor() as cursor:
        detached = _detached_parts(cursor, table)
    # Only ranges past the retention: a table someone detached by hand to keep is left alone.
    for part in detached:
        if part.end > cutoff:
            continue
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {part.name}")
        except Exception:
            logger.exception("dropping the expired partition %s failed", part.name)
        else:
            dropped.append(part.name)
    return dropped


# -- indexes built without holding ingest ---------------------------------------------------

# How long an online index build keeps asking for a table's lock, in all, before giving up.
_INDEX_LOCK_PATIENCE_S = 600.0


def _short_lock(cursor: Any, sql: str) -> None:
    """Run one catalogue change that needs a table's lock, never queueing ingest for long.

    Every insert queues behind a DDL statement waiting for a lock, so the statement waits
    at most ``EVENT_PARTITION_LOCK_TIMEOUT_MS`` at a time, pausing as long between tries,
    for up to ``_INDEX_LOCK_PATIENCE_S`` in all. Runs in autocommit (outside any transaction).
    """
    timeout_ms = max(int(settings.EVENT_PARTITION_LOCK_TIMEOUT_MS), 1)
    deadline = clock.monotonic() + _INDEX_LOCK_PATIENCE_S
    cursor.execute(f"SET lock_timeout = '{timeout_ms}ms'")
    try:
        while True:
            try:
                cursor.execute(sql)
                return
            except OperationalError as exc:
                if not _lock_refused(exc) or clock.monotonic() >= deadline:
                    raise
            clock.sleep(timeout_ms / 1000)
    finally:
        cursor.execute("RESET lock_timeout")


def _index_state(cursor: Any, name: str) -> bool | None:
    """Return whether index ``name`` is valid; None when there is none."""
    cursor.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
        [name],
    )
    row = cursor.fetchone()
    return None if row is None else bool(row[0])


def _partition_index_name(index: str, partition: str) -> str:
    """Return the name of ``index``'s copy on ``partition`` (Postgres names hold 63 bytes)."""
    digest = hashlib.sha256(partition.encode()).hexdigest()[:12]
    return f"{index[:40]}_{digest}"


def index_create_online(index: str, table: Table, definition: str) -> None:
    """Create ``index`` on the partitioned ``table`` while ingest goes on; a no-op when it is there.

    ``definition`` follows ``ON <table>``: the method, the columns and any ``WHERE``. A plain
    ``CREATE INDEX`` on the table holds every insert until all partitions are indexed
    (seconds per million rows). Instead, as Postgres documents for partitioned tables: the
    index is declared on the table alone (a catalogue change under a short lock, see
    :func:`_short_lock`), each partition's copy is built ``CONCURRENTLY`` (inserts go on)
    and attached (again a short lock); once every partition's copy is attached Postgres
    marks the table's index valid. A partition created meanwhile gets its copy from the
    declared index. A build that died half way is finished by running this again: an
    invalid copy it left is dropped and built again. Must run outside a transaction.
    """
    with connection.cursor() as cursor:
        if _index_state(cursor, index):
            return
        _short_lock(cursor, f"CREATE INDEX IF NOT EXISTS {index} ON ONLY {table.name} {definition}")
        cursor.execute(
            "SELECT c.relname, (SELECT EXISTS (SELECT 1 FROM pg_inherits ii JOIN pg_index x "
            "ON x.indexrelid = ii.inhrelid JOIN pg_class pi ON pi.oid = ii.inhparent "
            "WHERE x.indrelid = c.oid AND pi.relname = %s)) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY c.relname",
            [index, table.name],
        )
        for partition, attached in cursor.fetchall():
            if attached:
                continue
            copy = _partition_index_name(index, partition)
            if _index_state(cursor, copy) is False:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {copy}")
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {copy} ON {partition} {definition}")
            _short_lock(cursor, f"ALTER INDEX {index} ATTACH PARTITION {copy}")
