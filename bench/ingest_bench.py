"""Benchmark the control plane's ingest and aggregation on Postgres.

Usage: ``DATABASE_URL=postgres://... python bench/ingest_bench.py [--ingest-events N] [--events N]``.

1. Sustained ingest through the API (the Django stack in process: middleware, gzip, auth,
   validation of the batch at once, redaction, one COPY of a new batch), batches of 500.
2. The same rows written by one raw binary psycopg ``COPY``; the ratio of the two (goal >= 30%).
3. One aggregation pass (minute and hour rollups) over ``--events`` events.

``--http [--workers N] [--concurrency C] [--batch B]``: ingest through the real server
instead. gunicorn starts with N sync workers on a loopback port against its own database;
C client threads (httpx, default 2 per worker) post the ``--ingest-events`` events in gzip
batches of B, each batch once (a 429 or 503 sends it again); then the same rows go into the
same emptied table by one raw binary COPY. Prints events/s, p50/p99 request latency and the
ratio to COPY (goal >= 50%). The load generator runs on the same machine as the server and
Postgres, so on few cores it takes CPU from both.

It runs in its own database (``test_llmc_ingest_bench``), created and dropped here; the
database named by DATABASE_URL is only used to connect.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._stack import (  # noqa: E402
    Batch,
    Stack,
    bench_database,
    gzip_batch,
    percentile,
    run_load,
)
from bench._stack import make_events as events  # noqa: E402

BATCH = 500
GOAL = 0.30
# Through gunicorn, over loopback (issue "scale and operations", goal 4).
HTTP_GOAL = 0.50


def copy_rows(dsn: dict[str, Any], project_id: int, items: list[dict[str, Any]]) -> float:
    """Write ``items`` with one binary COPY on a raw psycopg connection; return the seconds taken."""
    import psycopg

    from telemetry.models import ValidationEvent
    from telemetry.services import _EVENT_COLUMNS, PG_TYPES

    received = datetime.now(UTC)
    rows = [
        tuple(
            project_id
            if c == "project_id"
            else received
            if c == "received_at"
            else datetime.fromisoformat(e["timestamp"])
            if c == "timestamp"
            else e[c]
            for c in _EVENT_COLUMNS
        )
        for e in items
    ]
    table = ValidationEvent._meta.db_table
    with psycopg.connect(**dsn) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types([PG_TYPES[c] for c in _EVENT_COLUMNS])
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def http_database_name() -> str:
    """Return the default database of ``--http``: the one DATABASE_URL names, suffixed.

    Derived from DATABASE_URL so that runs against different databases never drop each
    other's bench database.
    """
    from urllib.parse import urlsplit

    name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "llmc"
    return f"{name}_ingest_http"


def http_main(args: argparse.Namespace) -> int:
    """Ingest through gunicorn over loopback, then the same rows by raw COPY; print the ratio."""
    import tempfile

    with bench_database(args.db_name or http_database_name()) as db, tempfile.TemporaryDirectory() as workdir:
        from django.db import connection

        from accounts import services as account_services
        from telemetry import partitions
        from telemetry.models import ValidationEvent

        partitions.partitions_ensure()
        project = account_services.project_create(name="Bench")
        _, key = account_services.api_key_create(project=project, name="bench")
        items = events(args.ingest_events, seed=1, span=timedelta(hours=1), prefix="http")
        warm = events(args.workers * 4 * args.batch, seed=3, span=timedelta(hours=1), prefix="warm")

        def batches(rows: list[dict[str, Any]]) -> list[Batch]:
            return [
                Batch(
                    # Many SDK instances, as in production: one instance row is a row lock
                    # every batch of that instance takes.
                    gzip_batch(rows[i : i + args.batch], instance=f"bench-{(i // args.batch) % 64}"),
                    [e["event_id"] for e in rows[i : i + args.batch]],
                )
                for i in range(0, len(rows), args.batch)
            ]

        bodies, warm_bodies = batches(items), batches(warm)
        concurrency = args.concurrency or 2 * args.workers
        stack = Stack(db["url"], Path(workdir))
        try:
            url = stack.start_web(args.workers)
            stack.wait_ready()
            # Warm-up: every web process imports its code and opens its database connection.
            warmed = run_load(
                url,
                {0: key},
                lambda i: warm_bodies[i] if i < len(warm_bodies) else None,
                concurrency=concurrency,
            )
            assert not warmed.failures, warmed.failures
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {ValidationEvent._meta.db_table}, contracts_app_pendingevent")
                cursor.execute("VACUUM ANALYZE")
            load = run_load(
                url,
                {0: key},
                lambda i: bodies[i] if i < len(bodies) else None,
                concurrency=concurrency,
                batch_events=args.batch,
            )
            stack.check_alive()
        finally:
            stack.stop()
        assert not load.failures, load.failures[:3]
        assert load.accepted == len(items) and load.rejected == 0, (load.accepted, load.rejected)
        assert ValidationEvent.objects.count() == len(items)
        http_rate = len(items) / load.seconds

        # The same rows by one raw binary COPY into the same (emptied) table.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {ValidationEvent._meta.db_table}, contracts_app_pendingevent")
            cursor.execute("VACUUM ANALYZE")
        copy_s = copy_rows(db["dsn"], project.pk, items)
        copy_rate = len(items) / copy_s
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    ratio = http_rate / copy_rate
    print(
        f"Postgres {version}, {os.cpu_count()} cores; gunicorn with {args.workers} sync workers on loopback, "
        f"{concurrency} client threads, gzip batches of {args.batch}, {len(items):,} events"
    )
    print(f"  HTTP ingest through gunicorn:       {http_rate:>10,.0f} events/s  ({load.seconds:.1f} s)")
    print(
        f"  request latency: p50 {percentile(load.latencies_ms, 0.5):.0f} ms, "
        f"p99 {percentile(load.latencies_ms, 0.99):.0f} ms over {len(load.latencies_ms)} requests "
        f"({load.retries} answered 429/503 and were sent again)"
    )
    print(f"  raw binary COPY of the same rows:   {copy_rate:>10,.0f} rows/s")
    print(f"  ratio: {ratio:.0%} (goal >= {HTTP_GOAL:.0%})")
    ok = ratio >= HTTP_GOAL
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ingest-events", type=int, default=100_000, help="events sent through the API")
    parser.add_argument("--events", type=int, default=200_000, help="events of the aggregation pass")
    parser.add_argument(
        "--http", action="store_true", help="ingest through gunicorn over loopback instead of in process"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (--http)")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="client threads (--http; default: 2 per gunicorn worker)"
    )
    parser.add_argument("--batch", type=int, default=BATCH, help="events per request (--http)")
    parser.add_argument(
        "--db-name",
        default="",
        help="database created and dropped (--http; default: DATABASE_URL's name + _ingest_http)",
    )
    args = parser.parse_args()
    if args.http:
        if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
            print("bench/ingest_bench.py needs DATABASE_URL pointing at Postgres", file=sys.stderr)
            return 2
        return http_main(args)
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("bench/ingest_bench.py needs DATABASE_URL pointing at Postgres", file=sys.stderr)
        return 2
    # A production-like process: no query log, no debug pages.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts import services as account_services
    from telemetry import services as telemetry_services
    from telemetry.models import MinuteRollup, PendingEvent, ValidationEvent, Watermark

    setup_test_environment()
    settings.DATABASES["default"]["TEST"]["NAME"] = "test_llmc_ingest_bench"
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        db = settings.DATABASES["default"]
        dsn = {
            "dbname": db["NAME"],
            "user": db["USER"],
            "host": db["HOST"],
            "port": db["PORT"] or 5432,
            "password": db["PASSWORD"] or None,
        }
        project = account_services.project_create(name="Bench")
        _, key = account_services.api_key_create(project=project, name="bench")
        client = Client()

        # 1. Through the API.
        items = events(args.ingest_events, seed=1, span=timedelta(hours=1), prefix="api")
        bodies = [
            gzip.compress(
                json.dumps(
                    {
                        "sdk": {"name": "bench", "version": "0", "instance_id": "bench-1"},
                        "events": items[i : i + BATCH],
                    }
                ).encode()
            )
            for i in range(0, len(items), BATCH)
        ]
        headers = {"X-API-Key": key, "Content-Encoding": "gzip"}
        client.post("/api/v1/events", bodies[0], content_type="application/json", headers=headers)  # warm-up
        ValidationEvent.objects.all().delete()
        started = time.perf_counter()
        for body in bodies:
            response = client.post("/api/v1/events", body, content_type="application/json", headers=headers)
            assert response.status_code == 207 and response.json()["rejected"] == 0, response.content[:300]
        api_s = time.perf_counter() - started
        assert ValidationEvent.objects.count() == len(items)
        api_rate = len(items) / api_s

        # 2. The same rows by raw COPY, into the same (emptied) table with the same indexes.
        ValidationEvent.objects.all().delete()
        copy_s = copy_rows(dsn, project.pk, items)
        copy_rate = len(items) / copy_s
        ratio = api_rate / copy_rate

        # 3. One aggregation pass over --events events spread over a day.
        ValidationEvent.objects.all().delete()
        # The queue still names the deleted rows of steps 1 and 2.
        PendingEvent.objects.all().delete()
        many = events(args.events, seed=2, span=timedelta(hours=24), prefix="agg")
        copy_rows(dsn, project.pk, many)
        Watermark.objects.all().delete()
        started = time.perf_counter()
        result = telemetry_services.rollups_aggregate()
        agg_s = time.perf_counter() - started
        total = sum(MinuteRollup.objects.values_list("count", flat=True))
        assert total == args.events, (total, args.events)
        started = time.perf_counter()
        telemetry_services.rollups_aggregate()
        again_s = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    print(f"Postgres {version}, batches of {BATCH}, {args.ingest_events} events through the API")
    print(f"  API ingest (gzip, validate, redact, one COPY of a new batch): {api_rate:>10,.0f} events/s")
    print(f"  raw binary COPY of the same rows:                             {copy_rate:>10,.0f} rows/s")
    print(f"  ratio: {ratio:.0%} (goal >= {GOAL:.0%})")
    print(
        f"aggregation pass over {args.events:,} events: {agg_s:.2f} s "
        f"({result.minute_rows:,} minute rows, {result.hour_rows:,} hour rows); "
        f"an idle pass right after: {again_s:.2f} s"
    )
    ok = ratio >= GOAL
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
