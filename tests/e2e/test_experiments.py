"""In the browser: the experiment's traffic slider and its results page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Dialog, Page, expect

from contracts_app import services as contract_services
from experiments import services
from experiments.models import Experiment
from tests.server.conftest import Cast, make_event

from .conftest import Shot

pytestmark = pytest.mark.e2e

SOURCE = """contract Reply {{
  ensure len(output) <= {limit}
}}
"""


def running_experiment(cast: Cast) -> Experiment:
    """Start "shorter-replies" on Alpha at 20 % coverage, with five minutes of traffic in the rollups."""
    v1 = contract_services.contract_save(project=cast.project_a, source=SOURCE.format(limit=2000))
    # Version 2 of the same contract ("New contract" refuses a name in use).
    v2 = contract_services.contract_save(
        project=cast.project_a, name="Reply", source=SOURCE.format(limit=500)
    )
    actor = services.Actor.of_user(cast.owner)
    experiment = services.experiment_create(
        project=cast.project_a,
        key="shorter-replies",
        actor=actor,
        control=[v1.pk],
        treatment=[v2.pk],
        coverage=0.2,
    )
    now = timezone.now()
    # Started ten minutes ago, so the traffic below falls inside the experiment.
    experiment = services.experiment_start(
        experiment=experiment, actor=actor, now=now - timedelta(minutes=10)
    )
    events = []
    for minute in range(1, 6):
        at = (now - timedelta(minutes=minute)).isoformat()
        for arm, version, failing in (("control", 1, 1), ("treatment", 2, minute % 3 + 1)):
            for i in range(10):
                events.append(
                    make_event(
                        timestamp=at,
                        contract="Reply",
                        contract_version=version,
                        experiment=experiment.key,
                        variant=arm,
                        is_valid=i >= failing,
                        outcome="passed" if i >= failing else "violated",
                    )
                )
    assert contract_services.event_ingest_batch(project=cast.project_a, events=events).accepted == 100
    contract_services.rollups_aggregate()
    return experiment


class TestExperimentPage:
    def test_the_slider_changes_the_coverage_after_confirmation_and_the_results_show_the_arms(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        experiment = running_experiment(cast)
        page.goto("/p/alpha/experiments/shorter-replies/")
        coverage = page.locator("#coverage-value")
        slider = page.locator("#coverage-slider")
        expect(coverage).to_have_text("20%")

        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        prompts: list[str] = []

        def answer(accept: bool) -> None:
            def handle(dialog: Dialog) -> None:
                prompts.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()

            page.once("dialog", handle)

        # Dismissing the confirmation sends nothing.
        answer(accept=False)
        slider.fill("35")
        expect(page.locator("#traffic output")).to_have_text("35%")
        assert len(prompts) == 1 and "Change the share of users in shorter-replies?" in prompts[0]
        page.wait_for_timeout(300)  # htmx sends at once after a confirmation: none is coming
        assert posts == []
        expect(coverage).to_have_text("20%")
        experiment.refresh_from_db()
        assert experiment.coverage == 0.2

        # Confirmed: the server sets it, and the block comes back with the audit entry.
        answer(accept=True)
        slider.fill("50")
        expect(coverage).to_have_text("50%")
        expect(page.locator("#traffic-audit li").first).to_contain_text(
            "alice · set_coverage · coverage: 0.2 → 0.5"
        )
        assert len(prompts) == 2
        assert [url.rsplit("/p/", 1)[1] for url in posts] == ["alpha/experiments/shorter-replies/coverage/"]
        experiment.refresh_from_db()
        assert experiment.coverage == 0.5
        shot(page, "slider")

        # The results page, afresh: the audit log and both arms' charts.
        page.reload()
        expect(coverage).to_have_text("50%")
        expect(page.locator("#audit tbody tr").first).to_contain_text("set_coverage")
        expect(page.locator("#audit tbody tr").first).to_contain_text("coverage: 0.2 → 0.5")
        expect(page.locator(".number", has_text="Control violation rate").locator("dd").last).to_have_text(
            "50 calls"
        )
        rates = page.locator("#chart-arm-rates")
        expect(rates.locator(".main-svg").first).to_be_visible()
        expect(rates.locator(".legendtext")).to_have_text(["control", "treatment"])
        # lines+markers: a marker per arm and minute.
        expect(rates.locator(".scatterlayer .trace").first.locator(".point")).to_have_count(5)
        expect(rates.locator(".scatterlayer .trace").last.locator(".point")).to_have_count(5)
        traffic = page.locator("#chart-arm-traffic")
        expect(traffic.locator(".barlayer .trace")).to_have_count(2)
        expect(traffic.locator(".barlayer .point")).to_have_count(10)
        expect(page.locator("#srm")).to_have_text("ok")
        shot(page, "results")
