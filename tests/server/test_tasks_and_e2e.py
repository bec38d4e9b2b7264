"""Celery tasks (eagerly and through the real broker) and the SDK reporting to a live server."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from accounts import services as account_services
from accounts.models import Project
from dashboard import celery_app
from telemetry import services as telemetry_services
from telemetry import tasks as telemetry_tasks
from telemetry.models import HourRollup, MinuteRollup, ValidationEvent

from .conftest import Cast, make_event


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class TestTasks:
    def test_the_beat_schedule_comes_from_settings_and_names_real_tasks(self) -> None:
        schedule = celery_app.conf.beat_schedule
        assert schedule == settings.CELERY_BEAT_SCHEDULE
        celery_app.loader.import_default_modules()
        assert {entry["task"] for entry in schedule.values()} <= set(celery_app.tasks)
        assert schedule["aggregate-rollups"]["schedule"].total_seconds() == settings.ROLLUP_INTERVAL_S

    def test_the_tasks_call_their_services(self, cast: Cast) -> None:
        telemetry_services.event_ingest_batch(project=cast.project_a, events=[make_event() for _ in range(3)])
        assert telemetry_tasks.rollups_aggregate.apply().get()["minute_rows"] == 1
        assert MinuteRollup.objects.get().count == 3
        assert (
            telemetry_tasks.events_expire.apply().get() == 3
        )  # the fixed test timestamps are long past retention
        assert telemetry_tasks.alerts_evaluate.apply().get() == 0

    @pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
        reason="needs CELERY_BROKER_URL pointing at Redis",
    )
    def test_a_task_sent_through_the_real_broker_runs_on_a_worker(self, transactional_db: None) -> None:
        from celery.contrib.testing.worker import start_worker

        owner = None
        project = account_services.project_create(name="Broker", owner=owner)
        telemetry_services.event_ingest_batch(project=project, events=[make_event() for _ in range(4)])
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            telemetry_tasks.rollups_aggregate.delay()
            assert wait_for(lambda: MinuteRollup.objects.filter(project=project).exists())
        assert MinuteRollup.objects.get(project=project).count == 4


class TestEndToEnd:
    def test_the_sdk_reports_through_http_and_the_rollups_match(
        self, live_server: Any, transactional_db: None
    ) -> None:
        from llm_contracts import ContractOpenAI, FunctionContract
        from llm_contracts.reporting import Reporter
        from llm_contracts.testing import FakeLLM

        project = account_services.project_create(name="E2E")
        _, key = account_services.api_key_create(project=project, name="e2e")
        fake = FakeLLM(default='{"answer": "fine"}')
        fake.reply("this one is forbidden", '{"answer": "fine"}')
        reporter = Reporter(live_server.url, key, flush_interval=0.05)
        client = ContractOpenAI(
            api_key="test",
            http_client=fake.http_client(),
            max_retries=0,
            reporter=reporter,
            contract_retries=1,
            output_contracts=[FunctionContract(lambda t: "forbidden" not in t, name="no_forbidden")],
        )
        for _ in range(5):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert reporter.flush(timeout=10)
        reporter.close(timeout=5)
        stats = reporter.stats()
        assert stats["dropped"] == stats["failed"] == 0

        events = ValidationEvent.objects.filter(project=project)
        assert events.count() == stats["sent"] > 0
        assert events.filter(contract="no_forbidden").exists()
        telemetry_services.rollups_aggregate()
        rollups = MinuteRollup.objects.filter(project=project)
        assert sum(r.count for r in rollups) == events.count()
        assert sum(r.violations for r in rollups) == events.filter(is_valid=False).count()
        assert sum(r.count for r in HourRollup.objects.filter(project=project)) == events.count()
        assert Project.objects.get(pk=project.pk).sdk_instances.get().events_received == events.count()
