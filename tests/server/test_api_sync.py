"""Contracts, breakpoints, traces and health: what the SDK pulls and uploads besides events."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from contracts_app import services
from contracts_app.models import Breakpoint, Contract, ContractVersion, Trace
from dashboard.lib.immutable import ImmutableError

from .conftest import NOW, Cast


def add_version(project: Any, name: str, version: int) -> ContractVersion:
    # The LLMCL compiler is exercised in test_contract_versions.py; here a stored spec is enough.
    contract, _ = Contract.objects.get_or_create(project=project, name=name)
    return ContractVersion.objects.create(
        contract=contract,
        version=version,
        source=f"contract {name} {{}}",
        spec={"spec_version": "1", "name": name, "version": version},
    )


def get(client: Client, path: str, key: str, **headers: str) -> Any:
    return client.get(f"/api/v1/{path}", headers={"X-API-Key": key, **headers})


class TestContracts:
    def test_it_serves_only_the_activated_version_of_each_active_contract(
        self, cast: Cast, client: Client
    ) -> None:
        services.contract_version_activate(contract_version=add_version(cast.project_a, "SupportReply", 1))
        add_version(cast.project_a, "SupportReply", 2)  # a draft
        add_version(cast.project_a, "Draft", 1)  # never activated
        retired = add_version(cast.project_a, "Retired", 1)
        services.contract_version_activate(contract_version=retired)
        services.contract_deactivate(contract=retired.contract)
        services.contract_version_activate(contract_version=add_version(cast.project_a, "Ticket", 1))
        body = get(client, "contracts", cast.key_a).json()
        assert [(c["name"], c["version"]) for c in body["contracts"]] == [("SupportReply", 1), ("Ticket", 1)]
        assert body["contracts"][0]["spec"]["version"] == 1

    def test_a_key_from_another_project_cannot_read_them(self, cast: Cast, client: Client) -> None:
        services.contract_version_activate(contract_version=add_version(cast.project_a, "SupportReply", 1))
        assert get(client, "contracts", cast.key_b).json() == {"contracts": []}

    def test_it_answers_304_while_the_etag_matches(self, cast: Cast, client: Client) -> None:
        services.contract_version_activate(contract_version=add_version(cast.project_a, "SupportReply", 1))
        first = get(client, "contracts", cast.key_a)
        etag = first["ETag"]
        again = get(client, "contracts", cast.key_a, **{"If-None-Match": etag})
        assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
        services.contract_version_activate(contract_version=add_version(cast.project_a, "SupportReply", 2))
        changed = get(client, "contracts", cast.key_a, **{"If-None-Match": etag})
        assert changed.status_code == 200 and changed["ETag"] != etag

    def test_a_saved_version_cannot_be_changed(self, cast: Cast) -> None:
        version = add_version(cast.project_a, "SupportReply", 1)
        version.source = "changed"
        with pytest.raises(ImmutableError):
            version.save()


class TestBreakpoints:
    def test_it_lists_active_breakpoints_of_the_keys_project(self, cast: Cast, client: Client) -> None:
        bp = services.breakpoint_create(
            project=cast.project_a, contract="SupportReply", limit=5, output_contains="refund"
        )
        services.breakpoint_create(project=cast.project_b, contract="Other")
        Breakpoint.objects.create(project=cast.project_a, contract="Off", active=False)
        response = get(client, "breakpoints", cast.key_a)
        assert response.json() == {
            "breakpoints": [
                {
                    "id": bp.pk,
                    "contract": "SupportReply",
                    "severity": None,
                    "model": None,
                    "input_contains": None,
                    "output_contains": "refund",
                    "remaining": 5,
                    "rate_per_minute": 10,
                }
            ],
            "trace_sample_rate": 1.0,
        }
        assert (
            get(client, "breakpoints", cast.key_a, **{"If-None-Match": response["ETag"]}).status_code == 304
        )

    def test_a_trace_counts_a_hit_and_a_spent_breakpoint_disappears(self, cast: Cast, client: Client) -> None:
        bp = services.breakpoint_create(project=cast.project_a, contract="SupportReply", limit=1)
        response = post_trace(client, cast.key_a, trace_id="t1", breakpoint_id=bp.pk)
        assert response.status_code == 201
        bp.refresh_from_db()
        assert (bp.hit_count, bp.active) == (1, False)
        assert get(client, "breakpoints", cast.key_a).json() == {"breakpoints": [], "trace_sample_rate": 1.0}

    def test_a_trace_cannot_name_another_projects_breakpoint(self, cast: Cast, client: Client) -> None:
        bp = services.breakpoint_create(project=cast.project_b, contract="Other")
        response = post_trace(client, cast.key_a, trace_id="t2", breakpoint_id=bp.pk)
        assert response.status_code == 404
        assert response.json()["errors"][0]["field"] == "breakpoint_id"
        bp.refresh_from_db()
        assert bp.hit_count == 0


def post_trace(client: Client, key: str, **overrides: Any) -> Any:
    trace = {
        "trace_id": "t",
        "call_id": "c",
        "created_at": NOW.isoformat(),
        "breakpoint_id": None,
        "outcome": "violated",
        "model": "gpt-4o-mini",
        "steps": [
            {
                "kind": "request",
                "name": "chat",
                "started_ms": 0.0,
                "duration_ms": 0.1,
                "data": {"messages": [{"role": "user", "content": "I am jane.doe@example.com"}]},
            },
            {"kind": "outcome", "name": "violated", "started_ms": 5.0, "duration_ms": 0.0, "data": {}},
        ],
    }
    trace.update(overrides)
    return client.post("/api/v1/traces", trace, content_type="application/json", headers={"X-API-Key": key})


class TestTraces:
    def test_it_stores_a_trace_once_and_redacts_it(self, cast: Cast, client: Client) -> None:
        assert post_trace(client, cast.key_a, trace_id="abc").status_code == 201
        again = post_trace(client, cast.key_a, trace_id="abc")
        assert again.status_code == 200 and again.json() == {"trace_id": "abc", "created": False}
        trace = Trace.objects.get()
        assert "jane.doe@example.com" not in str(trace.steps)
        assert trace.project == cast.project_a

    def test_it_rejects_an_unknown_step_kind_naming_the_field(self, cast: Cast, client: Client) -> None:
        response = post_trace(client, cast.key_a, steps=[{"kind": "dance"}])
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "steps.0.kind"

    def test_it_refuses_a_trace_without_a_key(self, cast: Cast, client: Client) -> None:
        assert client.post("/api/v1/traces", {}, content_type="application/json").status_code == 401


class TestHealth:
    def test_it_reports_the_database_without_a_key(self, db: None, client: Client) -> None:
        response = client.get("/api/v1/health")
        assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})

    def test_it_answers_503_when_the_database_is_down(
        self, db: None, client: Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from contracts_app import selectors

        # The database cannot be stopped from a test; make its query fail instead.
        monkeypatch.setattr(selectors, "connection", None)
        response = client.get("/api/v1/health")
        assert (response.status_code, response.json()["database"]) == (503, "error")

    def test_the_openapi_docs_are_served(self, db: None, client: Client) -> None:
        schema = client.get("/api/v1/openapi.json").json()
        assert {
            "/api/v1/events",
            "/api/v1/traces",
            "/api/v1/contracts",
            "/api/v1/breakpoints",
            "/api/v1/health",
        } <= set(schema["paths"])
        assert client.get("/api/v1/docs").status_code == 200
