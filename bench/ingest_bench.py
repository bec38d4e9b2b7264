"""Benchmark the control plane's ingest and aggregation on Postgres.

Usage: ``DATABASE_URL=postgres://... python bench/ingest_bench.py [--ingest-events N] [--events N]``.

1. Sustained ingest through the API (the Django stack in process: middleware, gzip, auth,
   per-item validation, redaction, COPY to staging + INSERT ... ON CONFLICT), batches of 500.
2. The same rows written by one raw binary psycopg ``COPY``; the ratio of the two (goal >= 30%).
3. One aggregation pass (minute and hour rollups) over ``--events`` events.

It runs in its own database (``test_llmc_ingest_bench``), created and dropped here; the
database named by DATABASE_URL is only used to connect.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BATCH = 500
GOAL = 0.30
CONTRACTS = ["ticket_schema", "pii", "prompt_injection", "length", "no_refusal"]


def events(n: int, *, seed: int, span: timedelta, prefix: str) -> list[dict[str, Any]]:
    """Return ``n`` realistic events spread over ``span`` before now."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        valid = rng.random() > 0.1
        out.append(
            {
                "event_id": f"{prefix}-{i}",
                "call_id": f"{prefix}-c{i // 3}",
                "timestamp": (now - span * rng.random()).isoformat(),
                "contract": rng.choice(CONTRACTS),
                "contract_version": rng.choice([None, 1, 2]),
                "category": "output",
                "is_valid": valid,
                "error": False,
                "severity": "error",
                "enforcement": "strict",
                "message": "" if valid else "the answer is not valid JSON: Expecting value at line 1",
                "outcome": "passed" if valid else "repaired",
                "input_excerpt": "File a ticket: the printer on floor 3 is on fire again, send someone.",
                "output_excerpt": '{"title": "Printer on fire", "priority": "high"}',
                "latency_ms": round(rng.lognormvariate(0, 1), 3),
                "llm_latency_ms": round(rng.uniform(200, 900), 1),
                "model": "gpt-4o-mini",
                "provider": "openai",
                "endpoint": "chat.completions",
                "prompt_tokens": rng.randrange(20, 400),
                "completion_tokens": rng.randrange(5, 200),
                "auto_fix_attempted": not valid,
                "auto_fix_succeeded": not valid,
                "retries": 0 if valid else 1,
                "session_id": None,
                "turn": None,
                "experiment": "exp1",
                "variant": rng.choice(["a", "b"]),
                "trace_id": None,
                "sdk_version": "0.1.0",
            }
        )
    return out


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ingest-events", type=int, default=100_000, help="events sent through the API")
    parser.add_argument("--events", type=int, default=200_000, help="events of the aggregation pass")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("bench/ingest_bench.py needs DATABASE_URL pointing at Postgres", file=sys.stderr)
        return 2
    # A production-like process: no query log, no debug pages.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "ingest-bench-only")
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
    print(f"  API ingest (gzip, validate, redact, COPY + INSERT ON CONFLICT): {api_rate:>10,.0f} events/s")
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
