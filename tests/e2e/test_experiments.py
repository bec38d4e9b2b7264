"""In the browser: an experiment from two contract versions, from creation to shipping the winner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Dialog, Page, expect

from contracts_app import services as contract_services
from contracts_app.models import ContractVersion
from experiments import services
from experiments.models import Experiment
from telemetry import services as telemetry_services
from tests.server.conftest import Cast, make_event
from tests.server.experiments.conftest import add_traffic

from .conftest import Shot, chart_kept, chart_zoom_and_hide, expect_value

pytestmark = pytest.mark.e2e

SOURCE = """contract Reply {{
  ensure len(output) <= {limit}
}}
"""


def two_versions(cast: Cast) -> None:
    """Save Reply v1 (lenient, running in production) and v2 (strict, a draft)."""
    v1 = contract_services.contract_save(project=cast.project_a, source=SOURCE.format(limit=2000))
    contract_services.contract_version_activate(contract_version=v1, actor=cast.owner)
    contract_services.contract_save(project=cast.project_a, name="Reply", source=SOURCE.format(limit=500))


def traffic(cast: Cast, experiment: Experiment, *, calls: int) -> None:
    """Ingest ``calls`` calls per arm: control violates 10% of the time, the treatment 5%."""
    events = []
    for arm, every in (("control", 10), ("treatment", 20)):
        for i in range(calls):
            events.append(
                make_event(
                    timestamp=timezone.now().isoformat(),
                    contract="Reply",
                    experiment=experiment.key,
                    variant=arm,
                    is_valid=i % every != 0,
                )
            )
    assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).accepted == 2 * calls


class TestExperimentFlow:
    def test_create_start_slide_approve_ship_and_see_the_winner_active(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        two_versions(cast)
        prompts: list[str] = []

        def accept(dialog: Dialog) -> None:
            prompts.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)

        # Create: the two arms are two versions of one contract.
        page.goto("/p/alpha/experiments/new/")
        page.fill("#id_key", "shorter-replies")
        page.select_option("#id_control", label="Reply v1")
        page.select_option("#id_treatment", label="Reply v2")
        page.get_by_role("button", name="Create and set the ramp").click()

        # The ramp: 10% for a minute, then 100% only with a person's approval.
        expect(page.get_by_role("heading", name="Ramp schedule of shorter-replies")).to_be_visible()
        page.get_by_label("Coverage of step 1").fill("10")
        page.get_by_label("Hold value of step 1").fill("1")
        page.get_by_label("Coverage of step 2").fill("100")
        page.get_by_label("Hold condition of step 2").select_option("approval")
        page.get_by_role("button", name="Save the schedule").click()

        page.get_by_role("button", name="Start").click()
        coverage = page.locator("#coverage-value")
        expect(coverage).to_have_text("10%")
        expect(page.locator("#results .empty-chart").first).to_contain_text("Waiting for calls")

        # The slider: arrow keys only move it; Enter writes once, after a confirmation.
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        slider = page.locator("#coverage-slider")
        slider.focus()
        for _ in range(5):
            slider.press("ArrowRight")
        expect(page.locator("#traffic output")).to_have_text("15%")
        page.wait_for_timeout(300)
        assert posts == [] and prompts == []
        slider.press("Enter")
        expect(coverage).to_have_text("15%")
        assert [url.rsplit("/p/", 1)[1] for url in posts] == ["alpha/experiments/shorter-replies/coverage/"]
        assert "Change the share of users in shorter-replies?" in prompts[0]
        expect(page.locator("#traffic-audit li").first).to_contain_text(
            "alice moved the traffic slider · Coverage: 10% → 15%."
        )
        shot(page, "slider")

        # Calls arrive; the job holds at the step until a person approves going to 100%.
        experiment = Experiment.objects.get(key="shorter-replies")
        traffic(cast, experiment, calls=300)
        later = timezone.now() + timedelta(minutes=2)
        assert [d.action for d in services.rollout_evaluate_all(now=later)] == ["hold"]
        page.reload()
        expect(page.locator("#decisions tbody tr").first).to_contain_text("waits for a person's approval")
        expect(page.locator("#control-rate")).to_have_text("10%")
        expect(page.locator("#treatment-rate")).to_have_text("5%")
        page.get_by_role("button", name="Approve going to 100%").click()
        assert [d.action for d in services.rollout_evaluate_all(now=later)] == ["advance"]
        page.reload()
        expect(coverage).to_have_text("100%")
        expect(page.locator("#decisions tbody tr").first).to_contain_text("Advanced from 15% to 100%")
        expect(page.locator("#audit tbody tr", has_text="Approved a ramp step")).to_have_count(1)
        shot(page, "ramped")

        # Ship the winner: the page says what runs now, and the contracts page shows it active.
        page.get_by_role("button", name="Ship the treatment").click()
        expect(page.locator("#production")).to_contain_text("The treatment was shipped")
        # Shipping activates the treatment's own version (v2), through the audited activation.
        expect(page.locator("#production li")).to_have_text("Reply v2: the treatment's version")
        shot(page, "shipped")
        page.goto("/p/alpha/contracts/Reply/")
        expect(page.locator("#running")).to_have_text("v2 runs")
        expect(page.locator("#versions tr", has_text="v2").locator(".lc-badge")).to_have_text("running")
        expect(page.locator("pre.lc-code")).to_contain_text("len(output) <= 500")


class TestResultsRefresh:
    def test_the_results_refresh_keeps_the_charts_zoom_and_legend_choice(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        two_versions(cast)
        v1, v2 = ContractVersion.objects.filter(contract__name="Reply").order_by("version")
        actor = services.Actor.of_user(cast.owner)
        experiment = services.experiment_create(
            project=cast.project_a,
            key="shorter-replies",
            actor=actor,
            control=[v1.pk],
            treatment=[v2.pk],
            coverage=0.5,
        )
        now = timezone.now()
        services.experiment_start(experiment=experiment, actor=actor, now=now - timedelta(hours=1))
        # Half an hour of calls, a point per minute and arm.
        for minute in range(1, 31):
            for arm, every in (("control", 3), ("treatment", 5)):
                add_traffic(experiment, now - timedelta(minutes=minute), arm, 10, violations=minute % every)

        # The results block comes again every 60 s: the page's clock runs that timer.
        page.clock.install()
        page.goto(f"/p/alpha/experiments/{experiment.key}/")
        chart = page.locator("#chart-arm-rates")
        expect(chart.locator(".main-svg").first).to_be_visible()
        zoomed = chart_zoom_and_hide(page, chart, "treatment")
        calls = "el => el.data.reduce((n, t) => n + t.y.length, 0)"
        before = chart.evaluate(calls)

        # More calls arrive in the current minute; the refresh draws them and keeps the view.
        add_traffic(experiment, now, "control", 10, violations=1)
        page.clock.run_for(61_000)
        expect_value(lambda: chart.evaluate(calls), before + 1)
        chart_kept(chart, zoomed, "treatment")
        shot(page, "results-refreshed-zoomed")
