"""Traces partitioned by day on Postgres: partitions made ahead, retention by partition, one trace per id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from contracts_app import services
from contracts_app.models import Trace
from contracts_app.schemas import TraceIn
from telemetry import partitions
from telemetry import services as telemetry_services
from telemetry import tasks as telemetry_tasks

from .conftest import Cast

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs DATABASE_URL on Postgres")

ROOT = Path(__file__).resolve().parents[2]
TRACES = partitions.TRACE_TABLE


def where(trace_id: str) -> list[str]:
    """Return the partitions holding the rows of a trace id."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {TRACES.name} WHERE trace_id = %s", [trace_id])
        return [str(row[0]) for row in cursor.fetchall()]


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return bool(cursor.fetchone()[0])


def store(
    cast: Cast, trace_id: str, created_at: Any, project: Any = None, **fields: Any
) -> tuple[Trace, bool]:
    payload = {"trace_id": trace_id, "created_at": created_at.isoformat(), "steps": [], **fields}
    return services.trace_store(project=project or cast.project_a, trace=TraceIn.model_validate(payload))


def post_trace(client: Client, key: str, trace_id: str, created_at: Any) -> Any:
    trace = {
        "trace_id": trace_id,
        "call_id": "c",
        "created_at": created_at.isoformat(),
        "outcome": "violated",
        "model": "gpt-4o-mini",
        "steps": [
            {"kind": "request", "name": "chat", "started_ms": 0.0, "duration_ms": 0.1, "data": {}},
            {"kind": "outcome", "name": "violated", "started_ms": 5.0, "duration_ms": 0.0, "data": {}},
        ],
    }
    return client.post("/api/v1/traces", trace, content_type="application/json", headers={"X-API-Key": key})


@postgres_only
class TestPartitionCreation:
    def test_the_migration_made_the_traces_table_partitioned_by_day(self, db: None) -> None:
        assert partitions.is_partitioned(TRACES)
        days = partitions.partitions_list(table=TRACES)
        today = timezone.now().date()
        assert today in days and today + timedelta(days=1) in days
        assert days[today] == f"contracts_app_trace_p{today:%Y%m%d}"
        assert exists(TRACES.default)

    def test_the_beat_task_creates_the_trace_days_ahead_once(self, db: None, settings: Any) -> None:
        later = timezone.now() + timedelta(days=20)
        settings.EVENT_MAX_AGE_S = 24 * 3600
        created = partitions.partitions_ensure_all(now=later)
        days = [(later + timedelta(days=d)).date() for d in range(-1, 4)]
        assert created == [partitions.partition_name(d) for d in days] + [
            partitions.partition_name(d, TRACES) for d in days
        ]
        assert partitions.partitions_ensure_all(now=later) == []
        assert telemetry_tasks.partitions_ensure.apply().get() == []

    def test_a_trace_lands_in_its_days_partition_and_a_late_day_takes_its_rows(
        self, cast: Cast, settings: Any
    ) -> None:
        now = timezone.now()
        store(cast, "yesterday", now - timedelta(days=1))
        assert where("yesterday") == [partitions.partition_name((now - timedelta(days=1)).date(), TRACES)]
        # A day with no partition yet (created by hand past the window) goes to the default one.
        far = now - timedelta(days=60)
        settings.EVENT_MAX_AGE_S = 90 * 24 * 3600
        trace, _ = store(cast, "far", far)
        assert where("far") == [TRACES.default]
        settings.EVENT_MAX_AGE_S = 61 * 24 * 3600
        assert partitions.partition_name(far.date(), TRACES) in partitions.partitions_ensure(
            now=now, table=TRACES
        )
        assert where("far") == [partitions.partition_name(far.date(), TRACES)]
        assert Trace.objects.get(trace_id="far").pk == trace.pk


@postgres_only
class TestRetentionByPartition:
    def test_days_past_every_retention_are_dropped_and_a_shorter_one_deletes_in_batches(
        self, cast: Cast, settings: Any
    ) -> None:
        now = timezone.now()
        settings.EVENT_MAX_AGE_S = 45 * 24 * 3600
        partitions.partitions_ensure_all(now=now)
        cast.project_a.retention_days = 30
        cast.project_a.save()
        cast.project_b.retention_days = 10
        cast.project_b.save()
        ages = {"old": 40, "middle": 20, "recent": 5}
        for project in (cast.project_a, cast.project_b):
            for label, age in ages.items():
                for n in range(3):
                    store(cast, f"{project.slug}-{label}-{n}", now - timedelta(days=age), project=project)
        old_partition = partitions.partition_name((now - timedelta(days=40)).date(), TRACES)
        assert exists(old_partition)
        with connection.cursor() as cursor:
            # The test's inserts share its transaction: their deferred foreign key checks
            # must run before a table they touched can be dropped (a real pass runs later).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

        telemetry_services.events_expire(now=now, batch_size=2)
        # The old day went whole, with no row deleted one by one; project B's middle day
        # went row by row.
        assert not exists(old_partition)
        assert exists(partitions.partition_name((now - timedelta(days=20)).date(), TRACES))
        remaining = sorted(Trace.objects.values_list("trace_id", flat=True))
        a, b = cast.project_a.slug, cast.project_b.slug
        assert remaining == sorted(
            [f"{a}-middle-{n}" for n in range(3)]
            + [f"{a}-recent-{n}" for n in range(3)]
            + [f"{b}-recent-{n}" for n in range(3)]
        )
        telemetry_services.events_expire(now=now)
        assert Trace.objects.count() == 9


@postgres_only
class TestOneTracePerId:
    def test_a_trace_id_resent_with_another_day_is_stored_once(self, cast: Cast, client: Client) -> None:
        now = timezone.now()
        assert post_trace(client, cast.key_a, "t-1", now - timedelta(days=2)).status_code == 201
        # The same id, another day: the first copy is found in another partition.
        again = post_trace(client, cast.key_a, "t-1", now)
        assert again.status_code == 200 and again.json() == {"trace_id": "t-1", "created": False}
        assert where("t-1") == [partitions.partition_name((now - timedelta(days=2)).date(), TRACES)]
        # The key is per project: another project may use the same id.
        assert post_trace(client, cast.key_b, "t-1", now).status_code == 201
        assert Trace.objects.filter(trace_id="t-1").count() == 2

    def test_two_uploads_of_one_id_at_once_on_two_days_store_one_trace(
        self, transactional_db: None, cast: Cast
    ) -> None:
        now = timezone.now()
        first_stored = threading.Event()
        results: dict[str, Any] = {}

        def first() -> None:
            try:
                with transaction.atomic():
                    results["first"] = store(cast, "race", now - timedelta(days=1))[1]
                    first_stored.set()
                    # Still uncommitted while the second upload looks for the id.
                    time.sleep(0.5)
            finally:
                first_stored.set()
                connections.close_all()

        def second() -> None:
            try:
                first_stored.wait(10)
                results["second"] = store(cast, "race", now)[1]
            finally:
                connections.close_all()

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == {"first": True, "second": False}
        assert Trace.objects.filter(trace_id="race").count() == 1


@postgres_only
class TestPagesAndApi:
    def test_the_trace_breakpoint_and_compare_pages_read_across_partitions(
        self, cast: Cast, client: Client
    ) -> None:
        now = timezone.now()
        bp = services.breakpoint_create(project=cast.project_a, contract="SupportReply", rate_per_minute=None)
        for trace_id, age in (("left", 2), ("right", 0)):
            response = client.post(
                "/api/v1/traces",
                {
                    "trace_id": trace_id,
                    "created_at": (now - timedelta(days=age)).isoformat(),
                    "breakpoint_id": bp.pk,
                    "steps": [],
                },
                content_type="application/json",
                headers={"X-API-Key": cast.key_a},
            )
            assert response.status_code == 201
        assert len({*where("left"), *where("right")}) == 2
        client.force_login(cast.owner)
        slug = cast.project_a.slug
        for url in (
            f"/p/{slug}/traces/left/",
            f"/p/{slug}/traces/right/",
            f"/p/{slug}/traces/compare/?t=left&t=right",
            f"/p/{slug}/breakpoints/{bp.pk}/",
        ):
            response = client.get(url)
            assert response.status_code == 200, url
        page = client.get(f"/p/{slug}/breakpoints/{bp.pk}/").content.decode()
        assert "left" in page and "right" in page
        assert client.get(f"/p/{slug}/traces/missing/").status_code == 404


@postgres_only
class TestMigration:
    def test_rows_of_the_plain_table_are_all_in_the_partitioned_one(self) -> None:
        """The migration converts a plain table holding traces: same rows, same ids, then new ids."""
        env = {**os.environ, "DATABASE_URL": _scratch_url()}
        out = subprocess.run(
            [sys.executable, "-c", _MIGRATION_SCRIPT],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert report["plain_before"] is True and report["partitioned_after"] is True
        assert len(report["before"]) == 5
        assert report["after"] == report["before"]
        # Each row sits in its day's partition, the one outside the window in the default.
        assert report["where"] == report["expected_where"]
        assert report["new_id"] > max(row[0] for row in report["before"])


def _scratch_url() -> str:
    url = os.environ["DATABASE_URL"]
    base, _, name = url.rpartition("/")
    return f"{base}/{name.split('?')[0]}_migration"


_MIGRATION_SCRIPT = r"""
import json, os
from datetime import UTC, datetime, timedelta
import psycopg
from psycopg import sql
from django.conf import settings

url = os.environ["DATABASE_URL"]
name = url.rpartition("/")[2]
admin = url.rpartition("/")[0] + "/postgres"
with psycopg.connect(admin, autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django.setup()
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

call_command("migrate", "contracts_app", "0012_merge_series_index_and_app_split", verbosity=0)
for app in sorted({app for app, _ in MigrationLoader(connection).graph.leaf_nodes()} - {"contracts_app"}):
    call_command("migrate", app, verbosity=0)

from django.contrib.auth.models import User
from accounts import services as account_services
from contracts_app.models import Breakpoint, Trace
from telemetry import partitions

owner = User.objects.create_user("owner", "o@example.org", "pw")
project = account_services.project_create(name="Alpha", owner=owner)
bp = Breakpoint.objects.create(project=project, contract="c")
now = datetime.now(UTC)
ages = [0, 0, 3, 20, 800]  # days; the last one is older than the migration's 400 days
for n, age in enumerate(ages):
    Trace.objects.create(
        project=project, trace_id=f"t{n}", call_id=f"c{n}", created_at=now - timedelta(days=age),
        breakpoint=bp if n % 2 else None, outcome="violated", model="m", steps=[{"kind": "request", "n": n}],
    )

def rows():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, project_id, trace_id, call_id, created_at::text, received_at::text, breakpoint_id, "
            "outcome, model, steps::text FROM contracts_app_trace ORDER BY id"
        )
        return [list(r) for r in cursor.fetchall()]

before = rows()
plain_before = not partitions.is_partitioned(partitions.TRACE_TABLE)
call_command("migrate", verbosity=0)
after = rows()
with connection.cursor() as cursor:
    cursor.execute("SELECT trace_id, tableoid::regclass::text FROM contracts_app_trace ORDER BY trace_id")
    where = dict(cursor.fetchall())
expected = {
    f"t{n}": partitions.TRACE_TABLE.default if age > 400
    else partitions.partition_name((now - timedelta(days=age)).date(), partitions.TRACE_TABLE)
    for n, age in enumerate(ages)
}
new = Trace.objects.create(project=project, trace_id="new", created_at=now)
report = {
    "plain_before": plain_before, "partitioned_after": partitions.is_partitioned(partitions.TRACE_TABLE),
    "before": before, "after": after, "where": where, "expected_where": expected, "new_id": new.pk,
}
connection.close()
with psycopg.connect(admin, autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
print(json.dumps(report))
"""


@pytest.mark.skipif(ON_POSTGRES, reason="the plain table of SQLite")
class TestSqliteKeepsThePlainTable:
    def test_retention_deletes_expired_traces_and_an_id_is_stored_once(self, cast: Cast) -> None:
        now = timezone.now()
        assert not partitions.is_partitioned(TRACES)
        assert partitions.partitions_ensure_all(now=now) == []
        for n in range(3):
            store(cast, f"old-{n}", now - timedelta(days=40))
        store(cast, "recent", now - timedelta(days=1))
        assert store(cast, "recent", now)[1] is False
        telemetry_services.events_expire(now=now, batch_size=2)
        assert list(Trace.objects.values_list("trace_id", flat=True)) == ["recent"]
