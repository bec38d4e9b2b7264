"""Writes of telemetry: ingest of the SDKs' events, the rollups, retention and alerts."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, DateTimeField, F, FloatField, Q, Sum, Value
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone
from pydantic import AwareDatetime, ValidationError
from pydantic.fields import FieldInfo

from accounts.models import Project
from contracts_app.models import Trace
from dashboard.lib.errors import NotFound
from llm_contracts import protocol
from llm_contracts.contracts import redact
from telemetry import partitions, selectors
from telemetry.models import (
    BUCKET_FIELDS,
    LATENCY_BUCKETS_MS,
    LLM_BUCKET_FIELDS,
    READABLE_SINCE,
    READABLE_UNTIL,
    AlertRule,
    HourBreakdown,
    HourRollup,
    MinuteBreakdown,
    MinuteRollup,
    PendingEvent,
    QuarantinedBucket,
    RollupBatchRow,
    SdkInstance,
    ValidationEvent,
    Watermark,
)
from telemetry.schemas import EventIn, SdkIn

logger = logging.getLogger(__name__)


# Ingest.


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "event", "reason": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def _pg_type(info: FieldInfo) -> str:
    """Return the Postgres type of one field of the protocol's Event (for the binary COPY)."""
    kind: Any = info.annotation
    metadata = list(info.metadata)
    if get_origin(kind) in (Union, UnionType):  # Optional: the non-None member
        kind = next(t for t in get_args(kind) if t is not type(None))
    if get_origin(kind) is Annotated:
        kind, *extra = get_args(kind)
        metadata += [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
    if kind in (datetime, AwareDatetime):
        return "timestamptz"
    if kind is bool:
        return "bool"
    if kind is float:
        return "float8"
    if kind is int:
        upper = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
        return "int4" if upper is not None and upper <= protocol.INT32_MAX else "int8"
    if isinstance(kind, type) and issubclass(kind, str):
        return "text"  # str and the protocol's vocabularies
    raise TypeError(f"no Postgres type for an Event field of type {kind!r}")


# The stored columns: the project and the time of receipt, then the protocol's Event
# fields in the model's order (a row is built from the validated event's values).
_EVENT_FIELDS: tuple[str, ...] = tuple(EventIn.model_fields)


_EVENT_COLUMNS: tuple[str, ...] = ("project_id", "received_at", *_EVENT_FIELDS)


_STORED_ID = _EVENT_COLUMNS.index("event_id")


# An id as the SDK makes it (uuid4 hex) holds no personal data unless it starts with a long
# run of digits. Every kind the redactor finds needs a separator (" ", "-", ".", ":", "@",
# "+"), an upper-case letter, a secret's prefix (none of them hex) or, for a number without
# separators (a card), no letter or digit right before it: inside a hex id every run of
# digits but the first follows a letter. 9 is the shortest such number the redactor finds.
# The fast path skips the redactor for the ids of almost every event (a run of 9 digits
# somewhere in it: ~30% of uuid4 ids; at its start: ~1.5%); tests/server/test_redact_ids.py
# checks that it gives what the redactor gives.
_PLAIN_ID = re.compile(r"[0-9a-f]{32}")


# The text fields of an event that are ids or names: refused when they hold a NUL.
_EVENT_ID_FIELDS = (
    "event_id",
    "call_id",
    "contract",
    "model",
    "provider",
    "endpoint",
    "session_id",
    "experiment",
    "variant",
    "trace_id",
    "sdk_version",
)


def _nul_field(event: EventIn) -> str | None:
    """Return the first id field of ``event`` holding a NUL character (Postgres text cannot)."""
    values = [getattr(event, name) or "" for name in _EVENT_ID_FIELDS]
    if "\x00" not in "".join(values):
        return None
    return next(name for name, value in zip(_EVENT_ID_FIELDS, values, strict=True) if "\x00" in value)


def redact_id(value: str | None) -> str | None:
    """Return an id with no personal data: a hash of it when the redactor finds some."""
    if not value or (_PLAIN_ID.fullmatch(value) and not value[:9].isdigit()):
        return value
    if redact(value) == value:
        return value
    # Hashed, not redacted: "[EMAIL]" for every id with an email would merge distinct
    # events, while a hash keeps each id distinct and stable across retries.
    return "pii-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def redact_name(value: str | None, memo: dict[str, str] | None = None) -> str | None:
    if not value:
        return value
    if memo is None:
        return redact(value)
    found = memo.get(value)
    if found is None:
        found = memo[value] = redact(value)
    return found


# The id fields hashed when they hold personal data, and the names redacted.
_ID_FIELDS = ("event_id", "call_id", "session_id", "trace_id")


_NAME_FIELDS = (
    "contract",
    "message",
    "model",
    "provider",
    "endpoint",
    "experiment",
    "variant",
    "sdk_version",
)


# Version 0 and "" mean "none", as NULL does: stored as NULL, so that the rollups'
# COALESCE keys can never see two rows for one key.
_EMPTY_IS_NULL = ("contract_version", "session_id", "experiment", "variant", "trace_id")


_unknown = {*_ID_FIELDS, *_NAME_FIELDS, *_EMPTY_IS_NULL, *_EVENT_ID_FIELDS} - set(_EVENT_FIELDS)


if _unknown:  # pragma: no cover - a renamed protocol field must not be silently skipped
    raise ImportError(f"telemetry.services names Event fields the protocol lacks: {sorted(_unknown)}")


# Where those fields stand in a stored row (after project_id and received_at).
_ID_AT = tuple(_EVENT_COLUMNS.index(name) for name in _ID_FIELDS)
_NAME_AT = tuple(_EVENT_COLUMNS.index(name) for name in _NAME_FIELDS)
_EXCERPT_AT = tuple(_EVENT_COLUMNS.index(name) for name in ("input_excerpt", "output_excerpt"))
_EMPTY_IS_NULL_AT = tuple(_EVENT_COLUMNS.index(name) for name in _EMPTY_IS_NULL)


def _row(
    project_id: int, event: EventIn, received_at: datetime, memo: dict[str, str] | None = None
) -> tuple[Any, ...]:
    """Return the stored row of ``event``, in the order of ``_EVENT_COLUMNS``."""
    # Every text a client chose passes the redactor: excerpts were redacted by the SDK,
    # but an old or foreign client may not have, and nothing unredacted may reach the disk.
    values = [project_id, received_at, *event.__dict__.values()]  # the fields in the model's order
    for at in _ID_AT:
        values[at] = redact_id(values[at])
    names = {} if memo is None else memo
    for at in _NAME_AT:
        name = values[at]
        if name:
            found = names.get(name)
            if found is None:
                found = names[name] = redact(name)
            values[at] = found
    for at in _EXCERPT_AT:
        if values[at] is not None:
            values[at] = redact(values[at])
    for at in _EMPTY_IS_NULL_AT:
        values[at] = values[at] or None
    return tuple(values)


def timestamp_window(received_at: datetime) -> tuple[datetime, datetime]:
    """Return the oldest and newest timestamps ingest accepts at ``received_at``."""
    return (
        received_at - timedelta(seconds=settings.EVENT_MAX_AGE_S),
        received_at + timedelta(seconds=settings.EVENT_MAX_FUTURE_S),
    )


def timestamp_error(
    timestamp: datetime, received_at: datetime, window: tuple[datetime, datetime] | None = None
) -> str | None:
    """Return why an event's timestamp is refused, or None when it is inside the accepted window."""
    oldest, newest = window or timestamp_window(received_at)
    if oldest <= timestamp <= newest:
        return None
    return (
        f"must be at most {settings.EVENT_MAX_AGE_S:g} s before and {settings.EVENT_MAX_FUTURE_S:g} s "
        f"after the server's clock ({received_at.isoformat()})"
    )


# Postgres types of _EVENT_COLUMNS, for the binary COPY (which the server does not re-parse).
PG_TYPES: dict[str, str] = {
    "project_id": "int8",
    "received_at": "timestamptz",
    **{name: _pg_type(info) for name, info in EventIn.model_fields.items()},
}


def _copy(cursor: Any, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write ``rows`` into ``table`` by one binary COPY (the server does not re-parse binary values)."""
    columns = ", ".join(_EVENT_COLUMNS)
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([PG_TYPES[c] for c in _EVENT_COLUMNS])
        for row in rows:
            copy.write_row(row)


class _Stored(Exception):
    """Some rows of a batch are stored already: the straight COPY gave way to the deduplicating insert."""


def _copy_new_postgres(rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """COPY a batch straight into the events table; raise :class:`_Stored` when an event is stored already.

    Almost every batch is new: one COPY, routed to the day partitions by Postgres, costs
    what a raw COPY does. A retried batch meets its first copy in the dedup key's unique
    index, and the caller rolls the COPY back and stores the batch by ``_insert_postgres``.
    """
    import psycopg.errors

    with connection.cursor() as cursor:
        try:
            _copy(cursor, ValidationEvent._meta.db_table, rows)
        except psycopg.errors.UniqueViolation as exc:
            raise _Stored from exc
    return {row[_STORED_ID] for row in rows}


def _insert_postgres(rows: Sequence[tuple[Any, ...]]) -> set[str]:
    # COPY into a session-local staging table, then one INSERT ... SELECT ... ON CONFLICT:
    # a multi-row INSERT of 500 events sends ~16,000 parameters that the server parses
    # one by one, several times slower than COPY (see bench/ingest_bench.py).
    table = ValidationEvent._meta.db_table
    columns = ", ".join(_EVENT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS lc_ingest_staging AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        _copy(cursor, "lc_ingest_staging", rows)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM lc_ingest_staging "
            # No conflict target: on the partitioned table the dedup key also holds the
            # timestamp (see telemetry/partitions.py), on the plain one it does not.
            f"ON CONFLICT DO NOTHING RETURNING event_id"
        )
        inserted = {r[0] for r in cursor.fetchall()}
        # TRUNCATE, not DELETE: autovacuum never visits temporary tables, so deleted rows
        # would pile up in a long-lived connection's staging table.
        cursor.execute("TRUNCATE lc_ingest_staging")
    return inserted


def _insert_portable(project_id: int, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    ids = [row[_STORED_ID] for row in rows]
    existing = set(
        ValidationEvent.objects.filter(project_id=project_id, event_id__in=ids).values_list(
            "event_id", flat=True
        )
    )
    fresh = [
        ValidationEvent(**dict(zip(_EVENT_COLUMNS, row, strict=True)))
        for row in rows
        if row[_STORED_ID] not in existing
    ]
    # ignore_conflicts still guards against a concurrent batch with the same ids.
    ValidationEvent.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
    return {e.event_id for e in fresh}


def event_ingest_batch(
    *, project: Project, events: Sequence[Any], sdk: SdkIn | None = None, now: datetime | None = None
) -> IngestResult:
    """Validate each event on its own and store the valid, new ones; report a status per item."""
    now = now or timezone.now()
    result = IngestResult()
    statuses: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    window = timestamp_window(now)
    # The names of a batch repeat (model, contract, session): each is redacted once.
    memo: dict[str, str] = {}
    for index, item in enumerate(events):
        if isinstance(item, EventIn):
            event = item  # validated with its whole batch (telemetry.schemas.batch_parse_valid)
        elif not isinstance(item, Mapping):
            statuses.append(
                {
                    "index": index,
                    "status": "rejected",
                    "errors": [{"field": "event", "reason": "must be a JSON object"}],
                }
            )
            continue
        else:
            try:
                event = EventIn.model_validate(item)
            except ValidationError as exc:
                statuses.append({"index": index, "status": "rejected", "errors": _field_errors(exc)})
                continue
        nul = _nul_field(event)
        reason = timestamp_error(event.timestamp, now, window)
        if nul is not None or reason is not None:
            error = (
                {"field": nul, "reason": "must not contain a NUL character (\\u0000)"}
                if nul is not None
                else {"field": "timestamp", "reason": reason}
            )
            statuses.append({"index": index, "status": "rejected", "errors": [error]})
            continue
        row = _row(project.pk, event, now, memo)
        if row[_STORED_ID] in seen:
            statuses.append({"event_id": event.event_id, "status": "duplicate"})
            continue
        seen.add(row[_STORED_ID])
        rows.append(row)
        statuses.append({"event_id": event.event_id, "stored_id": row[_STORED_ID], "status": "pending"})

    inserted = _store(project, rows, sdk, now)

    for status in statuses:
        if status["status"] == "pending":
            status["status"] = "accepted" if status.pop("stored_id") in inserted else "duplicate"
        if status["status"] == "accepted":
            result.accepted += 1
        elif status["status"] == "duplicate":
            result.duplicates += 1
        else:
            result.rejected += 1
    result.results = statuses
    return result


def _store(project: Project, rows: Sequence[tuple[Any, ...]], sdk: SdkIn | None, now: datetime) -> set[str]:
    """Store the new rows of a batch with what goes with them, in one transaction; return their event ids."""
    from experiments.services import exposures_record  # a top-level import would be circular

    def along(inserted: set[str]) -> None:
        if sdk is not None and sdk.instance_id:
            sdk_instance_touch(project=project, sdk=sdk, events=len(inserted), now=now)
        exposures_record(
            project=project, events=[dict(zip(_EVENT_COLUMNS, r, strict=True)) for r in rows], now=now
        )

    if rows and connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                inserted = _copy_new_postgres(rows)
                along(inserted)
            return inserted
        except _Stored:
            pass  # rolled back: the deduplicating insert below
    with transaction.atomic():
        if not rows:
            inserted = set()
        elif connection.vendor == "postgresql":
            inserted = _insert_postgres(rows)
        else:
            inserted = _insert_portable(project.pk, rows)
        along(inserted)
    return inserted


def sdk_instance_touch(*, project: Project, sdk: SdkIn, events: int, now: datetime) -> None:
    """Record that an SDK instance reported, with the counters of its envelope."""
    values = {
        "name": sdk.name,
        "version": sdk.version,
        "last_seen": now,
        "counters": sdk.counters.model_dump(),
        "events_received": F("events_received") + events,
    }
    updated = SdkInstance.objects.filter(project=project, instance_id=sdk.instance_id).update(**values)
    if updated:
        return
    try:
        with transaction.atomic():
            SdkInstance.objects.create(
                project=project,
                instance_id=sdk.instance_id,
                name=sdk.name,
                version=sdk.version,
                first_seen=now,
                last_seen=now,
                counters=sdk.counters.model_dump(),
                events_received=events,
            )
    except IntegrityError:
        # Another batch of the same instance created it first.
        SdkInstance.objects.filter(project=project, instance_id=sdk.instance_id).update(**values)


# Rollups.


@dataclass
class AggregationResult:
    # Queued events taken off the queue (counted, or dropped as unreadable).
    events: int = 0
    minute_rows: int = 0
    hour_rows: int = 0
    watermark: datetime | None = None
    # Projects whose pass failed, and the minutes set aside (retried on every pass).
    failed_projects: int = 0
    quarantined: int = 0
    # Projects another worker was counting: left to it.
    busy_projects: int = 0


# What a rollup row adds up; hour rows are sums of these over their minutes.
_SUMMED = (
    "count",
    "violations",
    "errors",
    "fixes_attempted",
    "fixes_succeeded",
    "prompt_tokens",
    "completion_tokens",
    "latency_sum_ms",
    "llm_latency_sum_ms",
    *BUCKET_FIELDS,
    *LLM_BUCKET_FIELDS,
)


def _stable(expr: str) -> str:
    # A float SUM depends on the order the database adds the rows in; rounding to a
    # nanosecond makes a rebuilt bucket equal to the old one, as idempotency requires.
    return f"ROUND(CAST({expr} AS NUMERIC), 6)"


def _histogram_aggregates(
    column: str = "latency_ms", names: Sequence[str] = BUCKET_FIELDS
) -> dict[str, Count]:
    out: dict[str, Count] = {}
    lower = float("-inf")
    for name, upper in zip(names, LATENCY_BUCKETS_MS, strict=True):
        # NULL (no LLM call recorded) matches no bucket.
        cond = Q(**{f"{column}__isnull": False})
        if lower != float("-inf"):
            cond &= Q(**{f"{column}__gte": lower})
        if upper != float("inf"):
            cond &= Q(**{f"{column}__lt": upper})
        out[name] = Count("id", filter=cond)
        lower = upper
    return out


_BATCH = "lc_rollup_batch"


_MINUTE = timedelta(minutes=1)


# The first key of the advisory locks that give one project's aggregation to one worker.
_LOCK_CLASS = 0x6C_6C_63_72  # "llcr"


# The event columns the rollups read, copied into the batch table by one join.
_BATCH_COLUMNS: tuple[str, ...] = tuple(
    f.column for f in RollupBatchRow._meta.concrete_fields if f.column not in ("id", "event_pk")
)


def _batch_reset() -> None:
    """Create (once per connection) and empty the temporary table of the chunk being counted."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        columns = ", ".join(
            f"{quote(f.column)} {f.db_type(connection)}" for f in RollupBatchRow._meta.concrete_fields
        )
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_BATCH} ({columns})")
        if connection.vendor == "postgresql":
            # TRUNCATE, not DELETE: autovacuum never visits temporary tables.
            cursor.execute(f"TRUNCATE {_BATCH}")
        else:
            cursor.execute(f"DELETE FROM {_BATCH}")


def _take_sql(pending: Any, project_id: int) -> tuple[str, list[Any]]:
    """Return the insert that copies the queued rows of ``pending`` and their events into the batch table."""
    quote = connection.ops.quote_name
    sql, params = pending.values_list("id", "event_pk", "timestamp").query.sql_with_params()
    events = ValidationEvent._meta.db_table
    columns = ", ".join(quote(c) for c in _BATCH_COLUMNS)
    copied = ", ".join(f"e.{quote(c)}" for c in _BATCH_COLUMNS)
    stamp = quote("timestamp")
    if connection.vendor == "postgresql":
        # One lookup by primary key per queued event (LIMIT 1 keeps the subquery from being
        # merged into a plain join): with a plain join the planner hashes the whole events
        # table once a chunk is large, seconds a chunk at ten million stored events.
        joined = (
            f"LEFT JOIN LATERAL (SELECT {copied} FROM {events} e WHERE e.id = p.event_pk "
            f"AND e.{stamp} = p.{stamp} AND e.project_id = %s LIMIT 1) e ON true"
        )
    else:
        joined = f"LEFT JOIN {events} e ON e.id = p.event_pk AND e.{stamp} = p.{stamp} AND e.project_id = %s"
    insert = (
        f"INSERT INTO {_BATCH} (id, event_pk, {columns}) "
        f"SELECT p.id, p.event_pk, {copied} FROM ({sql}) p {joined}"
    )
    return insert, [*params, project_id]


def _take(pending: Any, project_id: int) -> int:
    """Move the queued rows of ``pending`` and their events into the batch table, off the queue.

    Return how many queued rows were taken. Each queued event is read by its primary key
    (id and timestamp, which picks the partition); the grouping queries then read the batch
    table only. A queued event that is gone (retention) joins nothing and is not counted.
    """
    _batch_reset()
    insert, params = _take_sql(pending, project_id)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Compiling these short queries costs more than running them (~200 ms a chunk).
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(insert, params)
        taken = max(cursor.rowcount, 0)
        cursor.execute(f"DELETE FROM {PendingEvent._meta.db_table} WHERE id IN (SELECT id FROM {_BATCH})")
    return taken


def _batch_events(project_id: int) -> Any:
    """Return the batch table's events that the rollups count."""
    return RollupBatchRow.objects.filter(
        Q(timestamp__gte=READABLE_SINCE, timestamp__lt=READABLE_UNTIL),
        # Only timestamps ingest accepts: a row stored before it bounded them (year 1,
        # 9999-12-31) has no minute any page shows, and may not even be readable.
        Q(timestamp__gte=F("received_at") - timedelta(seconds=settings.EVENT_MAX_AGE_S)),
        Q(timestamp__lte=F("received_at") + timedelta(seconds=settings.EVENT_MAX_FUTURE_S)),
    )


def _rollup_deltas(events: Any, unit: str) -> tuple[Any, list[str]]:
    grouped = (
        events.annotate(
            at=Trunc("timestamp", unit, output_field=DateTimeField(), tzinfo=UTC),
            # Grouped by the key the rollup row stores: version 0 and NULL, or "" and NULL,
            # stored before ingest normalised them, must not make two rows of one key.
            key_version=Coalesce("contract_version", Value(0)),
            key_experiment=Coalesce("experiment", Value("")),
            key_variant=Coalesce("variant", Value("")),
        )
        .values("at", "contract", "key_version", "key_experiment", "key_variant")
        .annotate(
            n=Count("id"),
            n_violations=Count("id", filter=Q(is_valid=False)),
            n_errors=Count("id", filter=Q(error=True)),
            n_fixes_attempted=Count("id", filter=Q(auto_fix_attempted=True)),
            n_fixes_succeeded=Count("id", filter=Q(auto_fix_succeeded=True)),
            s_prompt=Coalesce(Sum("prompt_tokens"), 0),
            s_completion=Coalesce(Sum("completion_tokens"), 0),
            s_latency=Coalesce(Sum("latency_ms"), Value(0.0), output_field=FloatField()),
            s_llm_latency=Coalesce(Sum("llm_latency_ms"), Value(0.0), output_field=FloatField()),
            **_histogram_aggregates(),
            **_histogram_aggregates("llm_latency_ms", LLM_BUCKET_FIELDS),
        )
        .order_by()
    )
    select = [
        "%s",
        "sub.at",
        "sub.contract",
        "sub.key_version",
        "sub.key_experiment",
        "sub.key_variant",
        "sub.n",
        "sub.n_violations",
        "sub.n_errors",
        "sub.n_fixes_attempted",
        "sub.n_fixes_succeeded",
        "sub.s_prompt",
        "sub.s_completion",
        _stable("sub.s_latency"),
        _stable("sub.s_llm_latency"),
        *(f"sub.{name}" for name in (*BUCKET_FIELDS, *LLM_BUCKET_FIELDS)),
    ]
    return grouped, select


def _upsert(
    model: type[models.Model],
    keys: Sequence[str],
    added: Sequence[str],
    select: Sequence[str],
    subquery: Any,
    project_id: int,
) -> int:
    """Add the grouped rows of ``subquery`` to ``model``'s rows of the same key; return the rows written.

    INSERT ... SELECT ... ON CONFLICT DO UPDATE keeps the rows in the database and adds
    in one statement; every summed field is additive, so counting events in any order
    and in any number of passes gives the same rows.
    """
    sql, params = subquery.query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in (*keys, *added))
    updates = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in added)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {', '.join(select)} FROM ({sql}) sub WHERE 1 = 1 "
            f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET {updates}",
            [project_id, *params],
        )
        return max(cursor.rowcount, 0)


_ROLLUP_KEYS = ("project_id", "bucket", "contract", "contract_version", "experiment", "variant")


_BREAKDOWN_KEYS = ("project_id", "bucket", "model", "severity")


def _count_batch(project_id: int, result: AggregationResult) -> None:
    """Add the events of the batch table to the minute and hour rollups and breakdowns."""
    events = _batch_events(project_id)
    for model, unit in ((MinuteRollup, "minute"), (HourRollup, "hour")):
        grouped, select = _rollup_deltas(events, unit)
        rows = _upsert(model, _ROLLUP_KEYS, _SUMMED, select, grouped, project_id)
        if unit == "minute":
            result.minute_rows += rows
        else:
            result.hour_rows += rows
    for breakdown, unit in ((MinuteBreakdown, "minute"), (HourBreakdown, "hour")):
        # Counts per model and severity, for the overview's "top models / severities".
        grouped = (
            events.annotate(at=Trunc("timestamp", unit, output_field=DateTimeField(), tzinfo=UTC))
            .values("at", "model", "severity")
            .annotate(n=Count("id"), n_violations=Count("id", filter=Q(is_valid=False)))
            .order_by()
        )
        select = ["%s", "sub.at", "sub.model", "sub.severity", "sub.n", "sub.n_violations"]
        _upsert(breakdown, _BREAKDOWN_KEYS, ("count", "violations"), select, grouped, project_id)


def _quarantine(project_id: int, minute: datetime, exc: BaseException, now: datetime) -> None:
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    updated = QuarantinedBucket.objects.filter(project_id=project_id, bucket=minute).update(
        attempts=F("attempts") + 1, last_failed_at=now, reason=reason
    )
    if not updated:
        QuarantinedBucket.objects.create(
            project_id=project_id, bucket=minute, reason=reason, first_failed_at=now, last_failed_at=now
        )


def _set_aside(project_id: int) -> list[datetime]:
    return list(QuarantinedBucket.objects.filter(project_id=project_id).values_list("bucket", flat=True))


def _project_lock(project_id: int) -> bool:
    """Take the project's aggregation lock until the transaction ends; False: another worker holds it."""
    if connection.vendor != "postgresql":
        # SQLite transactions here begin IMMEDIATE: one writer at a time already.
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, project_id & 0x7FFFFFFF])
        return bool(cursor.fetchone()[0])


def _minute_count(project_id: int, pending: Any, minute: datetime, result: AggregationResult) -> int:
    """Count the queued events of one minute in a savepoint of their own; raise when they cannot be."""
    with transaction.atomic():
        taken = _take(pending.filter(timestamp__gte=minute, timestamp__lt=minute + _MINUTE), project_id)
        _count_batch(project_id, result)
    return taken


def _chunk_by_minute(project_id: int, ids: list[int], result: AggregationResult, now: datetime) -> int:
    """Count a chunk that failed as a whole minute by minute; set aside each minute that fails."""
    chunk = PendingEvent.objects.filter(id__in=ids)
    readable = chunk.filter(timestamp__gte=READABLE_SINCE, timestamp__lt=READABLE_UNTIL)
    stamps = readable.values_list("timestamp", flat=True)
    minutes = sorted({t.replace(second=0, microsecond=0) for t in stamps})
    # A timestamp no page can show is never counted: off the queue.
    taken, _ = chunk.exclude(pk__in=readable.values("pk")).delete()
    for minute in minutes:
        try:
            taken += _minute_count(project_id, chunk, minute, result)
        except Exception as exc:
            logger.warning("rollup of project %s minute %s quarantined: %s", project_id, minute, exc)
            _quarantine(project_id, minute, exc, now)
            result.quarantined += 1
    return taken


def _project_chunk(project_id: int, result: AggregationResult, now: datetime) -> int | None:
    """Count one chunk of a project's queue in one transaction; return the rows taken (None: busy)."""
    with transaction.atomic():
        if not _project_lock(project_id):
            return None
        pending = PendingEvent.objects.filter(project_id=project_id)
        for minute in _set_aside(project_id):
            pending = pending.exclude(timestamp__gte=minute, timestamp__lt=minute + _MINUTE)
        chunk = pending.order_by("id")[: settings.ROLLUP_CHUNK]
        try:
            with transaction.atomic():
                taken = _take(chunk, project_id)
                _count_batch(project_id, result)
            return taken
        except Exception:
            logger.info("a rollup chunk of project %s failed; counting it minute by minute", project_id)
        ids = list(chunk.values_list("id", flat=True))
        return _chunk_by_minute(project_id, ids, result, now)


def _project_pass(project_id: int, result: AggregationResult, now: datetime) -> None:
    """Count a project's queued events: first the minutes set aside, then chunks until the queue is empty."""
    with transaction.atomic():
        if not _project_lock(project_id):
            result.busy_projects += 1
            return
        pending = PendingEvent.objects.filter(project_id=project_id)
        for minute in _set_aside(project_id):
            try:
                result.events += _minute_count(project_id, pending, minute, result)
            except Exception as exc:
                _quarantine(project_id, minute, exc, now)
            else:
                QuarantinedBucket.objects.filter(project_id=project_id, bucket=minute).delete()
    while True:
        taken = _project_chunk(project_id, result, now)
        if taken is None:
            result.busy_projects += 1
            return
        result.events += taken
        if taken < settings.ROLLUP_CHUNK:
            return


def rollups_aggregate(
    *, now: datetime | None = None, project_ids: Iterable[int] | None = None
) -> AggregationResult:
    """Count the events stored since the last pass into the minute and hour rollups.

    Each event is counted once: ingest queues it (``PendingEvent``), and a pass adds the
    queued events to their buckets and takes them off the queue in one transaction, so
    a pass costs in proportion to the events that arrived since the last one, however
    old the buckets they fall in. Each project is counted under an advisory lock that
    workers try without waiting: two workers running passes at once share the projects
    out and never count one twice. A project whose pass fails is logged and counted; a
    minute that cannot be counted is set aside (``QuarantinedBucket``) with its events
    still queued, tried again on each pass, and neither the rest of the project nor the
    other projects wait for it.
    """
    now = now or timezone.now()
    result = AggregationResult()
    if project_ids is None:
        project_ids = PendingEvent.objects.values_list("project_id", flat=True).distinct().order_by()
    for project_id in sorted(set(project_ids)):
        try:
            _project_pass(project_id, result, now)
        except Exception:
            logger.exception("rollups of project %s failed", project_id)
            result.failed_projects += 1
    watermark, created = Watermark.objects.get_or_create(name="rollups", defaults={"value": now})
    if not created:
        Watermark.objects.filter(pk=watermark.pk, value__lt=now).update(value=now)
    result.watermark = now
    return result


# Retention.


def events_expire(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Remove raw events and traces past their project's retention; return the events deleted one by one.

    Retention works by whole UTC days (``partitions.retention_cutoff``). On Postgres the
    days past the longest retention of any project are dropped as whole partitions
    first (events and traces alike); what a shorter retention of one project removes from
    the days still kept is deleted in small batches, as are rows outside the day partitions.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    projects = list(Project.objects.only("id", "retention_days"))
    longest = max((p.retention_days for p in projects), default=settings.EVENT_RETENTION_DAYS)
    for table in partitions.TABLES:
        dropped = partitions.partitions_drop_expired(now=now, longest_retention_days=longest, table=table)
        if dropped:
            logger.info("dropped expired partitions: %s", ", ".join(dropped))
    deleted = 0
    traces = 0
    for project in projects:
        cutoff = partitions.retention_cutoff(now, project.retention_days)
        deleted += _expire_rows(ValidationEvent, "timestamp", project, cutoff, batch_size)
        traces += _expire_rows(Trace, "created_at", project, cutoff, batch_size)
    if traces:
        logger.info("deleted %d expired traces one by one", traces)
    return deleted


def _expire_rows(model: Any, column: str, project: Project, cutoff: datetime, batch_size: int) -> int:
    """Delete the project's rows of ``model`` older than ``cutoff``, in small batches; return how many."""
    deleted = 0
    before = {f"{column}__lt": cutoff}
    # Small batches keep each transaction and its locks short on a busy table.
    while True:
        ids = list(model.objects.filter(project=project, **before).values_list("id", flat=True)[:batch_size])
        if not ids:
            return deleted
        # The time bound lets Postgres look in the expired partitions only.
        count, _ = model.objects.filter(id__in=ids, **before).delete()
        deleted += count


# Alerts.


def alert_rule_create(*, project: Project, **fields: Any) -> AlertRule:
    """Create an alert rule on the project."""
    return AlertRule.objects.create(project=project, **fields)


def alert_rule_delete(*, project: Project, rule_id: int) -> None:
    """Delete one of the project's alert rules."""
    deleted, _ = AlertRule.objects.filter(project=project, pk=rule_id).delete()
    if not deleted:
        raise NotFound("no such alert rule", field="rule")


@dataclass
class AlertChange:
    rule_id: int
    state: str
    value: float | None
    queued: bool


def alerts_evaluate(*, now: datetime | None = None) -> list[AlertChange]:
    """Check every alert rule against the recent minute rollups; queue firing and cleared alerts once."""
    from dashboard.lib.webhooks import webhook_enqueue

    now = now or timezone.now()
    changes: list[AlertChange] = []
    for rule in AlertRule.objects.select_related("project"):
        window = selectors.rollup_window(
            project_id=rule.project_id,
            contract=rule.contract,
            since=now - timedelta(minutes=rule.window_minutes),
        )
        if window.count < rule.min_count:
            continue
        value = window.violation_rate if rule.metric == AlertRule.Metric.VIOLATION_RATE else window.p95_ms
        breaching = value is not None and value > rule.threshold
        if breaching == rule.firing:
            continue
        state = "firing" if breaching else "cleared"
        payload = {
            "project": rule.project.slug,
            "contract": rule.contract,
            "metric": rule.metric,
            "threshold": rule.threshold,
            "value": value,
            "state": state,
            "count": window.count,
            "window_minutes": rule.window_minutes,
            "at": now.isoformat(),
        }
        url = rule.project.alert_webhook_url
        # Each message is its own task with retries and backoff, so a slow or dead
        # webhook delays no other rule or project; the state changes now, once.
        if url:
            webhook_enqueue(url=url, payload=payload, what=f"alert rule {rule.pk}")
        rule.firing = breaching
        rule.last_value = value
        if breaching:
            rule.fired_at = now
        else:
            rule.cleared_at = now
        rule.save(update_fields=["firing", "last_value", "fired_at", "cleared_at"])
        changes.append(AlertChange(rule_id=rule.pk, state=state, value=value, queued=bool(url)))
    return changes
