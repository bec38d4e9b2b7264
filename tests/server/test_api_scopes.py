"""API key scopes: every API route needs one scope, and a key without it gets a 403 naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import ApiKey
from dashboard.api import api
from dashboard.lib.errors import ServiceError

from .conftest import Cast, make_event

# Every operation of the API and the scope it needs (None: no key at all). A new route
# fails the first test until it is listed here with the scope it should need.
ROUTES: dict[tuple[str, str], str | None] = {
    ("POST", "/events"): "ingest",
    ("POST", "/traces"): "ingest",
    ("GET", "/contracts"): "read",
    ("GET", "/breakpoints"): "read",
    ("GET", "/experiments"): "read",
    ("POST", "/experiments"): "write",
    ("POST", "/experiments/{experiment_key}/start"): "write",
    ("POST", "/experiments/{experiment_key}/pause"): "write",
    ("POST", "/experiments/{experiment_key}/ramp"): "write",
    ("POST", "/experiments/{experiment_key}/rollback"): "write",
    ("POST", "/experiments/{experiment_key}/coverage"): "write",
    ("POST", "/experiments/{experiment_key}/ship"): "write",
    ("GET", "/health"): None,
}

BODIES: dict[str, Any] = {
    "/events": {"events": [make_event()]},
    "/traces": {"trace_id": "t-1", "steps": []},
    "/experiments": {"key": "x"},
    "/experiments/{experiment_key}/coverage": {"coverage": 0.5},
    "/experiments/{experiment_key}/ship": {"arm": "treatment"},
}


def test_every_route_is_listed_with_its_scope_and_keyed_routes_say_so_in_the_schema() -> None:
    schema = api.get_openapi_schema(path_prefix="")
    found = {
        (method.upper(), path): bool(operation.get("security"))
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert set(found) == set(ROUTES)
    assert {route for route, keyed in found.items() if keyed} == {r for r, s in ROUTES.items() if s}


def key_with(cast: Cast, *scopes: str) -> str:
    _, raw = account_services.api_key_create(project=cast.project_a, name="+".join(scopes), scopes=scopes)
    return raw


def call(client: Client, method: str, path: str, key: str) -> Any:
    url = "/api/v1" + path.replace("{experiment_key}", "no-such-experiment")
    if method == "GET":
        return client.get(url, headers={"X-API-Key": key})
    body = json.dumps(BODIES.get(path, {}))
    return client.post(url, body, content_type="application/json", headers={"X-API-Key": key})


SCOPED = [(method, path, scope) for (method, path), scope in ROUTES.items() if scope]


class TestScopes:
    @pytest.mark.parametrize(("method", "path", "scope"), SCOPED)
    def test_a_key_without_the_scope_is_refused_with_403(
        self, client: Client, cast: Cast, method: str, path: str, scope: str
    ) -> None:
        others = [s for s in account_services.API_KEY_SCOPES if s != scope]
        response = call(client, method, path, key_with(cast, *others))
        assert response.status_code == 403
        assert response.json() == {
            "errors": [{"field": "X-API-Key", "reason": f"this API key lacks the {scope!r} scope"}]
        }

    @pytest.mark.parametrize(("method", "path", "scope"), SCOPED)
    def test_a_key_with_only_the_scope_gets_through(
        self, client: Client, cast: Cast, method: str, path: str, scope: str
    ) -> None:
        response = call(client, method, path, key_with(cast, scope))
        assert response.status_code not in (401, 403), response.content

    def test_a_read_key_cannot_ingest_and_an_ingest_key_cannot_read_contract_sources(
        self, client: Client, cast: Cast
    ) -> None:
        reader, ingester = key_with(cast, "read"), key_with(cast, "ingest")
        assert call(client, "POST", "/events", reader).status_code == 403
        assert call(client, "GET", "/contracts", ingester).status_code == 403
        assert call(client, "POST", "/events", ingester).status_code == 207
        assert call(client, "GET", "/contracts", reader).status_code == 200

    def test_an_unknown_key_is_still_401(self, client: Client, cast: Cast) -> None:
        assert call(client, "GET", "/contracts", "lck_nope").status_code == 401

    def test_unknown_scopes_are_refused_at_creation(self, cast: Cast) -> None:
        with pytest.raises(ServiceError, match="scopes must be among"):
            account_services.api_key_create(project=cast.project_a, name="x", scopes=["admin"])


class TestSettingsPage:
    def test_the_scopes_are_chosen_when_a_key_is_created(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.owner)
        page = client.get(f"/p/{cast.project_a.slug}/settings/").content.decode()
        assert 'name="scopes" value="write"' in page
        response = client.post(
            f"/p/{cast.project_a.slug}/settings/keys/", {"name": "pipeline", "scopes": ["write"]}
        )
        assert response.status_code == 201
        assert ApiKey.objects.get(name="pipeline").scopes == "write"
        raw = response.context["new_key"]
        assert call(client, "POST", "/experiments", raw).status_code != 403
        assert call(client, "GET", "/contracts", raw).status_code == 403

    def test_a_key_needs_at_least_one_scope(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.owner)
        response = client.post(f"/p/{cast.project_a.slug}/settings/keys/", {"name": "none"})
        assert response.status_code == 400 and b"scopes: " in response.content
        assert not ApiKey.objects.filter(name="none").exists()
