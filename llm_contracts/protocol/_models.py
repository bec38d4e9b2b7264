"""The protocol's messages as pydantic models (validators built on first use)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    StrictBool,
    StrictInt,
    StrictStr,
    field_serializer,
)

from ._vocab import (
    COUNTER_MAX,
    EXCERPT_MAX,
    INT32_MAX,
    LATENCY_MAX_MS,
    MAX_BATCH,
    MAX_TRACE_STEPS,
    MESSAGE_MAX,
    TOKENS_MAX,
    Category,
    Enforcement,
    Outcome,
    Severity,
    Stage,
    clean_text,
)

__all__ = [
    "MODELS",
    "BatchAnswer",
    "BreakpointSpec",
    "BreakpointsAnswer",
    "ContractSpec",
    "ContractsAnswer",
    "ErrorAnswer",
    "Event",
    "EventBatch",
    "ExperimentContract",
    "ExperimentSpec",
    "ExperimentsAnswer",
    "FieldError",
    "HealthAnswer",
    "ItemResult",
    "ReporterStats",
    "SdkCounters",
    "SdkInfo",
    "TraceAnswer",
    "TraceStep",
    "TraceUpload",
    "VariationSpec",
]


def _clean_any(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


def _clean_data(value: dict[str, Any]) -> Any:
    """Return JSON data with every key and string cleaned as free text."""
    try:
        return _clean_json(value)
    except RecursionError:
        raise ValueError("nests too deeply") from None


# An identifier chosen by the client: refused when it holds a NUL (pydantic refuses a
# lone surrogate in any str), in pydantic's compiled core.
Id = Annotated[str, Field(pattern=r"^[^\x00]*$")]
# Free text (messages, excerpts): what storage cannot keep is removed.
Text = Annotated[str, BeforeValidator(_clean_any)]
# Strict: a boolean is not a number and a string is not an int (pydantic's lax mode takes both).
Int32 = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
Tokens = Annotated[int, Field(strict=True, ge=0, le=TOKENS_MAX)]
Counter = Annotated[int, Field(strict=True, ge=0, le=COUNTER_MAX)]
LatencyMs = Annotated[float, Field(strict=True, ge=0, le=LATENCY_MAX_MS, allow_inf_nan=False)]
BigId = Annotated[int, Field(strict=True, ge=1, le=COUNTER_MAX)]
StepMs = Annotated[float, Field(strict=True, ge=0, le=1e12, allow_inf_nan=False)]
StepData = Annotated[dict[str, Any], AfterValidator(_clean_data)]

# Requests: unknown fields are ignored, so that a newer SDK can add some without breaking
# an older server. Enum fields hold their plain string value once validated.
_REQUEST = ConfigDict(extra="ignore", use_enum_values=True, defer_build=True)
_ANSWER = ConfigDict(defer_build=True)


# -- POST /api/v1/events ----------------------------------------------------------------------------


class Event(BaseModel):
    """One contract verdict on one call (a ``ValidationEvent``)."""

    model_config = _REQUEST
    # The id fields are plain str here: the control plane looks for NUL in all of them at
    # once, which costs far less than a pattern per field on its hot path.

    event_id: str = Field(
        min_length=1, max_length=64, description="unique per project; a retried batch reuses it (idempotency)"
    )
    call_id: str = Field(min_length=1, max_length=64, description="shared by all events of one call")
    timestamp: AwareDatetime = Field(
        description="when the verdict was made; refused unless within `EVENT_MAX_AGE_S` (7 d) before and "
        "`EVENT_MAX_FUTURE_S` (10 min) after the server's clock"
    )
    contract: str = Field(min_length=1, max_length=200, description="contract name")
    contract_version: Int32 | None = Field(
        default=None, description="version of a server-defined contract; 0 is stored as null"
    )
    category: Category
    is_valid: StrictBool
    error: StrictBool = Field(default=False, description="the contract raised instead of judging")
    severity: Severity
    enforcement: Enforcement
    message: Text = Field(default="", max_length=MESSAGE_MAX)
    outcome: Outcome = Field(description="outcome of the whole call")
    input_excerpt: Text | None = Field(
        default=None,
        max_length=EXCERPT_MAX,
        description="**already PII-redacted by the SDK**; the server redacts again before storage",
    )
    output_excerpt: Text | None = Field(
        default=None, max_length=EXCERPT_MAX, description="as `input_excerpt`"
    )
    latency_ms: LatencyMs = Field(description="the contract's validation time")
    llm_latency_ms: LatencyMs | None = Field(default=None, description="the model call's time")
    model: str = Field(default="", max_length=200)
    provider: str = Field(default="", max_length=100)
    endpoint: str = Field(default="", max_length=200)
    prompt_tokens: Tokens | None = Field(default=None, description="summed over attempts")
    completion_tokens: Tokens | None = Field(default=None, description="summed over attempts")
    auto_fix_attempted: StrictBool = False
    auto_fix_succeeded: StrictBool = False
    retries: Int32 = Field(default=0, description="re-asks of the call")
    session_id: str | None = Field(default=None, max_length=200, description="conversation id")
    turn: Int32 | None = None
    experiment: str | None = Field(default=None, max_length=200)
    variant: str | None = Field(default=None, max_length=200)
    trace_id: str | None = Field(default=None, max_length=64, description="links to an uploaded trace")
    sdk_version: str = Field(default="", max_length=50)

    @field_serializer("timestamp")
    def _iso(self, value: datetime) -> str:
        return value.isoformat()


class SdkCounters(BaseModel):
    """The delivery counters of one SDK instance, sent with each batch."""

    model_config = _REQUEST

    sent: Counter = Field(default=0, description="events the server took")
    dropped: Counter = Field(default=0, description="events lost to a full queue or a full spool")
    failed: Counter = Field(default=0, description="events that could not be delivered or built")
    spooled: Counter = Field(default=0, description="events waiting on disk now")
    rejected: Counter = Field(default=0, description="events the server refused one by one")
    breaker_skips: Counter = Field(default=0, description="calls made while the circuit breaker was open")


class SdkInfo(BaseModel):
    """Which SDK instance sends a batch."""

    model_config = _REQUEST

    name: Id = Field(default="", max_length=100)
    version: Id = Field(default="", max_length=50)
    instance_id: Id | None = Field(default=None, min_length=1, max_length=64)
    counters: SdkCounters = Field(default_factory=SdkCounters)


class EventBatch(BaseModel):
    """The body of ``POST /api/v1/events``.

    The control plane validates each item of ``events`` as an :class:`Event` on its own, so
    that one bad item is rejected alone instead of failing its whole batch.
    """

    model_config = _REQUEST

    sdk: SdkInfo | None = None
    # Items pass through unvalidated (their schema still describes them to clients).
    events: list[SkipValidation[Event]] = Field(max_length=MAX_BATCH)


class FieldError(BaseModel):
    model_config = _ANSWER

    field: str
    reason: str


class ItemResult(BaseModel):
    """The fate of one item of a batch: ``event_id`` when it was read, else its ``index``."""

    model_config = _ANSWER

    status: Literal["accepted", "duplicate", "rejected"]
    event_id: str | None = None
    index: int | None = None
    errors: list[FieldError] | None = None


class BatchAnswer(BaseModel):
    """The answer to ``POST /api/v1/events`` (HTTP 207): one status per item, in order."""

    model_config = _ANSWER

    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


class ErrorAnswer(BaseModel):
    """Any 4xx answer: what was wrong, field by field."""

    model_config = _ANSWER

    errors: list[FieldError]


# -- POST /api/v1/traces ----------------------------------------------------------------------------


class TraceStep(BaseModel):
    """One step of a traced call."""

    model_config = _REQUEST

    kind: Stage
    name: Text = Field(default="", max_length=200)
    started_ms: StepMs = Field(default=0.0, description="offset from the call's start")
    duration_ms: StepMs = 0.0
    data: StepData = Field(default_factory=dict, description="redacted by the SDK and again by the server")


class TraceUpload(BaseModel):
    """The body of ``POST /api/v1/traces``: the step-by-step story of one call."""

    model_config = _REQUEST

    trace_id: Id = Field(min_length=1, max_length=64)
    call_id: Id = Field(default="", max_length=64)
    created_at: AwareDatetime
    breakpoint_id: BigId | None = Field(default=None, description="the breakpoint that asked for it")
    outcome: Outcome | Literal[""] = ""
    model: Id = Field(default="", max_length=200)
    steps: list[TraceStep] = Field(max_length=MAX_TRACE_STEPS)


class TraceAnswer(BaseModel):
    """The answer to ``POST /api/v1/traces``: 201 when created, 200 when stored before."""

    model_config = _ANSWER

    trace_id: str
    created: bool


# -- the pulls: GET /api/v1/contracts, /breakpoints, /experiments ------------------------------------


class ContractSpec(BaseModel):
    """The activated version of one contract (compiled LLMCL)."""

    model_config = _ANSWER

    name: str
    version: int
    spec: dict[str, Any]
    source: str = ""


class ContractsAnswer(BaseModel):
    model_config = _ANSWER

    contracts: list[ContractSpec]


class BreakpointSpec(BaseModel):
    """A condition under which the SDK uploads a call's trace; null matches anything."""

    model_config = _ANSWER

    id: StrictInt
    contract: StrictStr | None = None
    severity: Severity | None = None
    model: StrictStr | None = None
    input_contains: StrictStr | None = None
    output_contains: StrictStr | None = None
    remaining: StrictInt | None = Field(default=None, description="captures left; null: no limit")
    rate_per_minute: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None, description="at most this many captures a minute"
    )


class BreakpointsAnswer(BaseModel):
    model_config = _ANSWER

    breakpoints: list[BreakpointSpec]
    trace_sample_rate: float = Field(default=1.0, description="the share (0-1) of violated calls traced")


class ExperimentContract(BaseModel):
    """A contract version one variation of an experiment enforces."""

    model_config = _ANSWER

    name: str
    version: int
    spec: dict[str, Any]


class VariationSpec(BaseModel):
    model_config = _ANSWER

    key: Literal["control", "treatment"]
    contracts: list[ExperimentContract]


class ExperimentSpec(BaseModel):
    """A running experiment and its allocation."""

    model_config = _ANSWER

    key: str
    seed: str = Field(description="what the bucketing hashes with (the key unless set)")
    status: Literal["running"]
    coverage: float = Field(description="the share of users in the experiment; the others get control")
    weights: list[float] = Field(description="split the covered users between the variations, in order")
    variations: list[VariationSpec]
    sticky: bool


class ExperimentsAnswer(BaseModel):
    model_config = _ANSWER

    experiments: list[ExperimentSpec]


class HealthAnswer(BaseModel):
    """``GET /api/v1/health``: 200 when the server and its database answer, else 503."""

    model_config = _ANSWER

    status: str
    database: str


# -- the SDK's own counters ---------------------------------------------------------------------------


class ReporterStats(SdkCounters):
    """What ``Reporter.stats()`` returns: the batch counters and the reporter's own.

    Within one process ``sent + dropped + failed + rejected + spooled == enqueued +
    recovered`` once the queue is flushed.
    """

    enqueued: Counter = Field(default=0, description="events handed to the reporter")
    queued: Counter = Field(default=0, description="events waiting in memory")
    in_flight: Counter = Field(default=0, description="events the worker is delivering now")
    recovered: Counter = Field(default=0, description="events a previous run left in the spool")
    retried: Counter = Field(default=0, description="re-sends after a transient failure")
    traces_sent: Counter = 0
    traces_failed: Counter = 0
    internal_errors: Counter = Field(default=0, description="the reporter's own errors, contained")


MODELS: tuple[type[BaseModel], ...] = tuple(globals()[name] for name in __all__ if name != "MODELS")
