"""The load and soak run (bench/soak.py): its checks end to end on a short run, its memory judge,
and the deployment topology it starts being docker/compose.yaml's."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from accounts import services as account_services
from bench._stack import LoadResult, compose_command, percentile
from bench.soak import MIB, build_parser, recount_check, rss_flat, stored_once_check
from telemetry import services
from telemetry.models import MinuteRollup, ValidationEvent

from .conftest import NOW, make_event

ROOT = Path(__file__).resolve().parents[2]


class TestMemoryJudge:
    def test_a_steady_process_with_noise_is_flat(self) -> None:
        # Warm-up growth before t=10 is not judged; afterwards +-3 MiB of noise.
        samples = [(float(t), (100 + t * 5) * MIB) for t in range(10)]
        samples += [(float(t), (150 + (3 if t % 2 else -3)) * MIB) for t in range(10, 40)]
        ok, detail = rss_flat(samples, warmup_until=10, tolerance_mb=10)
        assert ok, detail

    def test_a_leak_after_warm_up_fails(self) -> None:
        # 1 MiB a second after warm-up: 20 MiB between the first and last thirds' medians.
        samples = [(float(t), (150 + t) * MIB) for t in range(10, 40)]
        ok, detail = rss_flat(samples, warmup_until=10, tolerance_mb=10)
        assert not ok
        assert "+20.0" in detail

    def test_the_tolerance_is_the_larger_of_the_floor_and_a_tenth(self) -> None:
        # A 1 GiB process may grow 50 MiB (under a tenth of it), a 100 MiB one may not.
        big = [(float(t), (1024 + (50 if t >= 20 else 0)) * MIB) for t in range(30)]
        small = [(float(t), (100 + (50 if t >= 20 else 0)) * MIB) for t in range(30)]
        assert rss_flat(big, warmup_until=0, tolerance_mb=10)[0]
        assert not rss_flat(small, warmup_until=0, tolerance_mb=10)[0]

    def test_too_few_samples_after_warm_up_are_not_judged_flat(self) -> None:
        ok, detail = rss_flat([(0.0, MIB), (1.0, MIB), (5.0, MIB)], warmup_until=4, tolerance_mb=10)
        assert not ok and "1 samples" in detail

    def test_percentile_is_nearest_rank(self) -> None:
        values = [float(v) for v in range(1, 101)]
        assert percentile(values, 0.5) == 50
        assert percentile(values, 0.99) == 99
        assert percentile([3.0], 0.99) == 3


POSTGRES = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)


@POSTGRES
class TestDatabaseChecks:
    """The soak's checks read the database on a connection of their own: committed rows only."""

    def dsn(self) -> dict[str, object]:
        from django.db import connection

        db = connection.settings_dict
        return {"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"], "port": db["PORT"] or 5432}

    def test_stored_once_passes_then_catches_a_lost_and_a_doubled_event(self, transactional_db: None) -> None:
        project = account_services.project_create(name="Soak check")
        events = [make_event(event_id=f"e{i}", timestamp=NOW.isoformat()) for i in range(3)]
        services.event_ingest_batch(project=project, events=events, now=NOW)
        ids = {e["event_id"] for e in events}
        load = LoadResult(accepted_ids={project.pk: set(ids)})
        check = stored_once_check(self.dsn(), {project.pk: set(ids)}, load)
        assert check.ok, check.detail

        # An accepted event that is not stored.
        lost = LoadResult(accepted_ids={project.pk: ids | {"e9"}})
        check = stored_once_check(self.dsn(), {project.pk: ids | {"e9"}}, lost)
        assert not check.ok and "1 accepted events missing" in check.detail

        # The same id again with another timestamp is a second row (the dedup key's limit).
        later = make_event(event_id="e0", timestamp=(NOW.replace(minute=31)).isoformat())
        assert services.event_ingest_batch(project=project, events=[later], now=NOW).accepted == 1
        check = stored_once_check(self.dsn(), {project.pk: set(ids)}, load)
        assert not check.ok and "1 events stored more than once" in check.detail

    def test_the_recount_passes_then_catches_a_rollup_off_by_one(self, transactional_db: None) -> None:
        project = account_services.project_create(name="Soak recount")
        events = [make_event(event_id=f"r{i}", is_valid=i % 2 == 0) for i in range(5)]
        services.event_ingest_batch(project=project, events=events, now=NOW)
        services.rollups_aggregate(now=NOW)
        assert ValidationEvent.objects.count() == 5
        check = recount_check(self.dsn())
        assert check.ok, check.detail

        MinuteRollup.objects.filter(project=project).update(violations=0)
        check = recount_check(self.dsn())
        assert not check.ok and "minute" in check.detail


class TestTopology:
    def compose(self) -> dict[str, dict[str, object]]:
        data = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
        services: dict[str, dict[str, object]] = data["services"]
        return services

    def test_the_soak_starts_compose_web_and_worker_counts_by_default(self) -> None:
        services = self.compose()
        web = compose_command("web")
        defaults = build_parser().parse_args([])
        assert web[0] == "gunicorn" and web[1] == "dashboard.wsgi:application"
        assert int(web[web.index("--workers") + 1]) == defaults.web_processes == 2
        assert services["worker"]["deploy"] == {"replicas": defaults.workers} == {"replicas": 2}
        assert services["beat"]["deploy"] == {"replicas": 1}
        worker = compose_command("worker")
        assert worker[:4] == ["celery", "-A", "dashboard", "worker"]
        assert worker[worker.index("--concurrency") + 1] == "1"

    def test_the_compose_services_reach_postgres_and_redis_by_their_service_names(self) -> None:
        services = self.compose()
        pairs = [
            line.split("=", 1)
            for line in (ROOT / "docker" / ".env.example").read_text().splitlines()
            if "=" in line and not line.startswith("#")
        ]
        env = dict(pairs)
        database = re.match(r"postgres://(\w+):([^@]*)@(\w+):5432/(\w+)$", env["DATABASE_URL"])
        assert database is not None
        assert database.group(3) in services and services[database.group(3)]["image"] == "postgres:15"
        assert database.group(2) == env["POSTGRES_PASSWORD"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/") and "redis" in services
        for name in ("web", "worker", "beat"):
            assert set(services[name]["depends_on"]) == {"postgres", "redis"}  # type: ignore[arg-type]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres")
    or not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
    reason="needs DATABASE_URL on Postgres and CELERY_BROKER_URL on Redis",
)
def test_a_short_soak_passes_every_check_end_to_end() -> None:
    """gunicorn, two Celery workers and beat as real processes; 9 s of load at 300 events/s."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    env = {**os.environ}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # A session of its own: on a timeout the soak and every server it started are stopped
    # together (they share its process group).
    soak = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            "--minutes",
            "0.15",
            "--rate",
            "300",
            "--web-processes",
            "1",
            "--workers",
            "2",
            "--rollup-interval",
            "2",
            # One batch in seven sent twice: the duplicates path is exercised for sure.
            "--resend",
            "0.15",
            "--db-name",
            f"test_llmc_soak_{worker}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = soak.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(soak.pid, signal.SIGTERM)
        out, err = soak.communicate(timeout=60)
        pytest.fail("the soak did not finish in 240 s:\n" + out + err[-3000:])
    assert soak.returncode == 0, out + err[-3000:]
    for check in (
        "the rate was held",
        "aggregation caught up after the load",
        "every accepted event stored exactly once",
        "rollups equal a recount from raw events",
        "worker lag p99",
        "web p99",
        "memory of every process flat after warm-up",
    ):
        assert f"PASS  {check}" in out, out
    resent = re.search(r"([\d,]+) resent events answered as duplicates", out)
    assert resent is not None and int(resent.group(1).replace(",", "")) > 0, out
    # Every process of the topology was watched: gunicorn's master and worker, two Celery
    # workers with their pool processes, beat.
    assert re.search(r"memory of every process flat after warm-up: 7 processes", out), out
