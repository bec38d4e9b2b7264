"""Benchmark the traces table's partitions on Postgres: retention of a day, lookups over days or hours.

Usage: ``DATABASE_URL=postgres://... python bench/partition_bench.py [--rows 100000 400000]
[--days 30] [--per-day 1000]``.

1. Retention: ``--rows`` traces (about 1 KB of steps each) are written into one expired
   day; the retention pass that drops the day's partition is timed, then the same rows
   are written again and removed the way the unpartitioned table did (one DELETE).
2. Lookups: ``--days`` days of traces and events (``--per-day`` each) laid out as day
   partitions, then as hour partitions; the trace page's lookup by trace id and a lookup
   of an event by id (no time bound, so every partition is considered) are timed on each.

It runs in its own database (``llmc_traces_partition_bench``), created and dropped here;
the database named by DATABASE_URL is only used to connect.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FILL = """
INSERT INTO contracts_app_trace (
    project_id, trace_id, call_id, created_at, received_at, outcome, model, steps)
SELECT %(project)s, %(prefix)s || g, 'c' || g, %(start)s + random() * %(span)s, %(start)s, 'violated', 'm',
    jsonb_build_array(jsonb_build_object('kind', 'request', 'name', 'chat', 'data', repeat('x', 900)))
FROM generate_series(1, %(n)s) g
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[100_000, 400_000], help="rows of the dropped day"
    )
    parser.add_argument("--days", type=int, default=30, help="days of the lookup layouts")
    parser.add_argument("--per-day", type=int, default=1000, help="traces a day in the lookup layouts")
    parser.add_argument("--lookups", type=int, default=200, help="timed lookups per layout")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("bench/partition_bench.py needs DATABASE_URL pointing at Postgres", file=sys.stderr)
        return 2
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from accounts import services as account_services
    from bench import scale_bench
    from contracts_app import selectors
    from contracts_app.models import Trace
    from telemetry import partitions
    from telemetry.models import ValidationEvent

    table = partitions.TRACE_TABLE
    setup_test_environment()
    settings.DATABASES["default"]["TEST"]["NAME"] = "llmc_traces_partition_bench"
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    lines = []
    try:
        now = datetime.now(UTC)
        project = account_services.project_create(name="Bench")
        cursor = connection.cursor()
        expired = (now - timedelta(days=40)).date()
        start = datetime.combine(expired, datetime.min.time(), tzinfo=UTC)
        fill = {"project": project.pk, "start": start, "span": timedelta(hours=23)}
        for rows in args.rows:
            partitions.partition_create(cursor, expired, table)
            cursor.execute(FILL, {**fill, "prefix": f"r{rows}-", "n": rows})
            cursor.execute("SELECT pg_total_relation_size(%s)", [partitions.partition_name(expired, table)])
            size_mb = cursor.fetchone()[0] / 1e6
            started = time.perf_counter()
            dropped = partitions.partitions_drop_expired(now=now, longest_retention_days=30, table=table)
            drop_s = time.perf_counter() - started
            assert dropped == [partitions.partition_name(expired, table)], dropped
            # The same rows removed as the unpartitioned table did: one DELETE.
            partitions.partition_create(cursor, expired, table)
            cursor.execute(FILL, {**fill, "prefix": f"d{rows}-", "n": rows})
            started = time.perf_counter()
            Trace.objects.filter(project=project, created_at__lt=start + timedelta(days=1)).delete()
            delete_s = time.perf_counter() - started
            cursor.execute(f"DROP TABLE {partitions.partition_name(expired, table)}")
            lines.append(
                f"retention of a trace day of {rows:,} rows ({size_mb:,.0f} MB): partition dropped in "
                f"{drop_s * 1000:,.0f} ms; the same rows deleted in {delete_s * 1000:,.0f} ms "
                f"({delete_s / drop_s:,.1f}x)"
            )

        first = (now - timedelta(days=args.days)).date()
        days = [first + timedelta(days=d) for d in range(args.days)]
        medians = {}
        for layout in ("day", "hour"):
            for day in days:
                for each in (table, partitions.EVENT_TABLE):
                    if layout == "day":
                        partitions.partition_create(cursor, day, each)
                    else:
                        partitions.hour_partitions_create(cursor, day, each)
                day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                scale_bench.fill(
                    cursor,
                    project=project.pk,
                    prefix=f"{day}-",
                    n=args.per_day,
                    start=day_start,
                    span=timedelta(hours=23, minutes=59),
                )
                cursor.execute(
                    FILL,
                    {
                        **fill,
                        "start": day_start,
                        "span": timedelta(hours=23, minutes=59),
                        "prefix": f"{day}-",
                        "n": args.per_day,
                    },
                )
            cursor.execute(f"ANALYZE {table.name}")
            cursor.execute(f"ANALYZE {partitions.EVENTS}")
            event_ids = list(ValidationEvent.objects.values_list("pk", flat=True)[: args.lookups])
            event_timings = []
            for pk in event_ids:
                started = time.perf_counter()
                assert ValidationEvent.objects.filter(project=project, pk=pk).first() is not None
                event_timings.append(time.perf_counter() - started)
            lines.append(
                f"event lookup by id (no time) over {len(partitions.partitions_parts())} event partitions "
                f"({layout}s): median {statistics.median(event_timings) * 1000:.2f} ms of {len(event_ids)}"
            )
            count = len(partitions.partitions_parts(table))
            timings = []
            for n in range(args.lookups):
                trace_id = f"{days[n % len(days)]}-{1 + n % args.per_day}"
                started = time.perf_counter()
                assert selectors.trace_get(project=project, trace_id=trace_id) is not None
                timings.append(time.perf_counter() - started)
            medians[layout] = statistics.median(timings)
            # Where the time goes: planning (every partition considered) or execution.
            sql, params = (
                Trace.objects.filter(project=project, trace_id=f"{days[0]}-1")
                .order_by("pk")[:1]
                .query.sql_with_params()
            )
            cursor.execute(f"EXPLAIN (ANALYZE, SUMMARY) {sql}", params)
            summary = [
                row[0] for row in cursor.fetchall() if row[0].startswith(("Planning Time", "Execution Time"))
            ]
            lines.append(
                f"trace page lookup by id over {count} partitions ({layout}s): median "
                f"{medians[layout] * 1000:.2f} ms of {args.lookups} ({'; '.join(summary)})"
            )
            for each in (table, partitions.EVENT_TABLE):
                for part in partitions.partitions_parts(each):
                    if part.start.date() in days:
                        cursor.execute(f"DROP TABLE {part.name}")
        lines.append(f"hour layout / day layout: {medians['hour'] / medians['day']:.1f}x")
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
