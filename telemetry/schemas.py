"""The shapes of the events API: the SDK's protocol models (llm_contracts.protocol).

The names here are the server's aliases of those models, so that both sides validate with
one definition (docs/protocol.md is generated from it).
"""

from __future__ import annotations

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
]
