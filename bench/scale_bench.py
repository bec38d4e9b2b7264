"""Benchmark what grows with the events table on Postgres: an aggregation pass and retention.

Usage: ``DATABASE_URL=postgres://... python bench/scale_bench.py [--sizes 100000 500000]
[--new 10000] [--retention-rows 1000000]``.

1. Aggregation: the table is filled to each of ``--sizes`` (all of it counted), then
   ``--new`` events arrive spread over the last day (late ones included) and one pass is
   timed; then an idle pass. The pass should cost the same at every size.
2. Retention: ``--retention-rows`` events are written into one old day's partition and
   the retention pass that drops it is timed, while another connection inserts one event
   at a time into today's partition: its longest insert is how long the pass held up
   ingest. The same rows deleted one batch at a time, as a plain table must, are timed on
   a tenth of them for comparison.

It runs in its own database (``test_llmc_scale_bench``), created and dropped here; the
database named by DATABASE_URL is only used to connect.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Rows made by the database itself: the bench measures the aggregation and retention,
# not the client that sends the rows.
FILL = """
INSERT INTO contracts_app_validationevent (
    project_id, event_id, call_id, "timestamp", received_at, contract, contract_version, category,
    is_valid, error, severity, enforcement, message, outcome, latency_ms, llm_latency_ms, model,
    provider, endpoint, prompt_tokens, completion_tokens, auto_fix_attempted, auto_fix_succeeded,
    retries, sdk_version)
SELECT %(project)s, %(prefix)s || g, 'c' || g, %(start)s + random() * %(span)s, %(received)s,
    (ARRAY['ticket_schema', 'pii', 'prompt_injection', 'length', 'no_refusal'])[1 + g %% 5],
    NULLIF(g %% 3, 0), 'output', random() > 0.1, false, 'error', 'strict', '', 'passed',
    exp(random() * 6), 200 + random() * 700, (ARRAY['gpt-4o-mini', 'claude-3-5-haiku'])[1 + g %% 2],
    'openai', 'chat.completions', 100 + g %% 400, 20 + g %% 80, false, false, 0, '0.1.0'
FROM generate_series(1, %(n)s) g
"""


def fill(cursor: object, *, project: int, prefix: str, n: int, start: datetime, span: timedelta) -> None:
    cursor.execute(  # type: ignore[attr-defined]
        FILL,
        {
            "project": project,
            "prefix": prefix,
            "n": n,
            "start": start,
            "span": span,
            "received": start + span,
        },
    )


class Writer(threading.Thread):
    """Insert one event at a time on a connection of its own; record each insert's time."""

    def __init__(self, dsn: str, project: int, at: datetime) -> None:
        super().__init__(daemon=True)
        self.dsn, self.project, self.at = dsn, project, at
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.latencies: list[float] = []

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.perf_counter()
                conn.execute(
                    FILL,
                    {
                        "project": self.project,
                        "prefix": f"w{n}-",
                        "n": 1,
                        "start": self.at,
                        "span": timedelta(0),
                        "received": self.at,
                    },
                )
                self.latencies.append(time.perf_counter() - started)
                self.ready.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000], help="table sizes")
    parser.add_argument("--new", type=int, default=10_000, help="events arriving before the timed pass")
    parser.add_argument("--retention-rows", type=int, default=1_000_000, help="rows of the dropped day")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("bench/scale_bench.py needs DATABASE_URL pointing at Postgres", file=sys.stderr)
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
    from accounts.models import Project
    from telemetry import partitions
    from telemetry import services as telemetry_services
    from telemetry.models import MinuteRollup, PendingEvent, ValidationEvent

    setup_test_environment()
    settings.DATABASES["default"]["TEST"]["NAME"] = "test_llmc_scale_bench"
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    lines = []
    try:
        now = datetime.now(UTC)
        # Every timestamp of the fill is accepted; a week of day partitions holds them.
        settings.EVENT_MAX_AGE_S = 8 * 24 * 3600
        partitions.partitions_ensure(now=now)
        project = account_services.project_create(name="Bench")
        cursor = connection.cursor()
        stored = 0
        for size in args.sizes:
            started = time.perf_counter()
            fill(
                cursor,
                project=project.pk,
                prefix=f"s{size}-",
                n=size - stored,
                start=now - timedelta(days=7),
                span=timedelta(days=6),
            )
            cursor.execute("ANALYZE")
            fill_s = time.perf_counter() - started
            started = time.perf_counter()
            telemetry_services.rollups_aggregate(now=now)
            catch_up_s = time.perf_counter() - started
            stored = size
            # Draining the backlog left as many dead rows in the queue table; autovacuum
            # clears them within a minute (the table's thresholds are low): done here at once.
            cursor.execute("VACUUM ANALYZE contracts_app_pendingevent")
            started = time.perf_counter()
            telemetry_services.rollups_aggregate(now=now)
            first_idle_s = time.perf_counter() - started
            # New events over the last day: most in fresh minutes, some late into counted ones.
            fill(
                cursor,
                project=project.pk,
                prefix=f"n{size}-",
                n=args.new,
                start=now - timedelta(days=1),
                span=timedelta(days=1),
            )
            started = time.perf_counter()
            result = telemetry_services.rollups_aggregate(now=now)
            pass_s = time.perf_counter() - started
            assert result.events == args.new, result
            stored += args.new
            idle = []
            for _ in range(5):
                started = time.perf_counter()
                telemetry_services.rollups_aggregate(now=now)
                idle.append(time.perf_counter() - started)
            counted = sum(MinuteRollup.objects.values_list("count", flat=True))
            assert counted == stored == ValidationEvent.objects.count(), (counted, stored)
            lines.append(
                f"  table {stored - args.new:>9,} events: pass with {args.new:,} new events "
                f"{pass_s * 1000:7.0f} ms"
                f" ({result.minute_rows:,} minute rows); idle pass median {sorted(idle)[2] * 1000:5.1f} ms"
                f"  [fill {fill_s:.1f} s, counting the fill {catch_up_s:.1f} s, idle pass after it "
                f"{first_idle_s * 1000:.1f} ms]"
            )

        # Retention: one old day with --retention-rows rows, dropped whole.
        other = account_services.project_create(name="Bench retention")
        Project.objects.filter(pk__in=[project.pk, other.pk]).update(retention_days=30)
        old = now - timedelta(days=40)
        day = datetime(old.year, old.month, old.day, tzinfo=UTC)
        with connection.cursor() as ddl:
            partitions.partition_create(ddl, day.date())
            partitions.partition_create(ddl, day.date() - timedelta(days=1))
        fill(cursor, project=other.pk, prefix="r", n=args.retention_rows, start=day, span=timedelta(hours=23))
        tenth = args.retention_rows // 10
        fill(
            cursor,
            project=other.pk,
            prefix="d",
            n=tenth,
            start=day - timedelta(days=1),
            span=timedelta(hours=23),
        )
        PendingEvent.objects.all().delete()
        cursor.execute("ANALYZE")
        name = partitions.partition_name(day.date())
        # The batched delete of the old table, timed on the other day's rows.
        started = time.perf_counter()
        ids_left = True
        deleted = 0
        while ids_left:
            ids = list(
                ValidationEvent.objects.filter(project=other, timestamp__lt=day).values_list("id", flat=True)[
                    : settings.RETENTION_BATCH_SIZE
                ]
            )
            ids_left = bool(ids)
            deleted += ValidationEvent.objects.filter(id__in=ids, timestamp__lt=day).delete()[0]
        batched_s = time.perf_counter() - started
        assert deleted == tenth
        # A writer inserts into today's partition through the pass: the longest insert
        # while the pass ran is the stall it caused.
        params = connection.get_connection_params()
        dsn = " ".join(
            f"{key}={params[key]}"
            for key in ("host", "port", "user", "password", "dbname")
            if params.get(key)
        )
        writer = Writer(dsn, other.pk, now)
        writer.start()
        writer.ready.wait(10)
        time.sleep(0.2)
        before = len(writer.latencies)
        # The detach is the pass's only step on the events table itself: timed apart.
        detach_s: list[float] = []
        detach = partitions._detach

        def timed_detach(name: str) -> bool:
            started = time.perf_counter()
            try:
                return detach(name)
            finally:
                detach_s.append(time.perf_counter() - started)

        partitions._detach = timed_detach  # type: ignore[assignment]
        started = time.perf_counter()
        dropped = partitions.partitions_drop_expired(now=now, longest_retention_days=30)
        drop_s = time.perf_counter() - started
        partitions._detach = detach  # type: ignore[assignment]
        time.sleep(0.2)
        writer.stop.set()
        writer.join(10)
        during = writer.latencies[before:]
        steady = sorted(writer.latencies[:before])[before // 2]
        assert name in dropped, dropped
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.close()
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    print(f"Postgres {version}; ROLLUP_CHUNK={settings.ROLLUP_CHUNK}")
    print("aggregation (one project):")
    print("\n".join(lines))
    print("retention:")
    print(
        f"  retention pass removing the day partition of {args.retention_rows:,} rows: {drop_s * 1000:.0f} ms"
        f" (detach from the events table {sum(detach_s) * 1000:.1f} ms; the rest is dropping the "
        f"detached table, which locks nothing else)"
    )
    print(
        f"  a concurrent one-event insert: longest {max(during) * 1000:.0f} ms during the pass "
        f"({len(during)} inserts), median {steady * 1000:.1f} ms before it"
    )
    print(
        f"  batched row delete (batches of {settings.RETENTION_BATCH_SIZE:,}) of {tenth:,} rows: "
        f"{batched_s * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
