"""Reads behind the dashboard pages: overview figures from the rollups, violations, the SDK fleet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.core import signing
from django.db import connection, connections, router
from django.db.models import BigIntegerField, BooleanField, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import ApiKey, Membership, Project
from contracts_app.models import Contract
from contracts_app.selectors import clauses_of, contract_owner
from dashboard.lib import hints
from telemetry.models import (
    BUCKET_FIELDS,
    LLM_BUCKET_FIELDS,
    AlertRule,
    HourBreakdown,
    HourRollup,
    MinuteBreakdown,
    MinuteRollup,
    SdkInstance,
    ValidationEvent,
    Watermark,
)
from telemetry.selectors import percentile

# Ranges the overview offers; anything longer than a day reads the hour rollups.
RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
MAX_CUSTOM_RANGE = timedelta(days=90)
MINUTE_ROLLUPS_UP_TO = timedelta(hours=24)


class BadQuery(ValueError):
    """A query parameter the pages cannot use; the message names it."""


@dataclass(frozen=True)
class TimeRange:
    key: str
    start: datetime
    end: datetime

    @property
    def hourly(self) -> bool:
        return self.end - self.start > MINUTE_ROLLUPS_UP_TO

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.hourly else timedelta(minutes=1)

    def buckets(self) -> list[datetime]:
        """Return every bucket start of the range, oldest first."""
        unit = "hour" if self.hourly else "minute"
        first = _floor(self.start, unit)
        out = []
        at, step = first, self.step
        while at < self.end:
            out.append(at)
            at += step
        return out


def _floor(at: datetime, unit: str) -> datetime:
    at = at.replace(second=0, microsecond=0)
    return at.replace(minute=0) if unit == "hour" else at


def time_range_parse(params: Mapping[str, str], *, now: datetime, default: str = "24h") -> TimeRange:
    """Return the time range a request asks for: ``range`` of 1h/24h/7d/30d, or custom ``start``/``end``."""
    key = params.get("range") or default
    if key in RANGES:
        return TimeRange(key, now - RANGES[key], now)
    if key != "custom":
        raise BadQuery(f"range must be one of {', '.join([*RANGES, 'custom'])}, got {key!r}")
    start = _datetime_param(params, "start", now)
    end = _datetime_param(params, "end", now) if params.get("end") else now
    if end <= start:
        raise BadQuery("end must be later than start")
    if end - start > MAX_CUSTOM_RANGE:
        raise BadQuery(f"a custom range may span at most {MAX_CUSTOM_RANGE.days} days")
    return TimeRange("custom", start, end)


def _datetime_param(params: Mapping[str, str], name: str, now: datetime) -> datetime:
    raw = params.get(name, "")
    if not raw:
        raise BadQuery(f"{name} is required for a custom range")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a date and time like 2025-03-04T12:30, got {raw!r}") from None
    # The browser's datetime-local input carries no zone: read it in the page's time zone.
    return value if value.tzinfo else timezone.make_aware(value)


# Overview.


# (validations, violations) of one contract in one bucket.
Cell = tuple[int, int]


@dataclass
class Series:
    """Validations and violations per bucket of a range: the total and each contract's, oldest first.

    Every list has one item per bucket of ``TimeRange.buckets()``. A contract's count is 0
    exactly where it has no rollup row (a row counts at least one event).
    """

    buckets: list[datetime]
    counts: list[int]
    violations: list[int]
    by_contract: dict[str, tuple[list[int], list[int]]]

    @classmethod
    def of_cells(cls, buckets: list[datetime], cells: Mapping[datetime, Mapping[str, Cell]]) -> Series:
        """Return the series of sparse ``cells`` (bucket -> contract -> (count, violations))."""
        series = cls.empty(buckets)
        index = {bucket: i for i, bucket in enumerate(buckets)}
        for bucket, row in cells.items():
            i = index.get(bucket)
            if i is not None:
                for contract, (n, v) in row.items():
                    series.add(i, contract, n, v)
        return series

    @classmethod
    def empty(cls, buckets: list[datetime]) -> Series:
        size = len(buckets)
        return cls(buckets, [0] * size, [0] * size, {})

    def add(self, i: int, contract: str, n: int, v: int) -> None:
        """Add one (bucket, contract) row: ``n`` validations, ``v`` violations, in bucket ``i``."""
        line = self.by_contract.get(contract)
        if line is None:
            size = len(self.buckets)
            line = self.by_contract[contract] = ([0] * size, [0] * size)
        line[0][i] += n
        line[1][i] += v
        self.counts[i] += n
        self.violations[i] += v


@dataclass
class Overview:
    """What the overview shows for one project and time range, all read from rollups.

    ``cells`` (bucket -> contract -> (count, violations)) builds an overview by hand;
    ``overview_for`` fills the same figures straight into ``series()``.
    """

    time_range: TimeRange
    cells: dict[datetime, dict[str, tuple[int, int]]] = field(default_factory=dict)
    count: int = 0
    violations: int = 0
    fixes_attempted: int = 0
    fixes_succeeded: int = 0
    histogram: list[int] = field(default_factory=list)
    llm_histogram: list[int] = field(default_factory=list)
    by_contract: list[tuple[str, int, int]] = field(default_factory=list)
    by_model: list[tuple[str, int, int]] = field(default_factory=list)
    by_severity: list[tuple[str, int, int]] = field(default_factory=list)
    _series: Series | None = field(default=None, repr=False)

    def series(self) -> Series:
        """Return the validations and violations per bucket, in total and per contract."""
        if self._series is None:
            self._series = Series.of_cells(self.time_range.buckets(), self.cells)
        return self._series

    @property
    def violation_rate(self) -> float | None:
        return None if self.count == 0 else self.violations / self.count

    @property
    def fix_rate(self) -> float | None:
        return None if self.fixes_attempted == 0 else self.fixes_succeeded / self.fixes_attempted

    @property
    def per_minute(self) -> float:
        minutes = (self.time_range.end - self.time_range.start).total_seconds() / 60
        return self.count / minutes if minutes else 0.0

    def latency(self) -> dict[str, dict[str, float | None]]:
        """Return p50/p95/p99 (ms) of validation and of the LLM call."""
        return {
            label: {f"p{int(q * 100)}": percentile(hist, q) for q in (0.5, 0.95, 0.99)}
            for label, hist in (("validation", self.histogram), ("llm", self.llm_histogram))
        }

    def contracts(self) -> list[str]:
        """Return the contracts seen in the range, most violations first."""
        return [name for name, _, _ in self.by_contract]


def overview_for(*, project: Project, time_range: TimeRange, top: int = 10) -> Overview:
    """Read the overview of ``project`` over ``time_range`` from the rollups, in four queries at most."""
    rollup = HourRollup if time_range.hourly else MinuteRollup
    unit = "hour" if time_range.hourly else "minute"
    first = _floor(time_range.start, unit)
    window = {"project": project, "bucket__gte": first, "bucket__lt": time_range.end}
    overview = Overview(time_range=time_range)
    # Query 1: the series, per bucket and contract: up to a point per minute and contract,
    # read as (bucket index, contract, count, violations). The index is computed from each
    # group's bucket after grouping (a covering index feeds the grouping in bucket order),
    # and lands straight in per-bucket lists: no timestamp is parsed or hashed per row.
    series = overview._series = Series.empty(time_range.buckets())
    step = int(time_range.step.total_seconds())
    # Raw SQL passes no router by itself: it reads where the rollups' reads go (a replica for a page).
    db = connections[router.db_for_read(rollup)]
    epoch = _EPOCH[db.vendor].format(column="bucket")
    quote = db.ops.quote_name
    sql = (
        f"SELECT ({epoch} - %s) / %s, contract, CAST(SUM({quote('count')}) AS BIGINT), "
        f"CAST(SUM(violations) AS BIGINT) FROM {quote(rollup._meta.db_table)} "
        "WHERE project_id = %s AND bucket >= %s AND bucket < %s GROUP BY bucket, contract"
    )
    adapt = db.ops.adapt_datetimefield_value
    with db.cursor() as cursor:
        cursor.execute(sql, [int(first.timestamp()), step, project.pk, adapt(first), adapt(time_range.end)])
        rows = cursor.fetchall()
    # Series.add, inlined for a day's 11,000 rows; the query gives one row per bucket and contract.
    counts, violations = series.counts, series.violations
    lines, size = series.by_contract, len(series.buckets)
    for i, contract, n, v in rows:
        line = lines.get(contract)
        if line is None:
            line = lines[contract] = ([0] * size, [0] * size)
        line[0][i] = n
        line[1][i] = v
        counts[i] += n
        violations[i] += v
    overview.by_contract = _top({name: [sum(line[0]), sum(line[1])] for name, line in lines.items()}, top)
    # Query 2 (and 3 for a day: the edges): the sums and latency histograms over the range.
    sums = _range_sums(project, time_range, window)
    overview.count = sums["count"]
    overview.violations = sums["violations"]
    overview.fixes_attempted = sums["fixes_attempted"]
    overview.fixes_succeeded = sums["fixes_succeeded"]
    overview.histogram = [sums[name] for name in BUCKET_FIELDS]
    overview.llm_histogram = [sums[name] for name in LLM_BUCKET_FIELDS]
    # The last: the model/severity breakdown, from whole hours and the minutes at the edges.
    by_model: dict[str, list[int]] = {}
    by_severity: dict[str, list[int]] = {}
    for model, severity, n, v in _breakdown(project, time_range, window):
        for key, table in ((model, by_model), (severity, by_severity)):
            cell = table.setdefault(key, [0, 0])
            cell[0] += n
            cell[1] += v
    overview.by_model = _top(by_model, top)
    overview.by_severity = _top(by_severity, top)
    return overview


# The seconds since 1970 of a UTC timestamp column, as an integer, per database.
_EPOCH = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)",
    "sqlite": "CAST(strftime('%%s', {column}) AS INTEGER)",
}

# (model, severity, count, violations)
BreakdownRow = tuple[str, str, int, int]
_SUMMED = ("count", "violations", "fixes_attempted", "fixes_succeeded", *BUCKET_FIELDS, *LLM_BUCKET_FIELDS)


def _hours_and_edges(time_range: TimeRange, window: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """Return the whole hours [first, last) inside a minute range, or None when it has none.

    An hour row is the sum of its minute rows (one aggregation pass writes both), and
    reading 23 hours instead of 1,380 minutes takes a sixtieth of the rows.
    """
    if time_range.hourly:
        return None
    first_hour = _floor(window["bucket__gte"] + timedelta(minutes=59), "hour")
    last_hour = _floor(time_range.end, "hour")
    return None if last_hour <= first_hour else (first_hour, last_hour)


def _edges(window: dict[str, Any], end: datetime, hours: tuple[datetime, datetime]) -> Q:
    return Q(bucket__gte=window["bucket__gte"], bucket__lt=hours[0]) | Q(bucket__gte=hours[1], bucket__lt=end)


def _range_sums(project: Project, time_range: TimeRange, window: dict[str, Any]) -> dict[str, int]:
    """Sum the figures over the range: whole hours from the hour rollups, the edges from minutes."""
    if time_range.hourly:
        return _sums(HourRollup.objects.filter(**window))
    hours = _hours_and_edges(time_range, window)
    if hours is None:
        return _sums(MinuteRollup.objects.filter(**window))
    whole = _sums(HourRollup.objects.filter(project=project, bucket__gte=hours[0], bucket__lt=hours[1]))
    edges = _sums(MinuteRollup.objects.filter(project=project).filter(_edges(window, time_range.end, hours)))
    return {name: whole[name] + edges[name] for name in _SUMMED}


def _breakdown(project: Project, time_range: TimeRange, window: dict[str, Any]) -> list[BreakdownRow]:
    """Return (model, severity, count, violations) rows over the range, whole hours read from hour rows."""
    hours = _hours_and_edges(time_range, window)
    if time_range.hourly:
        rows = HourBreakdown.objects.filter(**window)
    elif hours is None:
        rows = MinuteBreakdown.objects.filter(**window)
    else:
        whole = HourBreakdown.objects.filter(project=project, bucket__gte=hours[0], bucket__lt=hours[1])
        edges = MinuteBreakdown.objects.filter(project=project).filter(_edges(window, time_range.end, hours))
        # One query: both sums side by side; the caller adds them up.
        return list(_by_model_and_severity(whole).union(_by_model_and_severity(edges), all=True))
    return list(_by_model_and_severity(rows))


def _by_model_and_severity(rows: QuerySet[Any]) -> QuerySet[Any]:
    sums = {"n": _int_sum("count"), "v": _int_sum("violations")}
    return rows.values_list("model", "severity").annotate(**sums).order_by()


def _sums(qs: QuerySet[Any]) -> dict[str, int]:
    sums = qs.aggregate(**{name: _int_sum(name) for name in _SUMMED})
    return {name: sums[name] or 0 for name in _SUMMED}


def _int_sum(name: str) -> Cast:
    # Postgres sums bigints as numeric, which the driver turns into Decimal one value at
    # a time: on a day of minute rollups that parsing costs more than the query.
    return Cast(Sum(name), output_field=BigIntegerField())


def _top(table: dict[str, list[int]], top: int) -> list[tuple[str, int, int]]:
    return sorted(((k, n, v) for k, (n, v) in table.items()), key=lambda r: (-r[2], -r[1], r[0]))[:top]


# Violations explorer.

PAGE_SIZE = 50
_CURSOR_SALT = "dashboard.violations.cursor"
# Filters the explorer accepts, each an exact match on one event column.
EXACT_FILTERS = ("contract", "severity", "model", "session_id", "experiment", "variant", "call_id")


@dataclass
class ViolationFilters:
    contract: str = ""
    contract_version: int | None = None
    severity: str = ""
    model: str = ""
    session_id: str = ""
    experiment: str = ""
    variant: str = ""
    call_id: str = ""
    q: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class CallRow:
    """One call with at least one matching violation, and every verdict it got.

    The figures are computed once, on first read, after the verdicts are filled in.
    """

    call_id: str
    verdicts: list[ValidationEvent] = field(default_factory=list)

    def _first(self, name: str) -> Any:
        return next((getattr(v, name) for v in self.verdicts if getattr(v, name)), None)

    @cached_property
    def timestamp(self) -> datetime | None:
        return max((v.timestamp for v in self.verdicts), default=None)

    @cached_property
    def violations(self) -> list[ValidationEvent]:
        return [v for v in self.verdicts if not v.is_valid]

    @cached_property
    def passed(self) -> int:
        return sum(1 for v in self.verdicts if v.is_valid)

    @cached_property
    def model(self) -> str:
        return self._first("model") or ""

    @cached_property
    def session_id(self) -> str | None:
        return self._first("session_id")

    @cached_property
    def turn(self) -> int | None:
        return self._first("turn")

    @cached_property
    def experiment(self) -> str | None:
        return self._first("experiment")

    @cached_property
    def variant(self) -> str | None:
        return self._first("variant")

    @cached_property
    def trace_id(self) -> str | None:
        return self._first("trace_id")


@dataclass
class ViolationPage:
    """One page of the explorer: calls, newest violation first."""

    calls: list[CallRow]
    next_cursor: str | None

    @property
    def events(self) -> list[ValidationEvent]:
        """Return the violations of the page's calls, call by call."""
        return [v for call in self.calls for v in call.violations]


def cursor_encode(event: ValidationEvent) -> str:
    """Return the opaque, signed cursor that continues after ``event``."""
    return signing.dumps([event.timestamp.isoformat(), event.pk], salt=_CURSOR_SALT, compress=True)


def cursor_decode(raw: str) -> tuple[datetime, int]:
    """Return (timestamp, id) of a cursor; raise BadQuery if it was altered or is not one."""
    try:
        stamp, pk = signing.loads(raw, salt=_CURSOR_SALT)
        return datetime.fromisoformat(stamp), int(pk)
    except (signing.BadSignature, ValueError, TypeError):
        raise BadQuery("cursor is not valid: start again from the first page") from None


def violations_queryset(*, project: Project, filters: ViolationFilters) -> QuerySet[ValidationEvent]:
    """Return the project's violations matching ``filters``, newest first."""
    qs = ValidationEvent.objects.readable().filter(project=project, is_valid=False)
    for name in EXACT_FILTERS:
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: value})
    if filters.contract_version is not None:
        qs = qs.filter(contract_version=filters.contract_version)
    if filters.since is not None:
        qs = qs.filter(timestamp__gte=filters.since)
    if filters.until is not None:
        qs = qs.filter(timestamp__lt=filters.until)
    if filters.q:
        qs = qs.filter(_message_matches(filters.q))
    # The excerpts can be large and only the event page shows them.
    return qs.defer("input_excerpt", "output_excerpt").order_by("-timestamp", "-id")


def _message_matches(text: str) -> Q | RawSQL:
    if connection.vendor == "postgresql":
        # The same expression as the GIN index event_message_fts, so the index is used.
        return RawSQL(
            "to_tsvector('english', message) @@ websearch_to_tsquery('english', %s)",
            [text],
            output_field=BooleanField(),
        )
    return Q(message__icontains=text)


# Rows read per scan of the violation index; most pages need one.
_SCAN = PAGE_SIZE * 4
_MAX_SCANS = 20
# A message search first checks the words of this many violations, newest first (as the
# explorer reads them without a search); when fewer than a scan's rows match there, it
# looks further back in time windows: this far, then eight times as far each time (1
# hour, 8, 64, 512 = 21 days), then all time.
_SEARCH_WALK = 1000
_SEARCH_WINDOW = timedelta(hours=1)
_SEARCH_WIDEN = 8
_SEARCH_WINDOWS = 4


def _scan_rows(
    project: Project,
    scan: QuerySet[Any],
    end: tuple[datetime, int] | None,
    *,
    filters: ViolationFilters,
    now: datetime,
) -> list[tuple[str, datetime, int]]:
    """Return the next ``_SCAN`` (call_id, timestamp, id) of ``scan`` after ``end``, newest first.

    A message search on Postgres takes two steps, so that it reads few rows whatever the
    word matches:

    1. The newest ``_SEARCH_WALK`` violations after ``end`` (with the other filters) are
       read in index order, as the explorer reads them without a search, each marked
       whether its message matches. A frequent word fills the scan here.
    2. Otherwise the word is rarer than a scan's rows in ``_SEARCH_WALK``: the rest is read
       from the message index (event_message_fts), which knows words, not time, so
       Postgres reads every match of the word in the partitions it looks at, then sorts
       them. It looks back from where step 1 stopped in widening windows: each reads at
       most the matches of the day partitions it spans, and after the first about eight
       times those of the last window, which had too few. A word found nowhere costs one
       index probe per day partition and window (five windows at most).

    The rows are those of one query over all time, in the same order: every match newer
    than a window's start is in that window.
    """
    after = _after(scan, *end) if end else scan
    if not (filters.q and connection.vendor == "postgresql"):
        return list(after[:_SCAN])
    hits: list[tuple[str, datetime, int]] = []
    if _SEARCH_WALK:
        plain = violations_queryset(project=project, filters=replace(filters, q=""))
        plain = _after(plain, *end) if end else plain
        walked = list(
            plain.annotate(hit=_message_matches(filters.q)).values_list("call_id", "timestamp", "id", "hit")[
                :_SEARCH_WALK
            ]
        )
        hits = [(call_id, stamp, pk) for call_id, stamp, pk, hit in walked if hit]
        if len(hits) >= _SCAN or len(walked) < _SEARCH_WALK:
            return hits[:_SCAN]
        end = (walked[-1][1], walked[-1][2])
        after = _after(scan, *end)
    wanted = _SCAN - len(hits)
    anchor = min(end[0] if end else now, filters.until or now, now)
    span = _SEARCH_WINDOW
    for _ in range(_SEARCH_WINDOWS):
        start = anchor - span
        if filters.since is not None and start <= filters.since:
            break  # the window holds the whole range asked for: the last query
        rows = list(after.filter(timestamp__gte=start)[:wanted])
        if len(rows) == wanted:
            return hits + rows
        span *= _SEARCH_WIDEN
    return hits + list(after[:wanted])


def _after(qs: QuerySet[Any], stamp: datetime, pk: int) -> QuerySet[Any]:
    # The first condition bounds the index range; the second breaks ties on id.
    return qs.filter(timestamp__lte=stamp).filter(Q(timestamp__lt=stamp) | Q(id__lt=pk))


def violations_page(
    *, project: Project, filters: ViolationFilters, cursor: str | None = None, size: int = PAGE_SIZE
) -> ViolationPage:
    """Return one page of calls with violations after ``cursor``, each with all its verdicts.

    A call sits where its newest matching violation is, so it is on one page only. The
    violations are read in index order (keyset: never an OFFSET scan), a few hundred at a
    time, until the page has ``size`` calls.
    """
    matching = violations_queryset(project=project, filters=filters)
    scan = matching.values_list("call_id", "timestamp", "id")
    now = timezone.now()
    position = cursor_decode(cursor) if cursor else None
    calls: list[str] = []
    known: set[str] = set()
    more = False
    end = position
    for _ in range(_MAX_SCANS):
        rows = _scan_rows(project, scan, end, filters=filters, now=now)
        fresh = {call_id for call_id, _, _ in rows} - known
        if position is not None and fresh:
            # Calls with a matching violation before the cursor were on an earlier page.
            known |= set(
                _after_not(matching, *position).filter(call_id__in=fresh).values_list("call_id", flat=True)
            )
        for call_id, stamp, pk in rows:
            if call_id not in known:
                if len(calls) == size:
                    more = True
                    break
                known.add(call_id)
                calls.append(call_id)
            end = (stamp, pk)
        if more or len(rows) < _SCAN:
            break
    else:
        more = True
    by_call = {call_id: CallRow(call_id) for call_id in calls}
    if calls:
        verdicts = (
            ValidationEvent.objects.filter(project=project, call_id__in=calls)
            .defer("input_excerpt", "output_excerpt")
            .order_by("timestamp", "id")
        )
        for verdict in verdicts:
            by_call[verdict.call_id].verdicts.append(verdict)
    next_cursor = None
    if more and end is not None:
        next_cursor = signing.dumps([end[0].isoformat(), end[1]], salt=_CURSOR_SALT, compress=True)
    return ViolationPage(calls=list(by_call.values()), next_cursor=next_cursor)


def _after_not(qs: QuerySet[Any], stamp: datetime, pk: int) -> QuerySet[Any]:
    """Return the rows of ``qs`` at or before the position (stamp, pk) in the newest-first order."""
    return qs.filter(timestamp__gte=stamp).filter(Q(timestamp__gt=stamp) | Q(id__gte=pk))


def verdicts_label(*, project: Project, verdicts: list[ValidationEvent]) -> None:
    """Attach to each verdict its LLMCL clause (``clause``) and its defined contract (``owner``)."""
    if not verdicts:
        return
    clauses = clauses_of(project=project, keys=[(v.contract, v.contract_version) for v in verdicts])
    defined = set(Contract.objects.filter(project=project).values_list("name", flat=True))
    for verdict in verdicts:
        verdict.clause = clauses.get((verdict.contract, verdict.contract_version or 0))  # type: ignore[attr-defined]
        verdict.owner = contract_owner(verdict.contract, defined)  # type: ignore[attr-defined]


def call_verdicts(*, project: Project, call_id: str, at: datetime | None = None) -> CallRow | None:
    """Return every verdict of one call of the project, or None.

    ``at`` (the call's time, from the link) makes it read the partition around that time
    first (``dashboard.lib.hints``); when nothing is there, it looks in every partition.
    """
    qs = ValidationEvent.objects.filter(project=project, call_id=call_id).defer(
        "input_excerpt", "output_excerpt"
    )
    span = hints.window(at, hints.CALL_WINDOW)
    verdicts: list[ValidationEvent] = []
    if span is not None:
        verdicts = list(qs.filter(timestamp__gte=span[0], timestamp__lt=span[1]).order_by("timestamp", "id"))
    if not verdicts:
        verdicts = list(qs.order_by("timestamp", "id"))
    return CallRow(call_id, verdicts) if verdicts else None


def event_for(*, project: Project, pk: int, at: datetime | None = None) -> ValidationEvent | None:
    """Return one event of the project, or None; ``at`` (its time, from the link) says where to look first."""
    qs = ValidationEvent.objects.readable().filter(project=project, pk=pk)
    return hints.first_near(qs, at, hints.EVENT_WINDOW, "timestamp")


# Health.


@dataclass
class Fleet:
    instances: list[SdkInstance]
    versions: list[tuple[str, int]]
    dropped: int
    breaker_skips: int
    watermark: datetime | None
    now: datetime

    @property
    def rollup_lag(self) -> timedelta | None:
        return None if self.watermark is None else max(timedelta(0), self.now - self.watermark)


def fleet_for(*, project: Project, now: datetime, limit: int = 200) -> Fleet:
    """Return the project's SDK instances, newest report first, with totals and the rollup lag."""
    instances = list(SdkInstance.objects.filter(project=project).order_by("-last_seen")[:limit])
    versions: dict[str, int] = {}
    dropped = skips = 0
    for instance in instances:
        versions[instance.version or "unknown"] = versions.get(instance.version or "unknown", 0) + 1
        counters: dict[str, Any] = instance.counters or {}
        dropped += int(counters.get("dropped", 0) or 0)
        skips += int(counters.get("breaker_skips", 0) or 0)
    watermark = Watermark.objects.filter(name="rollups").values_list("value", flat=True).first()
    return Fleet(
        instances=instances,
        versions=sorted(versions.items(), key=lambda kv: (-kv[1], kv[0])),
        dropped=dropped,
        breaker_skips=skips,
        watermark=watermark,
        now=now,
    )


# Settings.


@dataclass
class ProjectSettings:
    api_keys: list[ApiKey]
    members: list[Membership]
    alert_rules: list[AlertRule]


def settings_for(*, project: Project) -> ProjectSettings:
    """Return the project's API keys, members and alert rules."""
    return ProjectSettings(
        api_keys=account_selectors.api_keys_of(project=project),
        members=account_selectors.members_of(project=project),
        alert_rules=list(AlertRule.objects.filter(project=project).order_by("contract", "metric")),
    )


def project_is_empty(*, project: Project) -> bool:
    """Return True when no SDK has sent the project a single event yet."""
    return not ValidationEvent.objects.filter(project=project).exists()
