"""Time hints: links to one call, event or trace carry the row's time, so its look-up reads one partition.

The events and traces tables are partitioned by time (``telemetry.partitions``). A look-up by
id alone cannot tell Postgres where the row is, so it probes that key's index in every
partition: with hour partitions a month is about 720 of them and the probe costs hundreds
of milliseconds, most of it planning. Every link the app renders to a call, event or trace
page therefore carries the row's time (``?at=2026-12-03T17:08:41.123456Z``), and the page
first looks in a narrow window around it (one partition, sometimes two near a boundary).
The hint only says where to look first: a hint that is absent, malformed or misses (an
edited link, a row from another time) falls back to the look-up by id alone, so old links
keep working and a bad hint never fails the page.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from django.db.models import Model, QuerySet

_M = TypeVar("_M", bound=Model)

# Each look-up's window around the hint: an event's link carries its own timestamp; a call's
# verdicts share one timestamp (the SDK stamps every event of a call with the call's end);
# a trace starts before its call's events are stamped, so a trace link from an event is off
# by the call's duration.
EVENT_WINDOW = timedelta(seconds=1)
CALL_WINDOW = timedelta(minutes=15)
TRACE_WINDOW = timedelta(minutes=15)

_MAX_LENGTH = 64


def at_param(moment: datetime) -> str:
    """Return ``moment`` as the value of an ``at`` hint: UTC, ISO 8601, to the microsecond."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def at_parse(raw: str | None) -> datetime | None:
    """Return the time an ``at`` hint names (ISO 8601 or epoch seconds), or None when it names none."""
    if not raw or len(raw) > _MAX_LENGTH:
        return None
    raw = raw.strip()
    try:
        if raw.replace(".", "", 1).isdigit():
            seconds = float(raw)
            if not math.isfinite(seconds):
                return None
            return datetime.fromtimestamp(seconds, UTC)
        moment = datetime.fromisoformat(raw.replace(" ", "+"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def window(at: datetime | None, width: timedelta) -> tuple[datetime, datetime] | None:
    """Return the half-open range ``[at - width, at + width)``, or None without a usable ``at``."""
    if at is None:
        return None
    try:
        return at - width, at + width
    except OverflowError:
        return None


def first_near(qs: QuerySet[_M], at: datetime | None, width: timedelta, field: str) -> _M | None:
    """Return the first row of ``qs`` with ``field`` within ``width`` of ``at``, else the first anywhere."""
    span = window(at, width)
    if span is not None:
        row = qs.filter(**{f"{field}__gte": span[0], f"{field}__lt": span[1]}).first()
        if row is not None:
            return row
    return qs.first()
