"""The API's request and response shapes (docs/protocol.md)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from ninja import ModelSchema, Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
)

from contracts_app.models import Breakpoint
from dashboard.lib.text import clean_text

MAX_BATCH = 1000

Category = Literal["input", "output", "temporal", "semantic", "performance", "security"]
Severity = Literal["info", "warning", "error", "critical"]
Enforcement = Literal["strict", "warn", "monitor"]
Outcome = Literal["passed", "repaired", "warned", "violated", "skipped", "fallback"]

# Bounds of the numbers an item may carry: each fits its column exactly, so nothing is
# truncated on the way in, and a rollup's sums over many items cannot overflow.
INT32_MAX = 2**31 - 1
TOKENS_MAX = 10**12
LATENCY_MAX_MS = 7 * 24 * 3600 * 1000.0
COUNTER_MAX = 2**63 - 1


def _clean_text(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


# An identifier chosen by the client: refused when it holds what storage cannot keep.
# pydantic refuses a lone surrogate in any str; the pattern refuses NUL, both in its
# compiled core (a Python validator per field would double the cost of ingest).
Id = Annotated[str, Field(pattern=r"^[^\x00]*$")]
# Free text (messages, excerpts): what storage cannot keep is removed.
Text = Annotated[str, BeforeValidator(_clean_text)]
# Strict: a boolean is not a number and a string is not an int (pydantic's lax mode takes both).
Int32 = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
Tokens = Annotated[int, Field(strict=True, ge=0, le=TOKENS_MAX)]
Counter = Annotated[int, Field(strict=True, ge=0, le=COUNTER_MAX)]
LatencyMs = Annotated[float, Field(strict=True, ge=0, le=LATENCY_MAX_MS, allow_inf_nan=False)]
BigId = Annotated[int, Field(strict=True, ge=1, le=COUNTER_MAX)]
StepMs = Annotated[float, Field(strict=True, ge=0, le=1e12, allow_inf_nan=False)]


# The per-item shapes of the hot ingest path are plain pydantic models: ninja's Schema
# adds a root validator for reading ORM objects that costs ~10x per item here.


class EventIn(BaseModel):
    """One contract verdict on one call."""

    # Unknown fields are ignored so that a newer SDK can add some without breaking ingest.
    model_config = ConfigDict(extra="ignore")
    # The id fields are plain str here (pydantic refuses a lone surrogate in any str):
    # ingest looks for NUL in all of them at once (event_ingest_batch), which costs far
    # less than a pattern per field on the hot path.

    event_id: str = Field(min_length=1, max_length=64)
    call_id: str = Field(min_length=1, max_length=64)
    timestamp: AwareDatetime
    contract: str = Field(min_length=1, max_length=200)
    contract_version: Int32 | None = None
    category: Category
    is_valid: StrictBool
    error: StrictBool = False
    severity: Severity
    enforcement: Enforcement
    message: Text = Field(default="", max_length=2000)
    outcome: Outcome
    input_excerpt: Text | None = Field(default=None, max_length=2000)
    output_excerpt: Text | None = Field(default=None, max_length=2000)
    latency_ms: LatencyMs
    llm_latency_ms: LatencyMs | None = None
    model: str = Field(default="", max_length=200)
    provider: str = Field(default="", max_length=100)
    endpoint: str = Field(default="", max_length=200)
    prompt_tokens: Tokens | None = None
    completion_tokens: Tokens | None = None
    auto_fix_attempted: StrictBool = False
    auto_fix_succeeded: StrictBool = False
    retries: Int32 = 0
    session_id: str | None = Field(default=None, max_length=200)
    turn: Int32 | None = None
    experiment: str | None = Field(default=None, max_length=200)
    variant: str | None = Field(default=None, max_length=200)
    trace_id: str | None = Field(default=None, max_length=64)
    sdk_version: str = Field(default="", max_length=50)


class SdkCounters(BaseModel):
    sent: Counter = 0
    dropped: Counter = 0
    failed: Counter = 0
    spooled: Counter = 0
    rejected: Counter = 0
    breaker_skips: Counter = 0


class SdkIn(BaseModel):
    name: Id = Field(default="", max_length=100)
    version: Id = Field(default="", max_length=50)
    instance_id: Id | None = Field(default=None, min_length=1, max_length=64)
    counters: SdkCounters = Field(default_factory=SdkCounters)


class BatchIn(BaseModel):
    sdk: SdkIn | None = None
    # Items stay raw here: each one is validated on its own, so that one bad item is
    # rejected alone instead of failing its whole batch. The OpenAPI schema still
    # describes each item, so that clients and fuzzers know the real shape.
    events: Annotated[
        list[Any],
        WithJsonSchema(
            {"type": "array", "items": EventIn.model_json_schema(), "maxItems": MAX_BATCH, "title": "Events"}
        ),
    ] = Field(max_length=MAX_BATCH)


class FieldError(BaseModel):
    field: str
    reason: str


class ItemResult(BaseModel):
    status: Literal["accepted", "duplicate", "rejected"]
    event_id: str | None = None
    index: int | None = None
    errors: list[FieldError] | None = None


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


class ErrorOut(Schema):
    errors: list[FieldError]


def clean_data(value: Any) -> Any:
    """Return JSON data with every key and string cleaned as free text."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity; jsonb refuses them
    return value


def _clean_step_data(value: dict[str, Any]) -> Any:
    try:
        return clean_data(value)
    except RecursionError:
        raise ValueError("nests too deeply") from None


class TraceStepIn(Schema):
    kind: Literal["request", "input_contract", "model_call", "output_contract", "reask", "outcome"]
    name: Text = Field(default="", max_length=200)
    started_ms: StepMs = 0.0
    duration_ms: StepMs = 0.0
    data: Annotated[dict[str, Any], AfterValidator(_clean_step_data)] = Field(default_factory=dict)


class TraceIn(Schema):
    trace_id: Id = Field(min_length=1, max_length=64)
    call_id: Id = Field(default="", max_length=64)
    created_at: AwareDatetime
    breakpoint_id: BigId | None = None
    outcome: Outcome | Literal[""] = ""
    model: Id = Field(default="", max_length=200)
    steps: list[TraceStepIn] = Field(max_length=1000)


class TraceOut(Schema):
    trace_id: str
    created: bool


class ContractSpecOut(Schema):
    name: str
    version: int
    spec: dict[str, Any]
    source: str


class ContractsOut(Schema):
    contracts: list[ContractSpecOut]


class BreakpointOut(ModelSchema):
    remaining: int | None

    class Meta:
        model = Breakpoint
        fields = [
            "id",
            "contract",
            "severity",
            "model",
            "input_contains",
            "output_contains",
            "rate_per_minute",
        ]


class BreakpointsOut(Schema):
    breakpoints: list[BreakpointOut]
    # The share (0-1) of violated calls whose trace the SDKs upload.
    trace_sample_rate: float = 1.0


class HealthOut(Schema):
    status: str
    database: str
