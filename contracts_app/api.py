"""The SDK-facing API: upload of traces, pull of contract specs and breakpoints (events: telemetry.api)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from accounts.api import ProjectKey
from accounts.models import ApiKey
from contracts_app import selectors, services
from contracts_app.schemas import BreakpointsOut, ContractsOut, ErrorOut, TraceIn, TraceOut

INGEST, READ = ProjectKey("ingest"), ProjectKey("read")
router = Router(auth=READ, tags=["sdk"])

_ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    413: ErrorOut,
    415: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
    503: ErrorOut,
}


def _key(request: HttpRequest) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    return key


@router.post("/traces", auth=INGEST, response={200: TraceOut, 201: TraceOut, **_ERRORS})
def post_trace(request: HttpRequest, trace: TraceIn) -> Status[dict[str, Any]]:
    """Store the debugger trace of one call (once per trace id)."""
    stored, created = services.trace_store(project=_key(request).project, trace=trace)
    return Status(201 if created else 200, {"trace_id": stored.trace_id, "created": created})


def _conditional(request: HttpRequest, response: HttpResponse, data: dict[str, Any]) -> Any:
    etag = selectors.etag_of(data)
    wanted = {tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return HttpResponse(status=304, headers={"ETag": etag})
    response["ETag"] = etag
    return Status(200, data)


@router.get("/contracts", auth=READ, response={200: ContractsOut, 304: None, **_ERRORS})
def get_contracts(request: HttpRequest, response: HttpResponse) -> Any:
    """Return the project's active contract specs; 304 when the ETag still matches."""
    return _conditional(
        request, response, {"contracts": selectors.contracts_active_specs(project=_key(request).project)}
    )


@router.get("/breakpoints", auth=READ, response={200: BreakpointsOut, 304: None, **_ERRORS})
def get_breakpoints(request: HttpRequest, response: HttpResponse) -> Any:
    """Return the project's active breakpoints and trace sample rate; 304 when the ETag still matches."""
    project = _key(request).project
    breakpoints = selectors.breakpoints_active(project=project)
    data = {
        "trace_sample_rate": project.trace_sample_rate,
        "breakpoints": [
            {
                "id": bp.pk,
                "contract": bp.contract,
                "severity": bp.severity,
                "model": bp.model,
                "input_contains": bp.input_contains,
                "output_contains": bp.output_contains,
                "remaining": bp.remaining,
                "rate_per_minute": bp.rate_per_minute,
            }
            for bp in breakpoints
        ],
    }
    return _conditional(request, response, data)
