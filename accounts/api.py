"""How the API knows its caller: a project API key and the scope a route needs."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import APIKeyHeader

from accounts import services
from accounts.models import ApiKey
from dashboard.lib.errors import ServiceError


class MissingScope(ServiceError):
    status = 403


def key_scopes(api_key: ApiKey) -> set[str]:
    """Return the scopes ``api_key`` holds."""
    return {s.strip() for s in api_key.scopes.split(",")}


class ProjectKey(APIKeyHeader):
    """Authenticate with a project API key in ``X-API-Key`` that holds ``scope``; its project scopes the call.

    Scopes: ``ingest`` (send events and traces), ``read`` (pull contracts, breakpoints and
    experiments), ``write`` (change experiments). A key without the scope gets a 403.
    """

    param_name = "X-API-Key"

    def __init__(self, scope: str) -> None:
        if scope not in services.API_KEY_SCOPES:
            raise ValueError(f"unknown API key scope {scope!r}")
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        api_key = services.api_key_authenticate(raw_key=key or "")
        if api_key is not None and self.scope not in key_scopes(api_key):
            raise MissingScope(f"this API key lacks the {self.scope!r} scope", field="X-API-Key")
        return api_key
