"""The shapes of the events API: the SDK's protocol models (llm_contracts.protocol).

The names here are the server's aliases of those models, so that both sides validate with
one definition (docs/protocol.md is generated from it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_contracts import protocol

MAX_BATCH = protocol.MAX_BATCH

# The per-item shapes of the hot ingest path are plain pydantic models: ninja's Schema
# adds a root validator for reading ORM objects that costs ~10x per item there.
EventIn = protocol.Event
SdkCounters = protocol.SdkCounters
SdkIn = protocol.SdkInfo
BatchIn = protocol.EventBatch
FieldError = protocol.FieldError
ItemResult = protocol.ItemResult
BatchOut = protocol.BatchAnswer
ErrorOut = protocol.ErrorAnswer


class _WholeBatch(BaseModel):
    """A batch whose every item is valid: what almost every request body is."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True, defer_build=True)

    sdk: SdkIn | None = None
    events: list[EventIn] = Field(max_length=MAX_BATCH)


def batch_parse_valid(body: bytes) -> dict[str, Any] | None:
    """Return the batch in ``body`` with every event validated, or None unless all of it is valid.

    One pass of pydantic's core over the raw JSON costs about half of decoding it and then
    validating item by item. On None the caller takes the per-item path, which names the
    bad items; its answers are what they always were.
    """
    try:
        batch = _WholeBatch.model_validate_json(body)
    except ValidationError:
        return None
    return {"sdk": batch.sdk, "events": batch.events}


__all__ = [
    "MAX_BATCH",
    "BatchIn",
    "BatchOut",
    "ErrorOut",
    "EventIn",
    "FieldError",
    "ItemResult",
    "SdkCounters",
    "SdkIn",
    "batch_parse_valid",
]
