"""Experiment services and charts: the rules of each change, its audit entry, and the figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts_app.models import ContractVersion
from dashboard.lib.errors import ServiceError
from experiments import charts, services
from experiments.models import CONTROL, TREATMENT, Experiment

from ..conftest import Cast
from .conftest import MakeExperiment, add_version


def owner(cast: Cast) -> services.Actor:
    return services.Actor.of_user(cast.owner)


class TestRules:
    def test_a_key_is_unique_in_its_project_only(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        make_experiment()
        with pytest.raises(services.Conflict) as exc:
            make_experiment()
        assert exc.value.field == "key" and exc.value.status == 409
        other = add_version(cast.project_b, "pii", 1)
        services.experiment_create(
            project=cast.project_b, key="stricter-pii", actor=services.Actor.of_user(cast.outsider),
            treatment=[other.pk],
        )  # fmt: skip

    def test_a_version_from_another_project_is_refused_naming_the_arm(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        foreign = add_version(cast.project_b, "pii", 1)
        with pytest.raises(ServiceError) as exc:
            make_experiment(treatment=[foreign.pk])
        assert exc.value.field == TREATMENT and f"no contract version {foreign.pk}" in exc.value.reason

    def test_two_versions_of_one_contract_in_an_arm_are_refused(
        self, cast: Cast, make_experiment: MakeExperiment, versions: dict[str, ContractVersion]
    ) -> None:
        with pytest.raises(ServiceError) as exc:
            make_experiment(control=[versions["pii@1"].pk, versions["pii@2"].pk])
        assert exc.value.field == CONTROL and "several of pii" in exc.value.reason

    def test_identical_arms_cannot_start(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        experiment = make_experiment(treatment=[], control=[], coverage=0.5)
        with pytest.raises(ServiceError) as exc:
            services.experiment_start(experiment=experiment, actor=owner(cast))
        assert exc.value.field == TREATMENT
        experiment.refresh_from_db()
        assert experiment.status == Experiment.Status.DRAFT and experiment.audit_entries.count() == 1

    def test_the_arms_and_split_are_fixed_once_started(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = services.experiment_start(experiment=make_experiment(coverage=0.5), actor=owner(cast))
        for field, value in (("weights", [0.2, 0.8]), (CONTROL, []), ("seed", "x")):
            with pytest.raises(services.Conflict) as exc:
                services.experiment_update(experiment=experiment, actor=owner(cast), **{field: value})
            assert exc.value.field == field

    def test_a_rolled_back_experiment_changes_no_more(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = services.experiment_start(experiment=make_experiment(coverage=0.5), actor=owner(cast))
        services.experiment_rollback(experiment=experiment, actor=owner(cast))
        for call in (
            lambda: services.experiment_set_coverage(experiment=experiment, actor=owner(cast), coverage=0.2),
            lambda: services.experiment_start(experiment=experiment, actor=owner(cast)),
            lambda: services.experiment_update(experiment=experiment, actor=owner(cast), description="x"),
        ):
            with pytest.raises(services.Conflict):
                call()
        experiment.refresh_from_db()
        assert experiment.coverage == 0.0 and experiment.status == Experiment.Status.ROLLED_BACK

    def test_an_unknown_field_is_named(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        with pytest.raises(ServiceError) as exc:
            make_experiment(colour="red")
        assert exc.value.field == "colour"

    def test_every_change_writes_one_audit_entry_with_only_what_changed(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        experiment = make_experiment(coverage=0.1)
        services.experiment_update(experiment=experiment, actor=owner(cast), sticky=True, description="")
        services.experiment_update(experiment=experiment, actor=owner(cast), sticky=True)
        entries = list(experiment.audit_entries.order_by("at", "id"))
        assert [e.action for e in entries] == ["create", "update"]
        assert (entries[1].before, entries[1].after) == ({"sticky": False}, {"sticky": True})
        assert entries[0].after["treatment"] == ["pii@2"] and entries[0].actor == cast.owner


class TestMutualExclusion:
    def test_a_second_experiment_on_the_same_contract_cannot_start_while_the_first_runs(
        self, cast: Cast, make_experiment: MakeExperiment, versions: dict[str, ContractVersion]
    ) -> None:
        first = services.experiment_start(experiment=make_experiment(coverage=0.5), actor=owner(cast))
        second = make_experiment("pii-again", coverage=0.5, control=[versions["pii@2"].pk], treatment=[])
        with pytest.raises(services.Conflict) as exc:
            services.experiment_start(experiment=second, actor=owner(cast))
        assert exc.value.field == "status"
        assert "'stricter-pii' is running on the same contract (pii)" in exc.value.reason
        second.refresh_from_db()
        assert second.status == Experiment.Status.DRAFT
        # A paused experiment still holds its contract; a finished one frees it.
        services.experiment_pause(experiment=first, actor=owner(cast))
        with pytest.raises(services.Conflict):
            services.experiment_start(experiment=second, actor=owner(cast))
        services.experiment_rollback(experiment=first, actor=owner(cast))
        services.experiment_start(experiment=second, actor=owner(cast))

    def test_experiments_on_different_contracts_run_side_by_side(
        self, cast: Cast, make_experiment: MakeExperiment, versions: dict[str, ContractVersion]
    ) -> None:
        services.experiment_start(experiment=make_experiment(coverage=0.5), actor=owner(cast))
        other = make_experiment("json", coverage=0.5, control=[], treatment=[versions["json@1"].pk])
        assert services.experiment_start(experiment=other, actor=owner(cast)).status == "running"


class TestCharts:
    series = {
        "control": [(datetime(2025, 3, 4, 12, 0, tzinfo=UTC), 0.05, 100)],
        "treatment<b>": [(datetime(2025, 3, 4, 12, 0, tzinfo=UTC), 0.07, 90)],
    }

    def test_the_rate_chart_has_a_line_per_arm_with_escaped_hover_text(self) -> None:
        figure = charts.violation_rate_figure(self.series)
        assert [t["name"] for t in figure["data"]] == ["control", "treatment&lt;b&gt;"]
        assert list(figure["data"][1]["hovertext"]) == ["treatment&lt;b&gt;: 7.00% of 90 calls"]
        assert figure["layout"]["yaxis"]["tickformat"] == ".0%"

    def test_the_traffic_chart_counts_calls(self) -> None:
        figure = charts.traffic_figure(self.series)
        assert [list(t["y"]) for t in figure["data"]] == [[100], [90]]
