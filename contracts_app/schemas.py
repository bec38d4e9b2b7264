"""The API's request and response shapes (docs/protocol.md)."""

from __future__ import annotations

from typing import Any, Literal

from ninja import ModelSchema, Schema
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

from contracts_app.models import Breakpoint

MAX_BATCH = 1000

Category = Literal["input", "output", "temporal", "semantic", "performance", "security"]
Severity = Literal["info", "warning", "error", "critical"]
Enforcement = Literal["strict", "warn", "monitor"]
Outcome = Literal["passed", "repaired", "warned", "violated", "skipped"]


# The per-item shapes of the hot ingest path are plain pydantic models: ninja's Schema
# adds a root validator for reading ORM objects that costs ~10x per item here.


class EventIn(BaseModel):
    """One contract verdict on one call."""

    # Unknown fields are ignored so that a newer SDK can add some without breaking ingest.
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=64)
    call_id: str = Field(min_length=1, max_length=64)
    timestamp: AwareDatetime
    contract: str = Field(min_length=1, max_length=200)
    contract_version: NonNegativeInt | None = None
    category: Category
    is_valid: bool
    error: bool = False
    severity: Severity
    enforcement: Enforcement
    message: str = Field(default="", max_length=2000)
    outcome: Outcome
    input_excerpt: str | None = Field(default=None, max_length=2000)
    output_excerpt: str | None = Field(default=None, max_length=2000)
    latency_ms: NonNegativeFloat
    llm_latency_ms: NonNegativeFloat | None = None
    model: str = Field(default="", max_length=200)
    provider: str = Field(default="", max_length=100)
    endpoint: str = Field(default="", max_length=200)
    prompt_tokens: NonNegativeInt | None = None
    completion_tokens: NonNegativeInt | None = None
    auto_fix_attempted: bool = False
    auto_fix_succeeded: bool = False
    retries: NonNegativeInt = 0
    session_id: str | None = Field(default=None, max_length=200)
    turn: NonNegativeInt | None = None
    experiment: str | None = Field(default=None, max_length=200)
    variant: str | None = Field(default=None, max_length=200)
    trace_id: str | None = Field(default=None, max_length=64)
    sdk_version: str = Field(default="", max_length=50)


class SdkCounters(BaseModel):
    sent: NonNegativeInt = 0
    dropped: NonNegativeInt = 0
    failed: NonNegativeInt = 0
    spooled: NonNegativeInt = 0
    breaker_skips: NonNegativeInt = 0


class SdkIn(BaseModel):
    name: str = Field(default="", max_length=100)
    version: str = Field(default="", max_length=50)
    instance_id: str | None = Field(default=None, min_length=1, max_length=64)
    counters: SdkCounters = Field(default_factory=SdkCounters)


class BatchIn(BaseModel):
    sdk: SdkIn | None = None
    # Items stay raw here: each one is validated on its own, so that one bad item is
    # rejected alone instead of failing its whole batch.
    events: list[Any] = Field(max_length=MAX_BATCH)


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


class TraceStepIn(Schema):
    kind: Literal["request", "input_contract", "model_call", "output_contract", "reask", "outcome"]
    name: str = Field(default="", max_length=200)
    started_ms: NonNegativeFloat = 0.0
    duration_ms: NonNegativeFloat = 0.0
    data: dict[str, Any] = Field(default_factory=dict)


class TraceIn(Schema):
    trace_id: str = Field(min_length=1, max_length=64)
    call_id: str = Field(default="", max_length=64)
    created_at: AwareDatetime
    breakpoint_id: int | None = None
    outcome: Outcome | Literal[""] = ""
    model: str = Field(default="", max_length=200)
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
