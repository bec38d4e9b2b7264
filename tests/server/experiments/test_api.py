"""The experiments API: what the SDK pulls (with an ETag), and changes by deployment pipelines."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts import services as account_services
from contracts_app.models import ContractVersion
from experiments import services
from experiments.models import Experiment

from ..conftest import Cast
from .conftest import MakeExperiment


@pytest.fixture
def write_key(cast: Cast) -> str:
    key, raw = account_services.api_key_create(project=cast.project_a, name="deploy", created_by=cast.owner)
    key.scopes = "ingest,read,write"
    key.save()
    return raw


def get(client: Client, key: str, **headers: str) -> Any:
    return client.get("/api/v1/experiments", headers={"X-API-Key": key, **headers})


def post(client: Client, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(
        f"/api/v1/experiments{path}",
        json.dumps(body or {}),
        content_type="application/json",
        headers={"X-API-Key": key},
    )


class TestPull:
    def test_it_serves_running_experiments_in_the_sdk_shape(
        self, cast: Cast, make_experiment: MakeExperiment, versions: dict[str, ContractVersion]
    ) -> None:
        experiment = make_experiment(
            treatment=[versions["pii@2"].pk, versions["json@1"].pk], coverage=0.25, sticky=True
        )
        services.experiment_start(experiment=experiment, actor=services.Actor.of_user(cast.owner))
        make_experiment(key="still-a-draft", coverage=0.5)
        response = get(Client(), cast.key_a)
        assert response.status_code == 200
        assert response.json() == {
            "experiments": [
                {
                    "key": "stricter-pii",
                    "seed": "stricter-pii",
                    "status": "running",
                    "coverage": 0.25,
                    "weights": [0.5, 0.5],
                    "variations": [
                        {
                            "key": "control",
                            "contracts": [{"name": "pii", "version": 1, "spec": versions["pii@1"].spec}],
                        },
                        {
                            "key": "treatment",
                            "contracts": [
                                {"name": "json_format", "version": 1, "spec": versions["json@1"].spec},
                                {"name": "pii", "version": 2, "spec": versions["pii@2"].spec},
                            ],
                        },
                    ],
                    "sticky": True,
                }
            ]
        }

    def test_a_key_from_another_project_sees_none(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        experiment = make_experiment(coverage=0.5)
        services.experiment_start(experiment=experiment, actor=services.Actor.of_user(cast.owner))
        assert get(Client(), cast.key_b).json() == {"experiments": []}

    def test_it_answers_304_until_the_slider_moves(self, cast: Cast, make_experiment: MakeExperiment) -> None:
        actor = services.Actor.of_user(cast.owner)
        experiment = services.experiment_start(experiment=make_experiment(coverage=0.1), actor=actor)
        client = Client()
        etag = get(client, cast.key_a)["ETag"]
        again = get(client, cast.key_a, **{"If-None-Match": etag})
        assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
        services.experiment_set_coverage(experiment=experiment, actor=actor, coverage=0.3)
        changed = get(client, cast.key_a, **{"If-None-Match": etag})
        assert changed.status_code == 200 and changed["ETag"] != etag
        assert changed.json()["experiments"][0]["coverage"] == 0.3

    def test_it_needs_a_key(self, cast: Cast) -> None:
        assert Client().get("/api/v1/experiments").status_code == 401


class TestPipeline:
    def test_a_key_without_the_write_scope_cannot_change_anything(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        make_experiment(coverage=0.5)
        client = Client()
        for response in (
            post(client, "", cast.key_a, {"key": "new"}),
            post(client, "/stricter-pii/start", cast.key_a),
        ):
            assert response.status_code == 403
            assert response.json()["errors"] == [
                {"field": "X-API-Key", "reason": "this API key lacks the 'write' scope"}
            ]
        assert Experiment.objects.get().status == Experiment.Status.DRAFT

    def test_a_pipeline_creates_starts_ramps_pauses_and_rolls_back_with_audit_entries(
        self, cast: Cast, versions: dict[str, ContractVersion], write_key: str
    ) -> None:
        client = Client()
        created = post(
            client,
            "",
            write_key,
            {
                "key": "pii-v2",
                "control": [{"name": "pii", "version": 1}],
                "treatment": [{"name": "pii", "version": 2}],
                "ramp": [
                    {"coverage": 0.05, "hold": "minutes", "hold_value": 60},
                    {"coverage": 0.5, "hold": "approval"},
                ],
            },
        )
        assert created.status_code == 201, created.json()
        assert created.json()["treatment"] == [{"name": "pii", "version": 2}]
        assert post(client, "/pii-v2/start", write_key).json()["coverage"] == 0.05
        assert post(client, "/pii-v2/ramp", write_key).json()["coverage"] == 0.5
        assert post(client, "/pii-v2/pause", write_key).json()["status"] == "paused"
        assert post(client, "/pii-v2/rollback", write_key).json()["status"] == "rolled_back"
        experiment = Experiment.objects.get(key="pii-v2")
        entries = list(experiment.audit_entries.order_by("at", "id"))
        assert [e.action for e in entries] == ["create", "start", "ramp", "pause", "rollback"]
        assert {e.actor_label for e in entries} == {"API key deploy (" + write_key[:12] + "…)"}
        assert entries[2].before == {"coverage": 0.05, "current_step": 0}
        assert entries[2].after == {"coverage": 0.5, "current_step": 1}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"key": "x", "weights": [0.7, 0.7]}, "weights"),
            ({"key": "x", "coverage": 2}, "coverage"),
            ({"key": "x", "control": [{"name": "pii", "version": 9}]}, "control"),
            ({"key": "x", "ramp": [{"coverage": 0.5}, {"coverage": 0.2}]}, "ramp.0.hold_value"),
            (
                {
                    "key": "x",
                    "ramp": [{"coverage": 0.5, "hold_value": 5}, {"coverage": 0.2, "hold_value": 5}],
                },
                "ramp.1.coverage",
            ),
            ({"key": "no spaces"}, "key"),
        ],
    )
    def test_bad_input_is_refused_naming_the_field(
        self,
        cast: Cast,
        versions: dict[str, ContractVersion],
        write_key: str,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = post(Client(), "", write_key, body)
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == [field]
        assert not Experiment.objects.exists()

    def test_it_answers_404_for_an_unknown_experiment_and_409_for_a_wrong_status(
        self, cast: Cast, make_experiment: MakeExperiment, write_key: str
    ) -> None:
        make_experiment(coverage=0.5)
        client = Client()
        missing = post(client, "/nope/start", write_key)
        assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "key"
        paused = post(client, "/stricter-pii/pause", write_key)
        assert paused.status_code == 409
        assert paused.json()["errors"] == [
            {"field": "status", "reason": "cannot pause an experiment that is Draft"}
        ]

    def test_a_key_cannot_touch_another_projects_experiment(
        self, cast: Cast, make_experiment: MakeExperiment
    ) -> None:
        make_experiment(coverage=0.5)
        key, raw = account_services.api_key_create(project=cast.project_b, name="b-deploy")
        key.scopes = "write"
        key.save()
        assert post(Client(), "/stricter-pii/start", raw).status_code == 404
