"""The rollout job over simulated traffic: it ramps, holds, pauses and rolls back, and says why."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from experiments import services
from experiments.models import CONTROL, TREATMENT, Decision, Experiment

from ..conftest import NOW, Cast
from ..webhook_receiver import Receiver
from .conftest import MakeExperiment, add_traffic, simulate_minute

START = NOW.replace(second=0, microsecond=0) - timedelta(hours=6)
SAMPLE_RAMP = [
    {"coverage": 0.1, "hold": "sample", "hold_value": 400},
    {"coverage": 0.5, "hold": "sample", "hold_value": 400},
    {"coverage": 1.0, "hold": "sample", "hold_value": 400},
]


def started(make_experiment: MakeExperiment, cast: Cast, **fields: object) -> Experiment:
    experiment = make_experiment(**fields)
    return services.experiment_start(
        experiment=experiment, actor=services.Actor.of_user(cast.owner), now=START
    )


def run(
    experiment: Experiment,
    *,
    minutes: int,
    rates: dict[str, float],
    users: int = 100,
    seed: int = 7,
    every: int = 5,
    **traffic: object,
) -> list[Decision]:
    """Simulate ``minutes`` of traffic, running the job every ``every`` minutes; return its decisions."""
    rng = random.Random(seed)
    decisions: list[Decision] = []
    for minute in range(minutes):
        bucket = START + timedelta(minutes=minute)
        simulate_minute(experiment, bucket, rng, users=users, rates=rates, **traffic)
        if (minute + 1) % every == 0:
            decisions += services.rollout_evaluate_all(now=bucket + timedelta(minutes=1))
        experiment.refresh_from_db()
        if experiment.status != Experiment.Status.RUNNING:
            break
    return decisions


class TestRamp:
    def test_an_equal_treatment_ramps_to_full_coverage_step_by_step(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = started(make_experiment, cast, ramp=SAMPLE_RAMP)
        assert (experiment.coverage, experiment.current_step) == (0.1, 0)
        decisions = run(experiment, minutes=240, rates={CONTROL: 0.05, TREATMENT: 0.05})
        experiment.refresh_from_db()
        assert experiment.status == Experiment.Status.RUNNING
        assert experiment.coverage == 1.0 and experiment.current_step == 2
        assert [d.action for d in decisions if d.action != "hold"] == ["advance", "advance", "ramp_finished"]
        advance = next(d for d in decisions if d.action == "advance")
        assert advance.step == 1 and advance.reason.startswith("Advanced from 10% to 50%: step 1 is done")
        assert "no significant difference yet" in advance.reason
        # The numbers behind the decision: the sample of the step and the comparison.
        hold = advance.numbers["hold"]
        assert min(hold["step_calls"].values()) >= 400
        # Each hold is logged once, in words, with the calls it waits for.
        holds = [d for d in decisions if d.action == "hold"]
        assert holds and all(d.reason.startswith("Holding at ") for d in holds)
        assert "each arm needs 400 calls at this step" in holds[0].reason
        assert advance.numbers["srm_mismatch"] is False
        low, high = advance.numbers["relative_change_ci"]
        assert low < 0 < high
        # Each change of coverage is in the audit log, by the job.
        ramps = experiment.audit_entries.filter(action="ramp").order_by("at")
        assert [(a.before["coverage"], a.after["coverage"]) for a in ramps] == [(0.1, 0.5), (0.5, 1.0)]
        assert {a.actor_label for a in ramps} == {"rollout job"}

    def test_a_minimum_time_holds_the_step_until_it_has_passed(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        ramp = [{"coverage": 0.2, "hold": "minutes", "hold_value": 30}, {"coverage": 0.6, "hold_value": 30}]
        experiment = started(make_experiment, cast, ramp=ramp)
        decisions = run(experiment, minutes=29, rates={CONTROL: 0.05, TREATMENT: 0.05}, every=1)
        assert [d.action for d in decisions] == ["hold"]
        assert "the step holds 30 minutes" in decisions[0].reason
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=30))
        experiment.refresh_from_db()
        assert [d.action for d in decisions] == ["advance"] and experiment.coverage == 0.6
        assert decisions[0].numbers["hold"]["minutes_held"] == 30.0

    def test_an_approval_step_waits_for_a_person_and_the_job_then_advances(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = started(
            make_experiment,
            cast,
            ramp=[
                {"coverage": 0.2, "hold": "minutes", "hold_value": 5},
                {"coverage": 1.0, "hold": "approval"},
            ],
        )
        # Hours of clean traffic: every other condition is met, but 100% waits for a person.
        decisions = run(experiment, minutes=180, rates={CONTROL: 0.05, TREATMENT: 0.05})
        experiment.refresh_from_db()
        assert experiment.coverage == 0.2 and experiment.current_step == 0
        assert "advance" not in [d.action for d in decisions]
        assert decisions[-1].reason == (
            "Holding at 20% (step 1): this step is done; going to 100% waits for a person's approval."
        )
        services.experiment_approve_step(experiment=experiment, actor=services.Actor.of_user(cast.owner))
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=181))
        experiment.refresh_from_db()
        assert [d.action for d in decisions] == ["advance"] and experiment.coverage == 1.0
        assert experiment.audit_entries.filter(action="approve_step", actor=cast.owner).exists()

    def test_a_step_advances_only_with_the_minimum_calls_in_each_arm(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        ramp = [
            {"coverage": 0.1, "hold": "minutes", "hold_value": 1, "min_calls": 300},
            {"coverage": 0.5, "hold": "minutes", "hold_value": 1},
        ]
        experiment = started(make_experiment, cast, ramp=ramp, guardrail_min_calls=0)
        # No call at all for 20 minutes: the old job moved to 50% on time alone.
        for minute in range(1, 20):
            services.rollout_evaluate_all(now=START + timedelta(minutes=minute))
        experiment.refresh_from_db()
        assert experiment.coverage == 0.1
        hold = experiment.decisions.get()
        assert hold.reason == (
            "Holding at 10% (step 1): each arm needs 300 calls at this step; control has 0, treatment 0."
        )
        add_traffic(experiment, START + timedelta(minutes=20), CONTROL, 300, 15)
        add_traffic(experiment, START + timedelta(minutes=20), TREATMENT, 299, 15)
        assert (
            services.rollout_evaluate_all(now=START + timedelta(minutes=21)) == []
        )  # same hold, not relogged
        add_traffic(experiment, START + timedelta(minutes=21), TREATMENT, 1, 0)
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=22))
        assert [d.action for d in decisions] == ["advance"]

    def test_a_guardrail_that_cannot_be_judged_yet_holds_the_ramp(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        ramp = [{"coverage": 0.1, "hold": "sample", "hold_value": 50}, {"coverage": 0.5, "hold_value": 5}]
        experiment = started(make_experiment, cast, ramp=ramp, guardrail_min_calls=500)
        add_traffic(experiment, START, CONTROL, 100, 5)
        add_traffic(experiment, START, TREATMENT, 100, 5)
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=5))
        assert [d.action for d in decisions] == ["hold"]
        assert "guardrails cannot be judged yet" in decisions[0].reason
        assert "they need 500 calls per arm; control has 100, treatment 100" in decisions[0].reason

    def test_a_regressed_guardrail_holds_the_ramp_and_is_logged_once(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        # The treatment's auto-fixes fail more often than tolerated, on too few fixes to be sure.
        experiment = started(
            make_experiment, cast, ramp=SAMPLE_RAMP, guardrail_min_calls=100, max_fix_failure_regression=0.01
        )
        for minute in range(60):
            bucket = START + timedelta(minutes=minute)
            add_traffic(experiment, bucket, CONTROL, 10, 0, fixes=(2, 2))
            add_traffic(experiment, bucket, TREATMENT, 10, 0, fixes=(2, 2 if minute % 6 else 1))
        first = services.rollout_evaluate_all(now=START + timedelta(minutes=60))
        again = services.rollout_evaluate_all(now=START + timedelta(minutes=61))
        experiment.refresh_from_db()
        assert [d.action for d in first] == ["hold"] and again == []
        assert "calls with a failed auto-fix +1.7 points (tolerated +1.0 points)" in first[0].reason
        assert experiment.coverage == 0.1 and experiment.status == Experiment.Status.RUNNING
        guardrail = first[0].numbers["guardrails"]["fix_failure_rate"]
        assert guardrail["status"] == "regressed" and guardrail["change"] == pytest.approx(10 / 600)


@pytest.fixture
def webhooks_sent(settings: Any, eager_tasks: None, django_capture_on_commit_callbacks: Any) -> Any:
    """Return a context in which queued webhook messages reach the loopback receiver when it ends."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_RETRY_BACKOFF_S = 0.0
    return lambda: django_capture_on_commit_callbacks(execute=True)


class TestRollback:
    def test_a_worse_treatment_is_rolled_back_and_the_webhook_told(
        self, cast: Cast, make_experiment: MakeExperiment, receiver: Receiver, webhooks_sent: Any
    ) -> None:
        cast.project_a.alert_webhook_url = receiver.url
        cast.project_a.save()
        experiment = started(make_experiment, cast, ramp=SAMPLE_RAMP)
        with webhooks_sent():
            decisions = run(experiment, minutes=600, rates={CONTROL: 0.05, TREATMENT: 0.15})
        experiment.refresh_from_db()
        assert experiment.status == Experiment.Status.ROLLED_BACK and experiment.coverage == 0.0
        assert decisions[-1].action == "rollback"
        numbers = decisions[-1].numbers
        assert numbers["relative_change_ci"][0] > 0
        assert numbers["treatment"]["violation_rate"] > numbers["control"]["violation_rate"]
        assert "significantly higher" in decisions[-1].reason
        assert [p["event"] for p in receiver.posts] == ["experiment.rolled_back"]
        assert receiver.posts[0]["experiment"] == "stricter-pii" and receiver.posts[0]["project"] == "alpha"
        audit = experiment.audit_entries.get(action="rollback")
        assert audit.actor_label == "rollout job" and audit.after["status"] == "rolled_back"

    def test_a_dead_webhook_does_not_undo_the_rollback(
        self,
        cast: Cast,
        make_experiment: MakeExperiment,
        receiver: Receiver,
        webhooks_sent: Any,
        settings: Any,
    ) -> None:
        settings.WEBHOOK_MAX_RETRIES = 2
        cast.project_a.alert_webhook_url = receiver.url
        cast.project_a.save()
        receiver.statuses = [500, 500, 500]
        experiment = started(make_experiment, cast, coverage=0.5)
        add_traffic(experiment, START, CONTROL, 3000, 150)
        add_traffic(experiment, START, TREATMENT, 3000, 600)
        with webhooks_sent():
            decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=5))
        experiment.refresh_from_db()
        # Retried with backoff, then given up; the rollback stands.
        assert [d.action for d in decisions] == ["rollback"] and len(receiver.posts) == 3
        assert experiment.status == Experiment.Status.ROLLED_BACK

    def test_a_webhook_pointing_inside_the_network_is_never_called(
        self,
        cast: Cast,
        make_experiment: MakeExperiment,
        receiver: Receiver,
        webhooks_sent: Any,
        settings: Any,
    ) -> None:
        settings.WEBHOOK_ALLOWED_HOSTS = []  # loopback is internal: refused when sent
        cast.project_a.alert_webhook_url = receiver.url
        cast.project_a.save()
        experiment = started(make_experiment, cast, coverage=0.5)
        add_traffic(experiment, START, CONTROL, 3000, 150)
        add_traffic(experiment, START, TREATMENT, 3000, 600)
        with webhooks_sent():
            decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=5))
        experiment.refresh_from_db()
        assert [d.action for d in decisions] == ["rollback"] and receiver.posts == []
        assert experiment.status == Experiment.Status.ROLLED_BACK

    def test_a_significantly_slower_treatment_is_rolled_back_on_the_latency_guardrail(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = started(make_experiment, cast, coverage=0.5)
        # Same violations; control answers in 100-200 ms, treatment in 500-1000 ms.
        add_traffic(experiment, START, CONTROL, 2000, 100, llm_bucket=7)
        add_traffic(experiment, START, TREATMENT, 2000, 100, llm_bucket=9)
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=5))
        assert [d.action for d in decisions] == ["rollback"]
        assert decisions[0].reason.startswith("Rolled back: guardrail significantly worse: p95 latency (ms)")
        latency = decisions[0].numbers["guardrails"]["p95_latency"]
        assert latency["status"] == "worse" and latency["treatment"] > latency["control"] * 1.2

    def test_more_tokens_per_call_than_tolerated_rolls_back(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = started(make_experiment, cast, coverage=0.5, max_cost_regression=0.1)
        add_traffic(experiment, START, CONTROL, 500, 25, tokens_per_call=100)
        add_traffic(experiment, START, TREATMENT, 500, 25, tokens_per_call=125)
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=5))
        assert [d.action for d in decisions] == ["rollback"]
        assert decisions[0].numbers["guardrails"]["cost_per_call"]["change"] == pytest.approx(0.25)


class TestPause:
    def test_a_sample_ratio_mismatch_pauses_the_experiment(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = started(make_experiment, cast, ramp=SAMPLE_RAMP)
        # Planned 50/50, observed 1000/850, with equal violation rates.
        for minute in range(10):
            add_traffic(experiment, START + timedelta(minutes=minute), CONTROL, 100, 5)
            add_traffic(experiment, START + timedelta(minutes=minute), TREATMENT, 85, 4)
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=10))
        experiment.refresh_from_db()
        assert experiment.status == Experiment.Status.PAUSED
        assert [d.action for d in decisions] == ["pause"]
        assert decisions[0].reason.startswith("Paused: sample ratio mismatch: control 1000 and treatment 850")
        assert decisions[0].numbers["srm_p_value"] < 0.001
        assert decisions[0].numbers["control"]["calls"] == 1000
        assert decisions[0].numbers["treatment"]["calls"] == 850
        # Paused experiments are not the job's any more: nothing more is decided.
        assert services.rollout_evaluate_all(now=START + timedelta(minutes=15)) == []

    def test_a_split_within_chance_is_no_mismatch(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        experiment = started(make_experiment, cast, ramp=SAMPLE_RAMP)
        add_traffic(experiment, START, CONTROL, 1000, 50)
        add_traffic(experiment, START, TREATMENT, 960, 48)
        services.rollout_evaluate_all(now=START + timedelta(minutes=5))
        experiment.refresh_from_db()
        assert experiment.status == Experiment.Status.RUNNING
        assert experiment.last_evaluation["srm_p_value"] > 0.001

    def test_an_experiment_without_traffic_is_paused(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        started(make_experiment, cast, ramp=SAMPLE_RAMP)
        early = services.rollout_evaluate_all(now=START + timedelta(minutes=29))
        assert [d.action for d in early] == ["hold"]
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=30))
        assert [d.action for d in decisions] == ["pause"]
        assert decisions[0].reason == "Paused: no traffic in control and treatment for 30 minutes."

    def test_an_arm_without_traffic_is_paused(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        experiment = started(make_experiment, cast, ramp=SAMPLE_RAMP)
        for minute in range(30):
            add_traffic(experiment, START + timedelta(minutes=minute), CONTROL, 3, 0)
        decisions = services.rollout_evaluate_all(now=START + timedelta(minutes=30))
        # 90 calls against none: the split is also off, and that is found first.
        assert [d.action for d in decisions] == ["pause"]
        assert decisions[0].numbers["treatment"]["calls"] == 0


class TestIdempotence:
    def test_running_the_job_twice_on_the_same_data_decides_once(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = started(make_experiment, cast, ramp=SAMPLE_RAMP)
        add_traffic(experiment, START, CONTROL, 500, 25)
        add_traffic(experiment, START, TREATMENT, 500, 25)
        now = START + timedelta(minutes=5)
        first = services.rollout_evaluate_all(now=now)
        second = services.rollout_evaluate_all(now=now)
        third = services.rollout_evaluate_all(now=now)
        # The second pass finds the new step without calls yet: a hold, logged once.
        assert [d.action for d in first] == ["advance"] and [d.action for d in second] == ["hold"]
        assert third == []
        assert experiment.audit_entries.filter(action="ramp").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no row locks and the test database is one shared in-memory connection; "
    "run with DATABASE_URL set to Postgres",
)
def test_two_concurrent_job_runs_make_one_decision(cast: Cast, make_experiment: MakeExperiment) -> None:
    experiment = started(make_experiment, cast, coverage=0.5)
    add_traffic(experiment, START, CONTROL, 3000, 150)
    add_traffic(experiment, START, TREATMENT, 3000, 600)
    workers = 6
    barrier = threading.Barrier(workers)
    results: list[list[Decision]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(services.rollout_evaluate_all(now=START + timedelta(minutes=5)))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            # Each thread has its own connection; close it so the test database can be dropped.
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0] * (workers - 1) + [1]
    assert Decision.objects.filter(experiment=experiment).count() == 1
    assert experiment.audit_entries.filter(action="rollback").count() == 1


def test_the_beat_schedule_runs_the_rollout_task_which_calls_the_job(
    cast: Cast, make_experiment: MakeExperiment
) -> None:
    from django.conf import settings

    from dashboard.celery import app
    from experiments import tasks

    app.loader.import_default_modules()
    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "experiments.rollout_evaluate_all"
    )
    assert entry["schedule"] == timedelta(seconds=settings.EXPERIMENT_INTERVAL_S)
    assert "experiments.rollout_evaluate_all" in app.tasks
    experiment = started(make_experiment, cast, coverage=0.5)
    add_traffic(experiment, START, CONTROL, 3000, 150)
    add_traffic(experiment, START, TREATMENT, 3000, 600)
    assert tasks.rollout_evaluate_all() == 1
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.ROLLED_BACK


class TestCeleryDrivenRamp:
    """The beat task over simulated traffic that goes through ingest: events in, exposures, decisions."""

    RAMP = [
        {"coverage": 0.1, "hold": "minutes", "hold_value": 10, "min_calls": 200},
        {"coverage": 0.5, "hold": "minutes", "hold_value": 10, "min_calls": 200},
        {"coverage": 1.0, "hold": "minutes", "hold_value": 10, "min_calls": 200},
    ]

    def drive(self, experiment: Experiment, *, minutes: int, rates: dict[str, float], seed: int) -> list[str]:
        """Ingest ``minutes`` of calls from 200 users a minute, running the task every 5 minutes."""
        from experiments import tasks
        from telemetry.services import event_ingest_batch

        from ..conftest import make_event

        rng = random.Random(seed)
        for minute in range(minutes):
            experiment.refresh_from_db()
            if experiment.status != Experiment.Status.RUNNING:
                break
            bucket = START + timedelta(minutes=minute)
            events = []
            for _ in range(200):
                if rng.random() >= experiment.coverage:
                    continue  # outside the experiment: no exposure
                arm = TREATMENT if rng.random() < experiment.weights[1] else CONTROL
                events.append(
                    make_event(
                        timestamp=bucket.isoformat(),
                        is_valid=rng.random() >= rates[arm],
                        experiment=experiment.key,
                        variant=arm,
                    )
                )
            event_ingest_batch(project=experiment.project, events=events, now=bucket)
            if (minute + 1) % 5 == 0:
                tasks.rollout_evaluate_all.apply(
                    kwargs={"now": (bucket + timedelta(minutes=1)).isoformat()}
                ).get()
        return [d.action for d in experiment.decisions.order_by("at", "id")]

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_identical_arms_never_roll_back_and_ramp_to_full_coverage(
        self, cast: Cast, make_experiment: MakeExperiment, seed: int
    ) -> None:
        experiment = started(make_experiment, cast, ramp=self.RAMP)
        actions = self.drive(experiment, minutes=150, rates={CONTROL: 0.1, TREATMENT: 0.1}, seed=seed)
        experiment.refresh_from_db()
        assert "rollback" not in actions and "pause" not in actions
        assert [a for a in actions if a != "hold"] == ["advance", "advance", "ramp_finished"]
        assert experiment.status == Experiment.Status.RUNNING and experiment.coverage == 1.0

    def test_a_real_regression_from_10_to_25_percent_is_rolled_back(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = started(make_experiment, cast, ramp=self.RAMP)
        actions = self.drive(experiment, minutes=150, rates={CONTROL: 0.1, TREATMENT: 0.25}, seed=4)
        experiment.refresh_from_db()
        assert actions[-1] == "rollback" and "ramp_finished" not in actions
        assert experiment.status == Experiment.Status.ROLLED_BACK and experiment.coverage == 0.0
        rollback = experiment.decisions.get(action="rollback")
        assert rollback.reason.startswith(
            "Rolled back: the treatment's violation rate is significantly higher"
        )
        assert rollback.numbers["relative_change_ci"][0] > 0

    def test_a_step_waiting_for_approval_never_advances_without_it(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        ramp = [self.RAMP[0], {"coverage": 1.0, "hold": "approval"}]
        experiment = started(make_experiment, cast, ramp=ramp)
        actions = self.drive(experiment, minutes=120, rates={CONTROL: 0.1, TREATMENT: 0.1}, seed=5)
        experiment.refresh_from_db()
        assert set(actions) == {"hold"} and experiment.coverage == 0.1
        assert experiment.decisions.first().numbers["why"] == "approval"
