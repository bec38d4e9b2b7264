"""Incremental aggregation: a pass counts only the events queued since the last one, each once."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services as account_services
from accounts.models import Project
from telemetry import services as telemetry_services
from telemetry.models import (
    BUCKET_FIELDS,
    LATENCY_BUCKETS_MS,
    HourBreakdown,
    HourRollup,
    MinuteBreakdown,
    MinuteRollup,
    PendingEvent,
    ValidationEvent,
)

from .conftest import NOW, Cast, make_event

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)

ROOT = Path(__file__).resolve().parents[2]
INTS = (
    "count",
    "violations",
    "errors",
    "fixes_attempted",
    "fixes_succeeded",
    "prompt_tokens",
    "completion_tokens",
)
FLOATS = ("latency_sum_ms", "llm_latency_sum_ms")


def _bucket(ms: float) -> int:
    return next(i for i, upper in enumerate(LATENCY_BUCKETS_MS) if ms < upper)


def recount(project: Project, unit: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Aggregate the project's raw events from scratch, in Python, by ``unit`` ("minute"/"hour")."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in ValidationEvent.objects.filter(project=project):
        at = e.timestamp.replace(second=0, microsecond=0)
        if unit == "hour":
            at = at.replace(minute=0)
        key = (at, e.contract, e.contract_version or 0, e.experiment or "", e.variant or "")
        row = out.setdefault(key, {**dict.fromkeys(INTS, 0), **dict.fromkeys(FLOATS, 0.0), "hist": [0] * 14})
        row["count"] += 1
        row["violations"] += not e.is_valid
        row["errors"] += e.error
        row["fixes_attempted"] += e.auto_fix_attempted
        row["fixes_succeeded"] += e.auto_fix_succeeded
        row["prompt_tokens"] += e.prompt_tokens or 0
        row["completion_tokens"] += e.completion_tokens or 0
        row["latency_sum_ms"] += e.latency_ms
        row["llm_latency_sum_ms"] += e.llm_latency_ms or 0.0
        row["hist"][_bucket(e.latency_ms)] += 1
    return out


def stored(
    model: type[MinuteRollup] | type[HourRollup], project: Project
) -> dict[tuple[Any, ...], dict[str, Any]]:
    out = {}
    for r in model.objects.filter(project=project):
        key = (r.bucket, r.contract, r.contract_version, r.experiment, r.variant)
        out[key] = {
            **{f: getattr(r, f) for f in INTS},
            **{f: getattr(r, f) for f in FLOATS},
            "hist": [getattr(r, f) for f in BUCKET_FIELDS],
        }
    return out


def assert_equal_to_recount(project: Project) -> None:
    for model, unit in ((MinuteRollup, "minute"), (HourRollup, "hour")):
        expected, actual = recount(project, unit), stored(model, project)
        assert actual.keys() == expected.keys(), unit
        for key, row in expected.items():
            assert {f: actual[key][f] for f in (*INTS, "hist")} == {f: row[f] for f in (*INTS, "hist")}, key
            for f in FLOATS:
                assert actual[key][f] == pytest.approx(row[f], rel=1e-9, abs=1e-5), (key, f)
    for breakdown, unit in ((MinuteBreakdown, "minute"), (HourBreakdown, "hour")):
        want: Counter[tuple[Any, ...]] = Counter()
        bad: Counter[tuple[Any, ...]] = Counter()
        for e in ValidationEvent.objects.filter(project=project):
            at = e.timestamp.replace(second=0, microsecond=0)
            at = at.replace(minute=0) if unit == "hour" else at
            want[(at, e.model, e.severity)] += 1
            bad[(at, e.model, e.severity)] += not e.is_valid
        got = {
            (b.bucket, b.model, b.severity): (b.count, b.violations)
            for b in breakdown.objects.filter(project=project)
        }
        assert got == {k: (n, bad[k]) for k, n in want.items()}, unit


event_fields = st.fixed_dictionaries(
    {
        # Minutes before NOW, over three hours: arrival order and bucket order differ.
        "minutes": st.integers(0, 180),
        "seconds": st.integers(0, 59),
        "contract": st.sampled_from(["json_format", "pii"]),
        "contract_version": st.sampled_from([None, 1, 2]),
        "variant": st.sampled_from([None, "a", "b"]),
        "is_valid": st.booleans(),
        "error": st.booleans(),
        # Bucket edges included: 1 ms is the first bucket's exclusive upper bound.
        "latency_ms": st.sampled_from([0.0, 0.999, 1.0, 4.5, 99.99, 100.0, 2500.0, 12000.0]),
        "llm_latency_ms": st.sampled_from([None, 0.5, 300.0]),
        "prompt_tokens": st.sampled_from([None, 0, 17, 70_000]),
        "model": st.sampled_from(["gpt-4o-mini", "claude"]),
        "severity": st.sampled_from(["warning", "error"]),
    }
)


def _event(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    at = NOW - timedelta(minutes=fields.pop("minutes"), seconds=fields.pop("seconds"))
    variant = fields.pop("variant")
    return make_event(
        event_id=uuid.uuid4().hex,
        timestamp=at.isoformat(),
        experiment="exp" if variant else None,
        variant=variant,
        auto_fix_attempted=not fields["is_valid"],
        **fields,
    )


class TestIncrementalEqualsRecount:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        events=st.lists(event_fields, min_size=1, max_size=40),
        data=st.data(),
    )
    def test_any_arrival_order_with_passes_in_between_gives_the_recount(
        self, cast: Cast, events: list[dict[str, Any]], data: st.DataObject
    ) -> None:
        project = cast.project_a
        for model in (ValidationEvent, MinuteRollup, HourRollup, MinuteBreakdown, HourBreakdown):
            model.objects.filter(project=project).delete()  # type: ignore[attr-defined]
        PendingEvent.objects.all().delete()
        items = [_event(e) for e in events]
        order = data.draw(st.permutations(items), label="arrival order")
        batches: list[list[dict[str, Any]]] = []
        i = 0
        while i < len(order):
            size = data.draw(st.integers(1, 8), label="batch size")
            batches.append(order[i : i + size])
            i += size
        for batch in batches:
            telemetry_services.event_ingest_batch(project=project, events=batch)
            if data.draw(st.booleans(), label="resend the batch"):
                # A retry of the same batch: duplicates, never counted.
                assert telemetry_services.event_ingest_batch(project=project, events=batch).accepted == 0
            if data.draw(st.booleans(), label="a pass now"):
                telemetry_services.rollups_aggregate()
        telemetry_services.rollups_aggregate()
        assert ValidationEvent.objects.filter(project=project).count() == len(items)
        assert not PendingEvent.objects.exists()
        assert_equal_to_recount(project)


class TestPassCost:
    def test_a_pass_reads_only_what_arrived_since_the_last(self, cast: Cast) -> None:
        telemetry_services.event_ingest_batch(
            project=cast.project_a, events=[make_event() for _ in range(500)]
        )
        assert telemetry_services.rollups_aggregate().events == 500
        late = [make_event(timestamp=(NOW - timedelta(hours=2)).isoformat()) for _ in range(3)]
        telemetry_services.event_ingest_batch(project=cast.project_a, events=late)
        # Three late events in an old bucket: three read, not the 500 of the busy bucket.
        assert telemetry_services.rollups_aggregate().events == 3
        assert_equal_to_recount(cast.project_a)

    def test_an_idle_pass_asks_the_database_a_fixed_handful_of_queries(
        self, cast: Cast, django_assert_max_num_queries: Any
    ) -> None:
        telemetry_services.event_ingest_batch(
            project=cast.project_a, events=[make_event() for _ in range(200)]
        )
        telemetry_services.rollups_aggregate()
        with django_assert_max_num_queries(3):
            result = telemetry_services.rollups_aggregate()
        assert result.events == 0

    def test_a_project_locked_by_another_worker_is_left_to_it(
        self, cast: Cast, transactional_db: None
    ) -> None:
        telemetry_services.event_ingest_batch(project=cast.project_a, events=[make_event() for _ in range(5)])
        telemetry_services.event_ingest_batch(project=cast.project_b, events=[make_event() for _ in range(7)])
        held = threading.Event()
        release = threading.Event()

        def other_worker() -> None:
            from django.db import connection as own
            from django.db import transaction

            with transaction.atomic(), own.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    [telemetry_services._LOCK_CLASS, cast.project_a.pk],
                )
                held.set()
                release.wait(10)
            own.close()

        thread = threading.Thread(target=other_worker)
        thread.start()
        try:
            assert held.wait(10)
            result = telemetry_services.rollups_aggregate()
        finally:
            release.set()
            thread.join()
        assert (result.events, result.busy_projects) == (7, 1)
        assert telemetry_services.rollups_aggregate().events == 5
        assert_equal_to_recount(cast.project_a)


SUCCEEDED = re.compile(r"succeeded in [0-9.]+s: (\{.*\})")


@pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"), reason="needs CELERY_BROKER_URL on Redis"
)
class TestTwoWorkers:
    def test_two_celery_workers_share_the_projects_and_count_each_event_once(
        self, transactional_db: None, tmp_path: Path
    ) -> None:
        from dashboard.celery import app as celery_app
        from telemetry import tasks as telemetry_tasks

        projects = [account_services.project_create(name=f"Shard {i}") for i in range(12)]
        for project in projects:
            for _ in range(4):
                telemetry_services.event_ingest_batch(
                    project=project,
                    events=[
                        make_event(
                            event_id=uuid.uuid4().hex,
                            timestamp=(NOW - timedelta(minutes=m % 200)).isoformat(),
                        )
                        for m in range(250)
                    ],
                )
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            # Small chunks: each project takes many transactions, so the workers interleave.
            "ROLLUP_CHUNK": "100",
            "EVENT_MAX_AGE_S": str(int((time.time() - NOW.timestamp()) + 30 * 24 * 3600)),
        }
        celery_app.control.purge()
        logs = [tmp_path / f"w{i}.log" for i in (1, 2)]
        outputs = [log.open("w") for log in logs]
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "dashboard",
                    "worker",
                    "--pool=solo",
                    "--prefetch-multiplier=1",
                    "-O",
                    "fair",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"scale-w{i}@%h",
                    "-l",
                    "info",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for i, out in zip((1, 2), outputs, strict=True)
        ]
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                log.exists() and "ready." in log.read_text() for log in logs
            ):
                time.sleep(0.2)
            for _ in range(4):
                telemetry_tasks.rollups_aggregate.delay()
            # Ingest goes on while the workers count: those events are counted once too.
            more = [make_event(event_id=uuid.uuid4().hex) for _ in range(300)]
            telemetry_services.event_ingest_batch(project=projects[0], events=more)
            deadline = time.monotonic() + 120
            while (
                time.monotonic() < deadline
                and sum(len(SUCCEEDED.findall(log.read_text())) for log in logs) < 4
            ):
                time.sleep(0.2)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
            for out in outputs:
                out.close()
        results = {
            log.name: [ast.literal_eval(m) for m in SUCCEEDED.findall(log.read_text())] for log in logs
        }
        assert sum(len(r) for r in results.values()) == 4, {log.name: log.read_text()[-2000:] for log in logs}
        # Both workers counted events: the projects were shared out, not done by one.
        assert all(sum(r["events"] for r in per) > 0 for per in results.values()), results
        counted = sum(r["events"] for per in results.values() for r in per)
        counted += telemetry_services.rollups_aggregate().events
        total = ValidationEvent.objects.count()
        assert total == 12 * 1000 + 300
        # Every queued event was taken exactly once, and the rollups equal a recount.
        assert counted == total
        assert not PendingEvent.objects.exists()
        for project in projects:
            assert_equal_to_recount(project)


class TestLargeTables:
    def test_a_chunk_reads_its_events_by_key_not_the_whole_events_table(self, cast: Cast) -> None:
        # A plain join let the planner hash every stored event for each chunk: seconds a chunk
        # at ten million events. Each queued event must be one lookup by its primary key.
        for _ in range(16):
            telemetry_services.event_ingest_batch(
                project=cast.project_a, events=[make_event() for _ in range(500)]
            )
        assert telemetry_services.rollups_aggregate().events == 8000
        telemetry_services.event_ingest_batch(
            project=cast.project_a, events=[make_event() for _ in range(500)]
        )
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ValidationEvent._meta.db_table}")
            cursor.execute(f"ANALYZE {PendingEvent._meta.db_table}")
            pending = PendingEvent.objects.filter(project_id=cast.project_a.pk).order_by("id")[:5000]
            sql, params = telemetry_services._take_sql(pending, cast.project_a.pk)
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Hash Join" not in plan and "Merge Join" not in plan, plan
        assert "Index Scan using contracts_app_validationevent_default_pkey" in plan, plan
        assert telemetry_services.rollups_aggregate().events == 500
        assert_equal_to_recount(cast.project_a)
