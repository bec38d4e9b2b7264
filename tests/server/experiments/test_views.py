"""The experiment pages: who may see and change what, the slider, the ramp editor, the results."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from contracts_app import services as contract_services
from contracts_app.models import ContractVersion
from experiments import services
from experiments.models import CONTROL, TREATMENT, AuditEntry, Experiment, RampStep

from ..conftest import Cast
from .conftest import MakeExperiment, add_traffic

HTMX = {"HX-Request": "true"}


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(cast: Cast, path: str = "") -> str:
    return f"/p/{cast.project_a.slug}/experiments/{path}"


@pytest.fixture
def running(cast: Cast, make_experiment: MakeExperiment) -> Experiment:
    experiment = make_experiment(
        coverage=0.1,
        description="<script>alert(1)</script>",
        ramp=[{"coverage": 0.1, "hold": "minutes", "hold_value": 5}, {"coverage": 0.5, "hold": "approval"}],
    )
    now = timezone.now()
    experiment = services.experiment_start(
        experiment=experiment, actor=services.Actor.of_user(cast.owner), now=now - timedelta(minutes=10)
    )
    bucket = now.replace(second=0, microsecond=0) - timedelta(minutes=2)
    add_traffic(experiment, bucket, CONTROL, 1000, 50)
    add_traffic(experiment, bucket, TREATMENT, 1000, 40)
    return experiment


class TestAccess:
    @pytest.mark.parametrize(
        "path", ["", "new/", "stricter-pii/", "stricter-pii/edit/", "stricter-pii/schedule/"]
    )
    def test_members_see_the_pages_and_outsiders_get_404(
        self, cast: Cast, running: Experiment, path: str
    ) -> None:
        assert as_user(cast.owner).get(url(cast, path)).status_code == 200
        assert as_user(cast.member).get(url(cast, path)).status_code == 200
        assert as_user(cast.outsider).get(url(cast, path)).status_code == 404

    def test_anonymous_visitors_are_sent_to_log_in(self, cast: Cast) -> None:
        response = Client().get(url(cast))
        assert response.status_code == 302 and response["Location"].startswith("/login/")

    def test_an_unknown_experiment_is_404(self, cast: Cast) -> None:
        assert as_user(cast.owner).get(url(cast, "nope/")).status_code == 404


class TestSlider:
    def test_moving_the_slider_changes_coverage_live_and_writes_an_audit_entry(
        self, cast: Cast, running: Experiment
    ) -> None:
        response = as_user(cast.owner).post(
            url(cast, "stricter-pii/coverage/"), {"coverage": "35"}, headers=HTMX
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert body.lstrip().startswith('<section id="traffic">') and "<html" not in body
        assert '<strong id="coverage-value">35%</strong>' in body
        assert "alice moved the traffic slider · Coverage: 10% → 35%." in body
        running.refresh_from_db()
        assert running.coverage == 0.35
        entry = running.audit_entries.get(action="set_coverage")
        assert (entry.actor, entry.before, entry.after) == (cast.owner, {"coverage": 0.1}, {"coverage": 0.35})

    def test_the_slider_asks_for_confirmation_and_posts_with_htmx(
        self, cast: Cast, running: Experiment
    ) -> None:
        body = as_user(cast.owner).get(url(cast, "stricter-pii/")).content.decode()
        assert 'type="range"' in body and "hx-confirm=" in body
        assert f'hx-post="{url(cast, "stricter-pii/coverage/")}"' in body
        # One write when the slider is released (or Enter or Set), not one per arrow key.
        assert "data-submit-on-release" in body  # static/dashboard/forms.js submits on release
        assert "hx-trigger=" not in body.split('id="traffic"')[1].split("</form>")[0]

    def test_releasing_the_slider_where_it_was_writes_nothing(self, cast: Cast, running: Experiment) -> None:
        response = as_user(cast.owner).post(
            url(cast, "stricter-pii/coverage/"), {"coverage": "10"}, headers=HTMX
        )
        assert response.status_code == 200
        assert not running.audit_entries.filter(action="set_coverage").exists()

    def test_a_viewer_cannot_move_the_slider(self, cast: Cast, running: Experiment) -> None:
        viewer = as_user(cast.member)
        assert 'type="range"' not in viewer.get(url(cast, "stricter-pii/")).content.decode()
        response = viewer.post(url(cast, "stricter-pii/coverage/"), {"coverage": "90"}, headers=HTMX)
        assert response.status_code == 403
        running.refresh_from_db()
        assert running.coverage == 0.1 and not running.audit_entries.filter(action="set_coverage").exists()

    def test_an_outsider_cannot_move_the_slider(self, cast: Cast, running: Experiment) -> None:
        response = as_user(cast.outsider).post(url(cast, "stricter-pii/coverage/"), {"coverage": "90"})
        assert response.status_code == 404

    def test_a_coverage_out_of_range_is_refused_with_a_message(self, cast: Cast, running: Experiment) -> None:
        response = as_user(cast.owner).post(
            url(cast, "stricter-pii/coverage/"), {"coverage": "150"}, headers=HTMX
        )
        assert response.status_code == 400
        assert "coverage must be between 0 and 1, got 1.5" in response.content.decode()

    def test_without_javascript_the_form_posts_and_redirects(self, cast: Cast, running: Experiment) -> None:
        response = as_user(cast.owner).post(url(cast, "stricter-pii/coverage/"), {"coverage": "20"})
        assert response.status_code == 302 and response["Location"] == url(cast, "stricter-pii/")
        running.refresh_from_db()
        assert running.coverage == 0.2


class TestCreateAndEdit:
    def form(self, versions: dict[str, ContractVersion], **overrides: Any) -> dict[str, Any]:
        data = {
            "key": "new-pii",
            "description": "",
            "control": [versions["pii@1"].pk],
            "treatment": [versions["pii@2"].pk, versions["json@1"].pk],
            "treatment_weight": "0.5",
            "alpha": "0.05",
            "max_p95_latency_regression": "0.2",
            "max_fix_failure_regression": "0.05",
            "max_cost_regression": "0.1",
            "guardrail_min_calls": "200",
        }
        return data | overrides

    def test_an_editor_creates_an_experiment_choosing_versions_per_arm(
        self, cast: Cast, versions: dict[str, ContractVersion]
    ) -> None:
        response = as_user(cast.owner).post(url(cast, "new/"), self.form(versions, treatment_weight="0.2"))
        assert response.status_code == 302 and response["Location"] == url(cast, "new-pii/schedule/")
        experiment = Experiment.objects.get(key="new-pii")
        assert experiment.weights == [0.8, 0.2] and experiment.status == Experiment.Status.DRAFT
        treatment = experiment.variations.get(key=TREATMENT).contract_versions.all()
        assert {(v.contract.name, v.version) for v in treatment} == {("pii", 2), ("json_format", 1)}
        assert experiment.audit_entries.get().action == "create"

    def test_the_form_shows_the_services_error_on_its_field(
        self, cast: Cast, versions: dict[str, ContractVersion]
    ) -> None:
        response = as_user(cast.owner).post(url(cast, "new/"), self.form(versions, key="has spaces"))
        assert response.status_code == 400
        assert response.context["form"].errors["key"][0].startswith("key must be 1 to 100 letters")
        assert not Experiment.objects.exists()

    def test_a_viewer_cannot_create_one(self, cast: Cast, versions: dict[str, ContractVersion]) -> None:
        assert as_user(cast.member).post(url(cast, "new/"), self.form(versions)).status_code == 403
        assert not Experiment.objects.exists()

    def test_a_running_experiment_keeps_its_arms_but_its_guardrails_can_change(
        self, cast: Cast, running: Experiment
    ) -> None:
        page = as_user(cast.owner).get(url(cast, "stricter-pii/edit/"))
        assert "treatment_weight" not in page.context["form"].fields
        response = as_user(cast.owner).post(
            url(cast, "stricter-pii/edit/"),
            {
                "description": "tighter",
                "alpha": "0.05",
                "max_p95_latency_regression": "0.3",
                "max_fix_failure_regression": "0.05",
                "max_cost_regression": "0.1",
                "guardrail_min_calls": "100",
            },
        )
        assert response.status_code == 302
        running.refresh_from_db()
        assert running.max_p95_latency_regression == 0.3 and running.guardrail_min_calls == 100
        entry = running.audit_entries.get(action="update")
        assert entry.after == {
            "description": "tighter",
            "max_p95_latency_regression": 0.3,
            "guardrail_min_calls": 100,
        }


class TestRampEditor:
    def test_it_saves_the_steps_in_percent(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        make_experiment()
        response = as_user(cast.owner).post(
            url(cast, "stricter-pii/schedule/"),
            {
                "rows": "4",
                "coverage_0": "5",
                "hold_0": "minutes",
                "hold_value_0": "60",
                "coverage_1": "50",
                "hold_1": "sample",
                "hold_value_1": "1000",
                "coverage_2": "100",
                "hold_2": "approval",
                "hold_value_2": "",
                "coverage_3": "",
                "hold_3": "minutes",
                "hold_value_3": "",
            },
        )
        assert response.status_code == 302
        steps = RampStep.objects.filter(experiment__key="stricter-pii").order_by("position")
        assert [(s.coverage, s.hold, s.hold_value) for s in steps] == [
            (0.05, "minutes", 60),
            (0.5, "sample", 1000),
            (1.0, "approval", 0),
        ]
        assert AuditEntry.objects.filter(action="update", after__has_key="ramp").count() == 1

    def test_a_step_that_does_not_grow_the_coverage_is_named(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        make_experiment()
        response = as_user(cast.owner).post(
            url(cast, "stricter-pii/schedule/"),
            {
                "rows": "2",
                "coverage_0": "50",
                "hold_0": "minutes",
                "hold_value_0": "5",
                "coverage_1": "20",
                "hold_1": "minutes",
                "hold_value_1": "5",
            },
        )
        assert response.status_code == 400
        assert "ramp.1.coverage: ramp.1.coverage must be above the step before" in response.content.decode()
        assert not RampStep.objects.exists()


class TestButtons:
    def test_an_editor_pauses_resumes_and_rolls_back(self, cast: Cast, running: Experiment) -> None:
        owner = as_user(cast.owner)
        for action, status in (("pause", "paused"), ("start", "running"), ("rollback", "rolled_back")):
            assert owner.post(url(cast, f"stricter-pii/{action}/")).status_code == 302
            running.refresh_from_db()
            assert running.status == status
        assert [a.action for a in running.audit_entries.order_by("at", "id")][-3:] == [
            "pause",
            "start",
            "rollback",
        ]

    def test_a_refused_action_is_shown_as_a_message(self, cast: Cast, running: Experiment) -> None:
        response = as_user(cast.owner).post(url(cast, "stricter-pii/ship/"), {"arm": "both"}, follow=True)
        assert response.redirect_chain == [(url(cast, "stricter-pii/"), 302)]
        assert (
            "arm must be &#x27;control&#x27; or &#x27;treatment&#x27;, got &#x27;both&#x27;"
            in response.content.decode()
        )
        running.refresh_from_db()
        assert running.status == Experiment.Status.RUNNING

    def test_shipping_says_what_is_now_in_production(
        self, cast: Cast, running: Experiment, versions: dict[str, ContractVersion]
    ) -> None:
        contract_services.contract_version_activate(contract_version=versions["pii@1"], actor=cast.owner)
        body = as_user(cast.owner).get(url(cast, "stricter-pii/")).content.decode()
        assert ">Ship the treatment</button>" in body and ">Keep control</button>" in body
        assert "pii v1: the control's version" in body  # the activated version is served today
        response = as_user(cast.owner).post(
            url(cast, "stricter-pii/ship/"), {"arm": "treatment"}, follow=True
        )
        body = response.content.decode()
        running.refresh_from_db()
        assert running.status == Experiment.Status.COMPLETED and running.shipped == TREATMENT
        assert "The treatment was shipped" in body and "pii v2: the treatment's version" in body

    def test_a_viewer_cannot_press_them(self, cast: Cast, running: Experiment) -> None:
        for action in ("pause", "rollback", "approve"):
            assert as_user(cast.member).post(url(cast, f"stricter-pii/{action}/")).status_code == 403
        running.refresh_from_db()
        assert running.status == Experiment.Status.RUNNING

    def test_an_approval_is_recorded(self, cast: Cast, running: Experiment) -> None:
        assert as_user(cast.owner).post(url(cast, "stricter-pii/approve/")).status_code == 302
        assert running.ramp_steps.get(position=1).approved_by == cast.owner


class TestResults:
    def test_the_results_page_shows_the_comparison_charts_and_logs(
        self, cast: Cast, running: Experiment
    ) -> None:
        response = as_user(cast.member).get(url(cast, "stricter-pii/"))
        body = response.content.decode()
        figure = json.loads(
            body.split('id="chart-arm-rates-data" type="application/json">')[1].split("</script>")[0]
        )
        assert [trace["name"] for trace in figure["data"]] == ["control", "treatment"]
        assert figure["data"][0]["y"] == [0.05] and figure["data"][1]["y"] == [0.04]
        assert 'id="chart-arm-traffic"' in body
        assert '<dd id="srm">ok</dd>' in body
        # One unit (percent) and one verdict.
        assert '<dd id="control-rate">5%</dd>' in body and '<dd id="treatment-rate">4%</dd>' in body
        assert '<dd id="difference">-20%</dd>' in body and "always-valid interval -" in body
        assert "<strong>No significant difference yet</strong>" in body
        assert (
            "fixed-horizon" not in body
            and "chance-to-win" not in body
            and "0.05" not in body.split("<h2>Results")[1].split("</dl>")[0]
        )
        assert "p95 latency (ms)" in body and "cost per call (tokens)" in body and "195 ms" in body
        assert "starts only when a person approves" in body and "Current step: 10%" in body
        # The next step waits for a person: its button is there before the ramp moves.
        assert (
            "Approve going to 50%</button>"
            in as_user(cast.owner).get(url(cast, "stricter-pii/")).content.decode()
        )
        # The audit log reads as sentences, never as Python reprs.
        audit = body.split('<section id="audit">')[1]
        assert "Created the experiment" in audit and "Ramp: 10% hold 5 min; 50% waits for approval." in audit
        assert "{'" not in audit and "[" not in audit
        # Model and user text is escaped, never run.
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body

    def test_the_live_block_alone_is_sent_to_htmx(self, cast: Cast, running: Experiment) -> None:
        response = as_user(cast.owner).get(
            url(cast, "stricter-pii/"), headers={**HTMX, "HX-Target": "results"}
        )
        body = response.content.decode()
        assert body.lstrip().startswith('<section id="results"') and "<html" not in body

    def test_the_decision_log_shows_the_jobs_decisions(self, cast: Cast, running: Experiment) -> None:
        assert [d.action for d in services.rollout_evaluate_all()] == ["hold"]
        services.experiment_approve_step(experiment=running, actor=services.Actor.of_user(cast.owner))
        decisions = services.rollout_evaluate_all()
        assert [d.action for d in decisions] == ["advance"]
        body = as_user(cast.owner).get(url(cast, "stricter-pii/")).content.decode()
        assert (
            "Holding at 10% (step 1): this step is done; going to 50% waits for a person&#x27;s approval."
            in body
        )
        assert "Advanced from 10% to 50%: step 1 is done" in body


def test_a_draft_without_traffic_shows_its_page_and_the_list(
    cast: Cast, make_experiment: MakeExperiment
) -> None:
    make_experiment(ramp=[{"coverage": 0.05, "hold": "sample", "hold_value": 500}])
    owner = as_user(cast.owner)
    body = owner.get(url(cast, "stricter-pii/")).content.decode()
    assert '<dd id="srm">not enough calls</dd>' in body and ">Start</button>" in body
    assert "5% · hold until at least 500 calls per arm" in body
    # Empty charts say so instead of drawing empty axes.
    assert "Waiting for calls" in body and 'id="chart-arm-rates"' not in body
    listing = owner.get(url(cast)).content.decode()
    assert 'href="/p/alpha/experiments/stricter-pii/"' in listing and "Draft" in listing
