"""The protocol between the SDK and the control plane (v1), written once.

The SDK builds what it sends with these models and reads what it pulls with them; the
control plane validates its requests and answers with the same models, and derives its
insert columns from :class:`Event`. ``docs/protocol.md`` is generated from them
(``python docs/protocol_tables.py``). Nothing here imports Django.

The vocabularies (:class:`Outcome`, :class:`Category`, :class:`Stage`, ...) are plain
enums that the core uses everywhere; the pydantic models are loaded on first access
(``llm_contracts.protocol.Event``), so that ``import llm_contracts`` does not pay for
defining them, and each validates lazily (built on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ._models import (
        MODELS,
        BatchAnswer,
        BreakpointsAnswer,
        BreakpointSpec,
        ContractsAnswer,
        ContractSpec,
        ErrorAnswer,
        Event,
        EventBatch,
        ExperimentContract,
        ExperimentsAnswer,
        ExperimentSpec,
        FieldError,
        HealthAnswer,
        ItemResult,
        ReporterStats,
        SdkCounters,
        SdkInfo,
        TraceAnswer,
        TraceStep,
        TraceUpload,
        VariationSpec,
    )

_MODELS = frozenset(
    {
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
    }
)

__all__ = [
    "COUNTER_MAX",
    "EXCERPT_MAX",
    "INT32_MAX",
    "LATENCY_MAX_MS",
    "MAX_BATCH",
    "MAX_TRACE_STEPS",
    "MESSAGE_MAX",
    "MODELS",
    "TOKENS_MAX",
    "BatchAnswer",
    "BreakpointSpec",
    "BreakpointsAnswer",
    "Category",
    "ContractSpec",
    "ContractsAnswer",
    "Enforcement",
    "ErrorAnswer",
    "Event",
    "EventBatch",
    "ExperimentContract",
    "ExperimentSpec",
    "ExperimentsAnswer",
    "FieldError",
    "HealthAnswer",
    "ItemResult",
    "Outcome",
    "ReporterStats",
    "SdkCounters",
    "SdkInfo",
    "Severity",
    "Stage",
    "TraceAnswer",
    "TraceStep",
    "TraceUpload",
    "VariationSpec",
    "clean_text",
]


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        value = getattr(importlib.import_module(f"{__name__}._models"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
