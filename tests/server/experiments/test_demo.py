"""`make run`'s demo: managed contracts in two versions, a running ramp, and traffic that feeds both arms."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Project
from contracts_app.management.commands.demo_setup import DEMO_EXPERIMENT, demo_key_file
from dashboard import demo_traffic
from experiments import services
from experiments.models import CONTROL, TREATMENT, Experiment, Exposure


@pytest.fixture
def state_dir(settings: Any, tmp_path: Any) -> Any:
    settings.STATE_DIR = tmp_path
    return tmp_path


def test_the_demo_seeds_a_running_experiment_on_two_versions_of_a_managed_contract(
    db: None, state_dir: Any
) -> None:
    call_command("demo_setup")
    call_command("demo_setup")  # idempotent: a second run changes nothing
    project = Project.objects.get(slug="demo")
    experiment = Experiment.objects.get(project=project, key=DEMO_EXPERIMENT)
    assert experiment.status == Experiment.Status.RUNNING and experiment.coverage == 0.1
    versions = {
        arm.key: [v.version for v in arm.contract_versions.all()] for arm in experiment.variations.all()
    }
    assert versions == {CONTROL: [1], TREATMENT: [2]}
    assert project.contracts.get(name="reply_length").versions.count() == 2
    assert [s.hold for s in experiment.ramp_steps.order_by("position")] == ["minutes", "minutes", "approval"]


def test_the_demo_traffic_feeds_both_arms_and_the_job_decides(
    transactional_db: None, live_server: Any, state_dir: Any
) -> None:
    call_command("demo_setup")
    key = demo_key_file().read_text(encoding="utf-8").strip()
    stop = threading.Event()
    worker = threading.Thread(
        target=demo_traffic.run, args=(live_server.url, key), kwargs={"interval": 0.01, "stop": stop}
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            arms = set(Exposure.objects.filter(experiment=DEMO_EXPERIMENT).values_list("variant", flat=True))
            if arms == {CONTROL, TREATMENT}:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(timeout=15)
    assert set(Exposure.objects.filter(experiment=DEMO_EXPERIMENT).values_list("variant", flat=True)) == {
        CONTROL,
        TREATMENT,
    }
    decisions = services.rollout_evaluate_all(now=timezone.now() + timedelta(minutes=2))
    assert len(decisions) == 1 and decisions[0].action in ("hold", "advance")
