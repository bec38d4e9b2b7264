"""Poison events: one project's bad events never stop another project's rollups or experiments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone as dj_timezone

from accounts.models import Project
from contracts_app import services
from contracts_app.schemas import TraceIn
from experiments import services as experiment_services
from experiments.models import CONTROL, TREATMENT, Experiment
from telemetry import services as telemetry_services
from telemetry.models import MinuteRollup, QuarantinedBucket, ValidationEvent

from .conftest import Cast, Poster, make_event
from .experiments.conftest import MakeExperiment
from .experiments.conftest import make_experiment as make_experiment  # noqa: F401 (a fixture)
from .experiments.conftest import versions as versions  # noqa: F401 (a fixture)

PLUS_14 = timezone(timedelta(hours=14))
MINUS_14 = timezone(timedelta(hours=-14))


@pytest.fixture
def live_experiment(cast: Cast, make_experiment: MakeExperiment) -> Experiment:  # noqa: F811
    """A running experiment in project A, started 40 minutes ago, with traffic in both arms every minute."""
    now = dj_timezone.now()
    experiment = experiment_services.experiment_start(
        experiment=make_experiment(ramp=[{"coverage": 0.5, "hold": "approval"}]),
        actor=experiment_services.Actor.of_user(cast.owner),
        now=now - timedelta(minutes=40),
    )
    events = [
        make_event(
            timestamp=(now - timedelta(minutes=minute)).isoformat(),
            contract="pii",
            contract_version=version,
            experiment=experiment.key,
            variant=arm,
        )
        for minute in range(1, 36)
        for arm, version in ((CONTROL, 1), (TREATMENT, 2))
    ]
    assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).accepted == len(
        events
    )
    return experiment


def store_raw(project: Project, **fields: Any) -> None:
    """Store an event as ingest did before it bounded its fields (rows already on disk)."""
    event = make_event(**fields)
    event["timestamp"] = fields.get("timestamp", dj_timezone.now() - timedelta(minutes=3))
    try:
        ValidationEvent.objects.create(project=project, received_at=dj_timezone.now(), **event)
    except OverflowError:
        # Only Postgres can hold such a row (SQLite's driver converts it to UTC first).
        pytest.skip("this database cannot store the timestamp at all")


def counted(project: Project) -> int:
    return sum(MinuteRollup.objects.filter(project=project).values_list("count", flat=True))


def assert_others_unharmed(cast: Cast, experiment: Experiment) -> None:
    """Project A's rollups are complete and its experiment is not paused for "no traffic"."""
    assert counted(cast.project_a) == ValidationEvent.objects.filter(project=cast.project_a).count() == 70
    experiment_services.rollout_evaluate_all(now=dj_timezone.now())
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING
    assert not experiment.decisions.filter(action="pause").exists()


def in_range(minutes: float = 3) -> str:
    return (dj_timezone.now() - timedelta(minutes=minutes)).isoformat()


# Each poison pattern: what the API is sent, the field it must name (None: accepted and
# normalised), and the rows a server before this fix may already have stored.
POISON: dict[str, tuple[list[dict[str, Any]], str | None, Callable[[Project], None]]] = {
    "timestamp 9999-12-31": (
        [make_event(timestamp="9999-12-31T23:59:59-14:00")],
        "timestamp",
        lambda p: store_raw(p, timestamp=datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_14)),
    ),
    "timestamp year 1 +14:00": (
        [make_event(timestamp="0001-01-01T00:00:00+14:00")],
        "timestamp",
        lambda p: store_raw(p, timestamp=datetime(1, 1, 1, tzinfo=PLUS_14)),
    ),
    "latency 1e308 twice": (
        [make_event(latency_ms=1e308), make_event(llm_latency_ms=1e308)],
        "latency",
        lambda p: [store_raw(p, latency_ms=1e308, llm_latency_ms=1e308) for _ in range(2)] and None,
    ),
    "contract_version 0 next to null": (
        [make_event(contract_version=0), make_event(contract_version=None)],
        None,
        lambda p: [store_raw(p, contract_version=v) for v in (0, None)] and None,
    ),
    "experiment empty next to null": (
        [make_event(experiment="", variant=""), make_event(experiment=None, variant=None)],
        None,
        lambda p: [store_raw(p, experiment=e, variant=e) for e in ("", None)] and None,
    ),
}


@pytest.mark.parametrize("pattern", list(POISON))
class TestPoison:
    def test_the_api_refuses_it_per_item_or_normalises_it(
        self, cast: Cast, post_events: Poster, pattern: str, settings: Any
    ) -> None:
        settings.EVENT_MAX_AGE_S = 7 * 24 * 3600
        poison, field, _ = POISON[pattern]
        good = make_event(timestamp=in_range())
        items = [{**e, "timestamp": in_range()} if field != "timestamp" else e for e in poison]
        response = post_events(cast.key_b, [*items, good])
        assert response.status_code == 207
        results = response.json()["results"]
        assert results[-1]["status"] == "accepted"
        if field is None:
            assert [r["status"] for r in results] == ["accepted"] * len(results)
        else:
            for r in results[:-1]:
                assert r["status"] == "rejected"
                assert field in r["errors"][0]["field"], r
        telemetry_services.rollups_aggregate()
        assert counted(cast.project_b) == ValidationEvent.objects.filter(project=cast.project_b).count()

    def test_a_pass_still_succeeds_for_every_other_project(
        self, cast: Cast, live_experiment: Experiment, pattern: str, settings: Any
    ) -> None:
        settings.EVENT_MAX_AGE_S = 7 * 24 * 3600
        _, _, stored = POISON[pattern]
        # A good event next to the poison, in another minute.
        store_raw(cast.project_b, timestamp=dj_timezone.now() - timedelta(minutes=8))
        stored(cast.project_b)
        result = telemetry_services.rollups_aggregate()
        assert result.failed_projects == 0
        assert_others_unharmed(cast, live_experiment)
        # The project with the poison is still rolled up, all but a set-aside minute.
        assert counted(cast.project_b) >= 1
        # A second pass neither fails nor double counts.
        telemetry_services.rollups_aggregate()
        assert_others_unharmed(cast, live_experiment)


class TestQuarantine:
    def test_a_minute_that_cannot_be_rolled_up_is_set_aside_and_retried(self, cast: Cast) -> None:
        bad_minute = (dj_timezone.now() - timedelta(minutes=5)).replace(second=10, microsecond=0)
        good_minute = bad_minute - timedelta(minutes=2)
        for _ in range(2):
            store_raw(cast.project_b, timestamp=bad_minute, latency_ms=1e308)
        store_raw(cast.project_b, timestamp=good_minute)
        result = telemetry_services.rollups_aggregate()
        quarantined = QuarantinedBucket.objects.get(project=cast.project_b)
        assert quarantined.bucket == bad_minute.replace(second=0)
        assert result.quarantined == 1 and "out of range" in quarantined.reason.lower()
        # The good minute next to it was rolled up all the same.
        good = MinuteRollup.objects.filter(project=cast.project_b, bucket=good_minute.replace(second=0))
        assert good.exists()

        # Once the cause is gone, the next pass rolls the minute up and releases it.
        ValidationEvent.objects.filter(project=cast.project_b, latency_ms=1e308).update(latency_ms=2.0)
        telemetry_services.rollups_aggregate()
        assert not QuarantinedBucket.objects.exists()
        rolled = MinuteRollup.objects.get(project=cast.project_b, bucket=bad_minute.replace(second=0))
        assert rolled.count == 2

    def test_the_old_key_collisions_make_one_rollup_row(self, cast: Cast) -> None:
        at = dj_timezone.now() - timedelta(minutes=2)
        for version in (0, None):
            store_raw(cast.project_b, timestamp=at, contract_version=version, experiment="", variant=None)
        store_raw(cast.project_b, timestamp=at, contract_version=None, experiment=None, variant="")
        telemetry_services.rollups_aggregate()
        row = MinuteRollup.objects.get(project=cast.project_b)
        assert (row.contract_version, row.experiment, row.variant, row.count) == (0, "", "", 3)


class TestPagesOnPoisonRows:
    @pytest.mark.parametrize(
        "timestamp",
        [datetime(1, 1, 1, tzinfo=PLUS_14), datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_14)],
        ids=["year-1", "year-9999"],
    )
    def test_the_explorer_event_and_trace_pages_answer(
        self, cast: Cast, client: Client, timestamp: datetime
    ) -> None:
        store_raw(cast.project_a, timestamp=timestamp, is_valid=False, trace_id="t-poison")
        services.trace_store(
            project=cast.project_a,
            trace=TraceIn.model_validate(
                {"trace_id": "t-poison", "created_at": dj_timezone.now().isoformat(), "steps": []}
            ),
        )
        event = ValidationEvent.objects.only("pk").get(project=cast.project_a, trace_id="t-poison")
        client.force_login(cast.owner)
        slug = cast.project_a.slug
        for url in (
            f"/p/{slug}/violations/",
            f"/p/{slug}/violations/?range=30d",
            f"/p/{slug}/events/{event.pk}/",
            f"/p/{slug}/traces/t-poison/",
            f"/p/{slug}/",
        ):
            response = client.get(url)
            assert response.status_code < 500, url
