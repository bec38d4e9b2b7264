"""The one NinjaAPI of the control plane (mounted at /api/v1/), its error mapping and health check."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from contracts_app import selectors
from contracts_app.api import router as contracts_router
from contracts_app.schemas import HealthOut
from dashboard.lib.errors import ServiceError
from dashboard.lib.immutable import ImmutableError
from dashboard.lib.limits import Saturated
from dashboard.lib.text import first_unstorable
from experiments.api import router as experiments_router
from telemetry.api import router as telemetry_router
from telemetry.schemas import batch_parse_valid

logger = logging.getLogger(__name__)


class UnstorableText(Exception):
    """A request body with a key or string no database column could hold."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# Validated per item by their own schemas: one bad item must not refuse its batch.
_PER_ITEM_PATHS = ("/events", "/traces")


class JsonParser(Parser):
    """Parse JSON bodies; refuse one whose text no column could hold, naming the field."""

    def parse_body(self, request: HttpRequest) -> Any:
        if request.path.rstrip("/").endswith("/events"):
            # The hot ingest path: a batch valid as a whole is validated from the raw body
            # in one pass; any other body is parsed and then validated item by item.
            valid = batch_parse_valid(request.body)
            if valid is not None:
                return valid
        data = super().parse_body(request)
        if not request.path.rstrip("/").endswith(_PER_ITEM_PATHS):
            try:
                found = first_unstorable(data)
            except RecursionError:
                found = ("body", "nests too deeply")
            if found is not None:
                raise UnstorableText(*found)
        return data


api = NinjaAPI(
    parser=JsonParser(),
    title="llm-contracts control plane",
    version="1",
    urls_namespace="api-v1",
    docs_url="/docs",
    description="The API the llm-contracts SDK reports to and pulls from (docs/protocol.md).",
)
api.add_router("/", telemetry_router)
api.add_router("/", contracts_router)
api.add_router("/", experiments_router)


def _errors(request: HttpRequest, status: int, errors: list[dict[str, str]], **headers: str) -> HttpResponse:
    response = api.create_response(request, {"errors": errors}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _field(loc: Any) -> str:
    # ninja prefixes locations with where the value came from ("body", "batch", ...).
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "header", "path"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in ("batch", "trace"):
        parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _errors(
        request,
        422,
        [{"field": _field(e.get("loc", ())), "reason": str(e.get("msg", "invalid"))} for e in exc.errors],
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _errors(
        request, 401, [{"field": "X-API-Key", "reason": "missing, unknown, revoked or expired API key"}]
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, UnstorableText):
        # ninja wraps every parser error into "Cannot parse request body"; say what and where.
        return _errors(request, 422, [{"field": cause.field, "reason": cause.reason}])
    return _errors(request, exc.status_code, [{"field": "body", "reason": str(exc)}])


@api.exception_handler(ServiceError)
def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return _errors(request, exc.status, [{"field": exc.field, "reason": exc.reason}])


@api.exception_handler(ImmutableError)
def on_immutable(request: HttpRequest, exc: ImmutableError) -> HttpResponse:
    return _errors(request, 409, [{"field": "body", "reason": str(exc)}])


@api.exception_handler(Saturated)
def on_saturated(request: HttpRequest, exc: Saturated) -> HttpResponse:
    return _errors(
        request, 429, [{"field": "body", "reason": str(exc)}], **{"Retry-After": str(exc.retry_after)}
    )


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_unavailable(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    # A lost connection or an exhausted pool: the client keeps its batch and retries.
    logger.warning("database unavailable: %s", exc)
    from django.conf import settings

    return _errors(
        request,
        503,
        [{"field": "body", "reason": "the database is unavailable"}],
        **{"Retry-After": str(settings.INGEST_RETRY_AFTER_S)},
    )


@api.get("/health", auth=None, response={200: HealthOut, 503: HealthOut}, tags=["ops"])
def health(request: HttpRequest) -> Status[dict[str, str]]:
    """Answer whether the server and its database are up (no key needed)."""
    if selectors.database_ok():
        return Status(200, {"status": "ok", "database": "ok"})
    return Status(503, {"status": "error", "database": "error"})
