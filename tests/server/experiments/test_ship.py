"""Finishing an experiment ships one arm: its versions become the active ones, as the contracts pages do."""

from __future__ import annotations

import pytest

from contracts_app import selectors as contract_selectors
from contracts_app import services as contract_services
from contracts_app.models import ContractVersion
from dashboard.lib.errors import ServiceError
from experiments import selectors, services
from experiments.models import CONTROL, TREATMENT, Experiment

from ..conftest import Cast

LENIENT = "contract Reply {\n  ensure len(output) <= 2000\n}\n"
STRICT = "contract Reply {\n  ensure len(output) <= 500\n}\n"


@pytest.fixture
def running(cast: Cast) -> Experiment:
    """Production serves the lenient Reply v1; the treatment is the strict v2, a draft."""
    v1 = contract_services.contract_save(project=cast.project_a, source=LENIENT, author=cast.owner)
    contract_services.contract_version_activate(contract_version=v1, actor=cast.owner)
    v2 = contract_services.contract_save(
        project=cast.project_a, name="Reply", source=STRICT, author=cast.owner
    )
    experiment = services.experiment_create(
        project=cast.project_a,
        key="strict-reply",
        actor=services.Actor.of_user(cast.owner),
        control=[v1.pk],
        treatment=[v2.pk],
        coverage=0.5,
    )
    return services.experiment_start(experiment=experiment, actor=services.Actor.of_user(cast.owner))


def served(cast: Cast) -> dict[str, str]:
    return {c["name"]: c["source"] for c in contract_selectors.contracts_active_specs(project=cast.project_a)}


class TestShip:
    def test_shipping_the_treatment_makes_its_versions_the_active_ones(
        self, cast: Cast, running: Experiment
    ) -> None:
        assert served(cast) == {"Reply": LENIENT}
        experiment = services.experiment_ship(
            experiment=running, actor=services.Actor.of_user(cast.owner), arm=TREATMENT
        )
        assert experiment.status == Experiment.Status.COMPLETED and experiment.shipped == TREATMENT
        # Everybody now gets the treatment's contract, from the project's contracts.
        assert served(cast) == {"Reply": STRICT}
        # The deploy is the contracts' own audited activation, attributed to the experiment.
        contract = ContractVersion.objects.get(contract__name="Reply", version=2).contract
        assert contract.running_version == 2
        deploy = contract.audit_entries.get(to_version=2)
        assert deploy.action == "activate" and deploy.actor == cast.owner
        assert "strict-reply" in deploy.actor_label
        assert selectors.experiments_for_sdk(project=cast.project_a) == []
        [production] = selectors.in_production(experiment=experiment)
        assert (production.name, production.version, production.active, production.arm) == (
            "Reply",
            2,
            True,
            TREATMENT,
        )
        audit = experiment.audit_entries.get(action="ship")
        assert audit.after["shipped"] == TREATMENT and audit.after["in_production"] == ["Reply@2"]

    def test_shipping_control_keeps_or_restores_the_control_versions(
        self, cast: Cast, running: Experiment
    ) -> None:
        services.experiment_ship(experiment=running, actor=services.Actor.of_user(cast.owner), arm=CONTROL)
        assert served(cast) == {"Reply": LENIENT}
        # Production already ran control's version: nothing was deployed.
        assert ContractVersion.objects.filter(contract__name="Reply").count() == 2
        contract = ContractVersion.objects.get(contract__name="Reply", version=1).contract
        assert not contract.audit_entries.filter(to_version=2).exists()
        [production] = selectors.in_production(experiment=running)
        assert production.arm == CONTROL

    def test_a_deactivated_contract_is_switched_on_when_shipped(
        self, cast: Cast, running: Experiment
    ) -> None:
        contract = ContractVersion.objects.filter(contract__name="Reply").first().contract  # type: ignore[union-attr]
        contract_services.contract_deactivate(contract=contract, actor=cast.owner)
        services.experiment_ship(experiment=running, actor=services.Actor.of_user(cast.owner), arm=TREATMENT)
        assert served(cast) == {"Reply": STRICT}

    def test_an_unknown_arm_or_a_finished_experiment_is_refused(
        self, cast: Cast, running: Experiment
    ) -> None:
        actor = services.Actor.of_user(cast.owner)
        with pytest.raises(ServiceError) as exc:
            services.experiment_ship(experiment=running, actor=actor, arm="both")
        assert exc.value.field == "arm"
        services.experiment_rollback(experiment=running, actor=actor)
        with pytest.raises(services.Conflict):
            services.experiment_ship(experiment=running, actor=actor, arm=TREATMENT)
        assert served(cast) == {"Reply": LENIENT}
