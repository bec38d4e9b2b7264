"""Turn a finished call's report into protocol events (``llm_contracts.protocol.Event``, docs/protocol.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .. import protocol
from .._ids import new_id
from .._version import __version__
from ..debugging._trace import redact_excerpt
from ..enforcement._engine import is_blocking
from ..protocol import Category
from ._guard import log

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport

__all__ = ["clean_payload", "clean_text", "report_events"]

_MESSAGE_MAX = 2000
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 32


def clean_text(text: str) -> str:
    """Return ``text`` without NUL bytes and lone surrogates; a surrogate pair becomes its character.

    Postgres text cannot hold NUL and UTF-8 cannot encode a lone surrogate: one such
    character would make the control plane refuse the whole batch it travels in.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and _SURROGATE.search(text):
        # UTF-16 joins the pairs a JSON decoder split ("\\ud83d\\ude00") and drops the rest.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    return text


def clean_payload(value: Any, _depth: int = 0) -> Any:
    """Return JSON data (an event or a trace) with every string, keys included, passed through clean_text."""
    if isinstance(value, str):
        return clean_text(value)
    if _depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            clean_text(k) if isinstance(k, str) else k: clean_payload(v, _depth + 1) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [clean_payload(v, _depth + 1) for v in value]
    return value


def _excerpt(text: str | None, limit: int = 2000) -> str | None:
    # Cleaned before redaction: a NUL inside a card number would hide it from the redactor.
    return None if text is None else redact_excerpt(clean_text(text), limit)


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

    Excerpts are PII-redacted and cut to 2,000 characters, and no string field holds a NUL
    byte or a lone surrogate (see :func:`clean_text`); ``auto_fix_attempted`` is set
    for an input contract whose fix was applied and for an output contract that failed
    the first answer of a call that was re-asked.
    """
    call_id = call_id or new_id()
    stamp = datetime.fromtimestamp(ended_at, UTC) if ended_at is not None else datetime.now(UTC)
    timestamp = stamp.isoformat()
    categories = categories or {}
    versions = versions or {}
    meta = metadata or {}
    request = getattr(report, "request", None)
    input_excerpt = _excerpt(request.prompt_text) if request is not None else None
    output_excerpt = _excerpt(report.attempts[-1].text) if report.attempts else None
    usage = report.total_usage if report.attempts else None
    retried = report.retries > 0
    first_failures = (
        {r.contract_name for r in report.attempts[0].results if is_blocking(r)} if retried else set()
    )
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
            exposures[0] if exposures else None
        )
        default = Category.INPUT.value if name in input_names else Category.OUTPUT.value
        attempted = name in fixed_inputs or name in first_failures
        events.append(
            {
                "event_id": new_id(),
                "contract": name,
                "contract_version": versions.get(name),
                "category": categories.get(name, default),
                "is_valid": r.is_valid,
                "error": r.error,
                "severity": r.severity.value,
                "enforcement": r.enforcement.value,
                "message": _excerpt(r.message or "", _MESSAGE_MAX),
                "latency_ms": _ms(r.latency_s),
                "auto_fix_attempted": attempted,
                "auto_fix_succeeded": attempted and (r.is_valid or name in fixed_inputs),
                "experiment": meta.get("experiment", exposure.experiment if exposure is not None else None),
                "variant": meta.get("variant", exposure.variant if exposure is not None else None),
                **common,
            }
        )
    # Ids and names the client chose (session, experiment, contract) travel too.
    return [_validated(clean_payload(e)) for e in events]


_invalid_logged: set[str] = set()


def _validated(event: dict[str, Any]) -> dict[str, Any]:
    """Return ``event`` as the protocol's Event model dumps it.

    An event the model refuses (a model name longer than the protocol allows, say) is sent
    as it is: the control plane refuses it alone, naming the field, and the reporter counts
    it as rejected.
    """
    try:
        return protocol.Event.model_validate(event).model_dump(mode="json")
    except ValidationError as exc:
        fields = ",".join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()}))
        if fields not in _invalid_logged:
            _invalid_logged.add(fields)
            log.warning("llm_contracts built an event the protocol refuses (%s): %s", fields, exc)
        return event
