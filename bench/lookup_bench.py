"""Benchmark the call, event and trace pages over hour partitions, with and without the link's time hint.

Usage: ``DATABASE_URL=postgres://... python bench/lookup_bench.py [--days 30] [--per-day 1000]
[--lookups 60]``.

``--days`` days of hour partitions (both tables: 24 a day) hold ``--per-day`` calls a day,
each with two events and a trace. Then, in one run and interleaved (each sample opens the
same row both ways, in a shuffled order), the pages are opened through Django's test
client as a logged-in owner, without the ``at`` hint (the lookup by id alone, every
partition) and with it (``dashboard.lib.hints``); the medians are the server time of a
page (view, queries and template). It also times ``trace_store`` of a resent trace and of
a new one (its duplicate check still probes every partition), and prints the planning and
execution time of one lookup both ways.

It runs in its own database (``llmc_lookup_bench``, ``--database`` names another), created
and dropped here; the database named by DATABASE_URL is only used to connect.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Two verdicts a call, stamped with the call's time; its trace starts a second earlier.
EVENTS = """
INSERT INTO contracts_app_validationevent (
    project_id, event_id, call_id, "timestamp", received_at, contract, contract_version, category,
    is_valid, error, severity, enforcement, message, outcome, latency_ms, llm_latency_ms, model,
    provider, endpoint, prompt_tokens, completion_tokens, auto_fix_attempted, auto_fix_succeeded,
    retries, trace_id, sdk_version)
SELECT %(project)s, %(prefix)s || g || '-' || v, %(prefix)s || g, at, at, (ARRAY['pii', 'length'])[v], 1,
    'output', v = 2, false, 'error', 'strict', CASE WHEN v = 1 THEN 'an email address' ELSE '' END,
    CASE WHEN v = 1 THEN 'violated' ELSE 'passed' END, 1.5, 400, 'gpt-4o-mini', 'openai',
    'chat.completions', 100, 20, false, false, 0, %(prefix)s || g, '0.1.0'
FROM generate_series(1, %(n)s) g, generate_series(1, 2) v,
    LATERAL (SELECT %(start)s + ((g * 7919) %% %(n)s) * %(step)s + g * interval '0' AS at) t
"""
TRACES = """
INSERT INTO contracts_app_trace (
    project_id, trace_id, call_id, created_at, received_at, outcome, model, steps)
SELECT project_id, call_id, call_id, "timestamp" - interval '1 second', received_at, 'violated', model,
    jsonb_build_array(jsonb_build_object('kind', 'request', 'name', 'chat', 'data', repeat('x', 900)))
FROM contracts_app_validationevent WHERE project_id = %(project)s AND call_id LIKE %(prefix)s || '%%'
    AND contract = 'pii'
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of hour partitions")
    parser.add_argument("--per-day", type=int, default=1000, help="calls a day")
    parser.add_argument("--lookups", type=int, default=60, help="samples per page and way")
    parser.add_argument("--database", default="llmc_lookup_bench", help="the bench's own database")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("bench/lookup_bench.py needs DATABASE_URL pointing at Postgres", file=sys.stderr)
        return 2
    # A production-like process (no query log, no debug pages): the test suite's settings are
    # the production ones with a throw-away secret key and static files served uncollected.
    os.environ["DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts import services as account_services
    from contracts_app import services as contract_services
    from contracts_app.schemas import TraceIn
    from dashboard.lib.hints import at_param
    from telemetry import partitions
    from telemetry.models import ValidationEvent

    setup_test_environment()
    settings.DATABASES["default"]["TEST"]["NAME"] = args.database
    # Traces as old as the oldest day are accepted by trace_store.
    settings.EVENT_MAX_AGE_S = (args.days + 2) * 24 * 3600.0
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    rng = random.Random(args.seed)
    lines = []
    try:
        owner = get_user_model().objects.create_user("bench", "bench@example.org", "bench")
        project = account_services.project_create(name="Bench", owner=owner)
        cursor = connection.cursor()
        today = datetime.now(UTC).date()
        days = [today - timedelta(days=d) for d in range(args.days, 0, -1)]
        started = time.perf_counter()
        # The migrations made day partitions of the days ingest accepts (empty here): those
        # days are made of hours instead.
        for table in partitions.TABLES:
            for part in partitions.partitions_parts(table):
                if part.start.date() in days:
                    cursor.execute(f"DROP TABLE {part.name}")
        for day in days:
            for table in partitions.TABLES:
                partitions.hour_partitions_create(cursor, day, table)
            start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            params = {
                "project": project.pk,
                "prefix": f"{day:%Y%m%d}-",
                "n": args.per_day,
                "start": start,
                "step": timedelta(days=1) / args.per_day,
            }
            cursor.execute(EVENTS, params)
            cursor.execute(TRACES, params)
        for table in partitions.TABLES:
            cursor.execute(f"ANALYZE {table.name}")
        counts = {t.name: len(partitions.partitions_parts(t)) for t in partitions.TABLES}
        print(f"  seeded in {time.perf_counter() - started:.0f} s: {counts}", file=sys.stderr, flush=True)

        client = Client()
        client.force_login(owner)
        base = f"/p/{project.slug}/"
        picked = [f"{rng.choice(days):%Y%m%d}-{rng.randint(1, args.per_day)}" for _ in range(args.lookups)]
        found = {
            e.call_id: e
            for e in ValidationEvent.objects.filter(project=project, event_id__in=[f"{c}-1" for c in picked])
        }
        samples = [(call_id, found[call_id]) for call_id in picked]
        timings: dict[tuple[str, str], list[float]] = {}
        for call_id, event in samples:
            urls = {
                "call page": f"{base}calls/{call_id}/",
                "event page": f"{base}events/{event.pk}/",
                "trace page": f"{base}traces/{call_id}/",
            }
            runs = [(page, way) for page in urls for way in ("no hint", "hint")]
            rng.shuffle(runs)
            for page, way in runs:
                url = urls[page] + (f"?at={at_param(event.timestamp)}" if way == "hint" else "")
                begun = time.perf_counter()
                response = client.get(url)
                timings.setdefault((page, way), []).append(time.perf_counter() - begun)
                assert response.status_code == 200, (url, response.status_code)
        for page in ("call page", "event page", "trace page"):
            plain = statistics.median(timings[(page, "no hint")]) * 1000
            hinted = statistics.median(timings[(page, "hint")]) * 1000
            parts = f"{counts[partitions.EVENTS]} event / {counts[partitions.TRACE_TABLE.name]} trace"
            lines.append(
                f"{page} over {parts} "
                f"partitions: median {plain:.1f} ms without the hint, {hinted:.1f} ms with it "
                f"({plain / hinted:.1f}x), {len(samples)} samples each"
            )

        # Where the time of one lookup goes.
        call_id, event = samples[0]
        qs = ValidationEvent.objects.filter(project=project, pk=event.pk)
        margin = timedelta(seconds=1)
        for way, each in (
            ("no hint", qs),
            (
                "hint",
                qs.filter(timestamp__gte=event.timestamp - margin, timestamp__lt=event.timestamp + margin),
            ),
        ):
            sql, params = each.order_by("pk")[:1].query.sql_with_params()
            cursor.execute(f"EXPLAIN (ANALYZE, SUMMARY) {sql}", params)
            summary = [
                r[0] for r in cursor.fetchall() if r[0].startswith(("Planning Time", "Execution Time"))
            ]
            lines.append(f"event lookup by id, {way}: {'; '.join(summary)}")

        # trace_store: a resent trace (found by the duplicate check) and a new one.
        store: dict[str, list[float]] = {"resent": [], "new": []}
        for n, (call_id, event) in enumerate(samples):
            for kind in rng.sample(["resent", "new"], 2):
                trace = TraceIn.model_validate(
                    {
                        "trace_id": call_id if kind == "resent" else f"new-{n}",
                        "call_id": call_id,
                        "created_at": (event.timestamp - timedelta(seconds=1)).isoformat(),
                        "steps": [],
                    }
                )
                begun = time.perf_counter()
                _, created = contract_services.trace_store(project=project, trace=trace)
                store[kind].append(time.perf_counter() - begun)
                assert created == (kind == "new")
        lines.append(
            "trace_store (duplicate check over every trace partition): median "
            f"{statistics.median(store['resent']) * 1000:.1f} ms resent, "
            f"{statistics.median(store['new']) * 1000:.1f} ms new"
        )
    finally:
        connection.close()
        connection.creation.destroy_test_db(original, verbosity=0)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
