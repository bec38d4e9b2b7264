"""The read-replica router (dashboard/db_router.py): page reads on the replica, the rest on the primary.

The replica is a second Django database alias on the same Postgres server, a TEST MIRROR
of the default one (tests/settings.py), as Django documents for testing replicas: its
own connection to the same database. The tests are transactional, since a mirror's
connection does not see rows another connection has not committed (as a real replica).
Which connection ran each query tells where the router sent it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, router, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.models import Project
from dashboard.db_router import PIN_COOKIE, ReplicaReadsMiddleware
from telemetry import services as telemetry_services
from telemetry.models import AlertRule, ValidationEvent
from tests.server.conftest import Cast, Poster, make_event

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
    ),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def replica(settings: Any) -> str:
    settings.DATABASE_READ_REPLICA = "replica"
    settings.DATABASE_REPLICA_PIN_S = 7
    return "replica"


class Queries:
    def __init__(self) -> None:
        self.primary: list[str] = []
        self.replica: list[str] = []


@pytest.fixture
def queries() -> Iterator[Callable[[], Any]]:
    """Return a context manager that records the SQL each connection ran inside it."""
    import contextlib

    @contextlib.contextmanager
    def capture() -> Iterator[Queries]:
        out = Queries()
        with (
            CaptureQueriesContext(connections["default"]) as p,
            CaptureQueriesContext(connections["replica"]) as r,
        ):
            yield out
        out.primary = [q["sql"] for q in p.captured_queries]
        out.replica = [q["sql"] for q in r.captured_queries]

    yield capture


def events_sql(sqls: list[str]) -> list[str]:
    return [s for s in sqls if ValidationEvent._meta.db_table in s]


@pytest.fixture
def owner(client: Client, cast: Cast) -> Client:
    client.force_login(cast.owner)
    return client


@pytest.fixture
def stored(cast: Cast) -> list[dict[str, Any]]:
    events = [
        make_event(is_valid=False, outcome="violated", message="the reply names a customer", model="gpt-4o")
        for _ in range(3)
    ]
    telemetry_services.event_ingest_batch(project=cast.project_a, events=events)
    return events


class TestWithoutAReplica:
    def test_every_query_goes_to_the_primary(
        self, owner: Client, cast: Cast, stored: list[dict[str, Any]], queries: Any
    ) -> None:
        with queries() as q:
            response = owner.get(f"/p/{cast.project_a.slug}/violations/")
        assert response.status_code == 200
        assert stored[0]["call_id"] in response.content.decode()
        assert q.replica == [] and events_sql(q.primary)
        assert PIN_COOKIE not in response.cookies


class TestPageReads:
    @pytest.mark.parametrize("page", ["violations/", "violations/?model=gpt-4o&q=customer", "", "health/"])
    def test_a_page_reads_from_the_replica_only(
        self, replica: str, owner: Client, cast: Cast, stored: list[dict[str, Any]], queries: Any, page: str
    ) -> None:
        with queries() as q:
            response = owner.get(f"/p/{cast.project_a.slug}/{page}")
        assert response.status_code == 200
        # The session, the user, the project and the events: all read on the replica.
        assert q.primary == []
        assert q.replica
        if page.startswith("violations"):
            assert stored[0]["call_id"] in response.content.decode()
            assert events_sql(q.replica)
        assert PIN_COOKIE not in response.cookies

    def test_the_api_reads_from_the_primary(
        self, replica: str, cast: Cast, post_events: Poster, queries: Any, client: Client
    ) -> None:
        with queries() as q:
            response = post_events(cast.key_a, [make_event()])
            health = client.get("/api/v1/health")
        assert response.json()["accepted"] == 1, response.content
        assert health.status_code == 200
        assert q.replica == [] and q.primary
        assert PIN_COOKIE not in response.cookies


class TestWrites:
    def test_a_form_writes_on_the_primary_and_pins_the_browser_to_it(
        self, replica: str, owner: Client, cast: Cast, queries: Any
    ) -> None:
        with queries() as q:
            response = owner.post(
                f"/p/{cast.project_a.slug}/settings/project/",
                {"retention_days": "12", "alert_webhook_url": ""},
            )
        assert response.status_code in (200, 302)
        assert q.replica == []
        assert any(s.startswith("UPDATE") for s in q.primary)
        cookie = response.cookies[PIN_COOKIE]
        assert cookie["max-age"] == 7 and cookie["httponly"]
        # The page the form leads to reads the primary, so it shows what was saved even
        # while the replica lags; without the cookie, pages read the replica again.
        with queries() as q:
            page = owner.get(f"/p/{cast.project_a.slug}/settings/")
        assert page.status_code == 200 and q.replica == [] and q.primary
        owner.cookies.pop(PIN_COOKIE)
        with queries() as q:
            owner.get(f"/p/{cast.project_a.slug}/settings/")
        assert q.primary == [] and q.replica

    def test_a_login_runs_on_the_primary_and_its_first_pages_too(
        self, replica: str, client: Client, cast: Cast, queries: Any
    ) -> None:
        with queries() as q:
            response = client.post("/login/", {"username": "alice", "password": "password"})
        assert response.status_code == 302
        assert q.replica == [] and q.primary
        assert PIN_COOKIE in response.cookies
        # The session was just written on the primary: the next page reads it there.
        with queries() as q:
            page = client.get(f"/p/{cast.project_a.slug}/")
        assert page.status_code == 200 and q.replica == []

    def test_a_page_that_wrote_reads_its_own_write_from_the_primary(
        self, replica: str, cast: Cast, queries: Any
    ) -> None:
        seen: list[str] = []

        def view(request: HttpRequest) -> HttpResponse:
            seen.append(Project.objects.filter(pk=cast.project_a.pk).db)
            AlertRule.objects.create(
                project=cast.project_a, contract="pii", metric="violation_rate", threshold=0.5
            )
            seen.append(Project.objects.filter(pk=cast.project_a.pk).db)
            # A transaction on the primary reads there too.
            return HttpResponse(str(AlertRule.objects.filter(project=cast.project_a).count()))

        with queries() as q:
            response = ReplicaReadsMiddleware(view)(RequestFactory().get("/p/alpha/"))
        assert seen == ["replica", "default"]
        assert response.content == b"1"
        assert any("alertrule" in s for s in q.primary if s.startswith("SELECT"))
        assert response.cookies[PIN_COOKIE]["max-age"] == 7

    def test_reads_in_a_transaction_on_the_primary_stay_there(self, replica: str, cast: Cast) -> None:
        seen: list[str] = []

        def view(request: HttpRequest) -> HttpResponse:
            seen.append(Project.objects.all().db)
            with transaction.atomic():
                seen.append(Project.objects.all().db)
            return HttpResponse("ok")

        ReplicaReadsMiddleware(view)(RequestFactory().get("/p/alpha/"))
        assert seen == ["replica", "default"]

    def test_outside_a_request_everything_reads_the_primary(
        self, replica: str, cast: Cast, stored: list[dict[str, Any]], queries: Any
    ) -> None:
        # Celery tasks and commands: the aggregation must read its queue where it was written.
        with queries() as q:
            telemetry_services.rollups_aggregate()
        assert q.replica == [] and q.primary
        assert Project.objects.all().db == "default"

    def test_migrations_run_on_the_primary_only(self, replica: str) -> None:
        assert router.allow_migrate("default", "telemetry", model_name="validationevent")
        assert not router.allow_migrate("replica", "telemetry", model_name="validationevent")
        assert router.db_for_write(Project) == "default"


def load(variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import dashboard.settings as s; print(s.DATABASE_READ_REPLICA, sorted(s.DATABASES), "
            "s.DATABASES.get('replica', {}).get('NAME'), s.DATABASES.get('replica', {}).get('TEST'))",
        ],
        env={**base, "DEBUG": "1", **variables},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestSettings:
    def test_unset_there_is_one_database(self, tmp_path: Path) -> None:
        done = load({"STATE_DIR": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "None ['default'] None None"

    def test_set_it_adds_the_replica_alias_mirrored_in_tests(self, tmp_path: Path) -> None:
        done = load(
            {
                "STATE_DIR": str(tmp_path),
                "DATABASE_URL": "postgres://app@primary:5432/contracts",
                "DATABASE_REPLICA_URL": "postgres://reader@replica:5432/contracts",
            }
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "replica ['default', 'replica'] contracts {'MIRROR': 'default'}"

    def test_a_replica_url_that_is_not_postgres_is_refused(self, tmp_path: Path) -> None:
        done = load({"STATE_DIR": str(tmp_path), "DATABASE_REPLICA_URL": "mysql://replica/x"})
        assert done.returncode != 0
        assert "DATABASE_REPLICA_URL" in done.stderr
