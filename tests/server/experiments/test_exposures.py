"""An experiment's unit is the call: one exposure per call, written at ingest, counted exactly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from experiments import selectors, services
from experiments.models import CONTROL, TREATMENT, Exposure

from ..conftest import Cast, Poster, make_event
from .conftest import MakeExperiment

CLAUSES = ("pii", "pii.ensure[1]", "json_format")


def call_events(
    call_id: str, arm: str, *, violated: tuple[str, ...] = (), **extra: Any
) -> list[dict[str, Any]]:
    """Return the events one call reports: one per contract clause, each repeating the call's figures."""
    figures: dict[str, Any] = {"prompt_tokens": 40, "completion_tokens": 10}
    return [
        make_event(
            call_id=call_id,
            contract=clause,
            is_valid=clause not in violated,
            experiment="stricter-pii",
            variant=arm,
            llm_latency_ms=300.0 if arm == TREATMENT else 150.0,
            **(figures | extra),
        )
        for clause in CLAUSES
    ]


@pytest.fixture
def running(cast: Cast, make_experiment: MakeExperiment) -> Any:
    experiment = make_experiment(coverage=1.0)
    # Started in the middle of a minute: the calls of that first minute count too.
    return services.experiment_start(
        experiment=experiment,
        actor=services.Actor.of_user(cast.owner),
        now=timezone.now() - timedelta(seconds=20),
    )


class TestArmFigures:
    def test_a_call_with_several_violated_clauses_counts_once(
        self, cast: Cast, running: Any, post_events: Poster
    ) -> None:
        events: list[dict[str, Any]] = []
        # 20 treatment calls, 10 of them violating; some violate every clause.
        for i in range(20):
            violated = CLAUSES if i < 5 else ("pii",) if i < 10 else ()
            events += call_events(f"t-{i}", TREATMENT, violated=violated)
        for i in range(10):
            events += call_events(f"c-{i}", CONTROL, violated=("json_format",) if i < 2 else ())
        response = post_events(cast.key_a, events)
        assert response.json()["accepted"] == 90

        arms = selectors.arm_figures(experiment=running, since=running.started_at, until=timezone.now())
        treatment, control = arms[TREATMENT], arms[CONTROL]
        assert (treatment.calls, treatment.violating_calls) == (20, 10)
        assert treatment.violation_rate == 0.5
        assert (control.calls, control.violating_calls) == (10, 2)
        assert treatment.cost_per_call == 50 and treatment.latency_per_call_ms == 300.0
        assert control.latency_per_call_ms == 150.0

    def test_a_call_split_over_batches_and_a_resent_batch_count_once(
        self, cast: Cast, running: Any, post_events: Poster
    ) -> None:
        first, second, third = call_events("t-1", TREATMENT, violated=("json_format",))
        post_events(cast.key_a, [first, second])
        post_events(cast.key_a, [third])
        post_events(cast.key_a, [first, second, third])
        row = Exposure.objects.get(project=cast.project_a, experiment="stricter-pii")
        assert row.call_id == "t-1" and row.variant == TREATMENT and row.violated
        arms = selectors.arm_figures(experiment=running, until=timezone.now())
        assert (arms[TREATMENT].calls, arms[TREATMENT].violating_calls) == (1, 1)

    def test_fixes_are_counted_per_call(self, cast: Cast, running: Any, post_events: Poster) -> None:
        fixed = call_events("t-1", TREATMENT, auto_fix_attempted=True, auto_fix_succeeded=True)
        failed = call_events("t-2", TREATMENT)
        failed[0] |= {"auto_fix_attempted": True, "auto_fix_succeeded": False, "is_valid": False}
        post_events(cast.key_a, fixed + failed + call_events("t-3", TREATMENT))
        treatment = selectors.arm_figures(experiment=running, until=timezone.now())[TREATMENT]
        assert (treatment.calls, treatment.fixes_attempted, treatment.fix_failures) == (3, 2, 1)
        assert treatment.fix_failure_rate == 0.5

    def test_events_of_no_experiment_or_another_project_write_no_exposure(
        self, cast: Cast, running: Any, post_events: Poster
    ) -> None:
        post_events(cast.key_a, [make_event()])
        post_events(cast.key_b, call_events("b-1", TREATMENT))
        arms = selectors.arm_figures(experiment=running, until=timezone.now())
        assert arms[TREATMENT].calls == 0 and arms[CONTROL].calls == 0

    def test_a_call_with_more_tokens_than_a_32_bit_column_holds_is_counted(
        self, cast: Cast, running: Any, post_events: Poster
    ) -> None:
        # The protocol accepts up to 10**12 tokens an event; the exposure keeps the call's sum.
        big = call_events("t-big", TREATMENT, prompt_tokens=3 * 10**9, completion_tokens=2 * 10**9)
        response = post_events(cast.key_a, big + call_events("t-small", TREATMENT))
        assert response.json()["accepted"] == 6, response.json()
        row = Exposure.objects.get(project=cast.project_a, call_id="t-big")
        assert row.tokens == 5 * 10**9
        treatment = selectors.arm_figures(experiment=running, until=timezone.now())[TREATMENT]
        assert treatment.calls == 2 and treatment.cost_per_call == (5 * 10**9 + 50) / 2

    def test_an_exposure_keeps_the_calls_figures_exactly(
        self, cast: Cast, running: Any, post_events: Poster
    ) -> None:
        # The batch's calls reach the server as one document: nothing may be rounded on the way.
        events = call_events("t-exact", TREATMENT, violated=("pii",))
        events[0]["llm_latency_ms"] = 0.1 + 0.2
        events[1]["llm_latency_ms"] = 1234.5678901234567
        events[2].update(auto_fix_attempted=True, auto_fix_succeeded=False)
        assert post_events(cast.key_a, events).json()["accepted"] == 3
        row = Exposure.objects.get(project=cast.project_a, call_id="t-exact")
        assert (row.variant, row.violated, row.fix_attempted, row.fix_failed) == (TREATMENT, True, True, True)
        assert row.llm_latency_ms == 1234.5678901234567
        assert row.tokens == 50
