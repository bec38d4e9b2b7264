"""The events API: the SDKs' batches of validation events."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from accounts.api import ProjectKey
from accounts.models import ApiKey
from dashboard.lib.limits import ingest_slot
from telemetry import services
from telemetry.schemas import BatchIn, BatchOut, ErrorOut

INGEST = ProjectKey("ingest")
router = Router(auth=INGEST, tags=["sdk"])

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


@router.post("/events", auth=INGEST, response={207: BatchOut, **_ERRORS}, exclude_none=True)
def post_events(request: HttpRequest, batch: BatchIn) -> Status[dict[str, Any]]:
    """Store a batch of validation events; answer one status per item."""
    with ingest_slot():
        result = services.event_ingest_batch(
            project=_key(request).project, events=batch.events, sdk=batch.sdk
        )
    # Built by hand: dataclasses.asdict deep-copies every per-item status.
    return Status(
        207,
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "results": result.results,
        },
    )
