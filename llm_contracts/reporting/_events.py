"""Turn a finished call's report into ``ValidationEvent`` dicts (docs/protocol.md)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..contracts._base import Category
from ..debugging._trace import redact_excerpt
from ..enforcement._engine import is_blocking

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport

__all__ = ["report_events"]

_MESSAGE_MAX = 2000


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def report_events(
    report: ContractReport,
    *,
    call_id: str | None = None,
    ended_at: float | None = None,
    categories: Mapping[str, str] | None = None,
    versions: Mapping[str, int] | None = None,
    trace_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Return one event per verdict of the final state of the call (input, stream, final answer).

    Excerpts are PII-redacted and cut to 2,000 characters; ``auto_fix_attempted`` is set
    for an input contract whose fix was applied and for an output contract that failed
    the first answer of a call that was re-asked.
    """
    call_id = call_id or uuid.uuid4().hex
    stamp = datetime.fromtimestamp(ended_at, UTC) if ended_at is not None else datetime.now(UTC)
    timestamp = stamp.isoformat()
    categories = categories or {}
    versions = versions or {}
    meta = metadata or {}
    request = getattr(report, "request", None)
    input_excerpt = redact_excerpt(request.prompt_text) if request is not None else None
    output_excerpt = redact_excerpt(report.attempts[-1].text) if report.attempts else None
    usage = report.total_usage if report.attempts else None
    retried = report.retries > 0
    first_failures = ({r.contract_name for r in report.attempts[0].results if is_blocking(r)}
                      if retried else set())
    fixed_inputs = set(report.input_fixes)
    input_names = {r.contract_name for r in report.input_results}
    common = {
        "call_id": call_id,
        "timestamp": timestamp,
        "outcome": report.outcome,
        "input_excerpt": input_excerpt,
        "output_excerpt": output_excerpt,
        "llm_latency_ms": _ms(report.llm_latency_s) if report.attempts else None,
        "model": report.model,
        "provider": report.provider,
        "endpoint": report.endpoint,
        "prompt_tokens": usage.prompt_tokens if usage is not None else None,
        "completion_tokens": usage.completion_tokens if usage is not None else None,
        "retries": report.retries,
        "session_id": meta.get("session_id", getattr(report, "session_id", None)),
        "turn": meta.get("turn", getattr(report, "turn", None)),
        "trace_id": trace_id,
        "sdk_version": __version__,
    }
    exposures = getattr(report, "exposures", ())
    events = []
    for r in report.results:
        name = r.contract_name[:200]
        # A variant's own contract reports its experiment; any other contract the call's
        # first one (a call is in several experiments only when they overlap).
        exposure = next((e for e in exposures if e.owns(r.contract_name)), None) or (
            exposures[0] if exposures else None)
        default = Category.INPUT.value if name in input_names else Category.OUTPUT.value
        attempted = name in fixed_inputs or name in first_failures
        events.append({
            "event_id": uuid.uuid4().hex,
            "contract": name,
            "contract_version": versions.get(name),
            "category": categories.get(name, default),
            "is_valid": r.is_valid,
            "error": r.error,
            "severity": r.severity.value,
            "enforcement": r.enforcement.value,
            "message": redact_excerpt(r.message or "", _MESSAGE_MAX),
            "latency_ms": _ms(r.latency_s),
            "auto_fix_attempted": attempted,
            "auto_fix_succeeded": attempted and (r.is_valid or name in fixed_inputs),
            "experiment": meta.get("experiment", exposure.experiment if exposure is not None else None),
            "variant": meta.get("variant", exposure.variant if exposure is not None else None),
            **common,
        })
    return events
