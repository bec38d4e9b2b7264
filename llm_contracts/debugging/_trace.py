"""The debugger trace of one validated call, and the breakpoints that decide which are kept.

A trace costs nothing while the call runs: the pipeline already keeps the report (the
request as sent, every verdict with its timing, every attempt with its latency, usage
and re-ask feedback). :meth:`Trace.from_report` turns that into steps only when someone
reads the trace or a breakpoint keeps it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import protocol
from .._ids import new_id
from ..contracts._base import Severity, ValidationResult
from ..contracts._pii import redact
from ..protocol import Stage

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport

__all__ = ["Breakpoint", "TRACE_MAX_BYTES", "Trace", "TraceStep", "bound_trace", "redact_excerpt", "scrub"]

_MAX_TEXT = 10_000
# The most JSON an uploaded trace may take; longer texts are cut first, then step data.
TRACE_MAX_BYTES = 256 * 1024
_SHORTER = (2000, 500, 100)
_REDACT_WINDOW = 2  # redact twice the kept length, then cut: a cut cannot split a match that stays


def redact_excerpt(text: str | None, limit: int = 2000) -> str | None:
    """Return ``text`` PII-redacted and cut to ``limit`` characters.

    The text is redacted over twice the kept length before the cut, so a cut through an
    e-mail address or a card number can only fall in the part that is dropped.
    """
    if text is None:
        return None
    return redact(text[: limit * _REDACT_WINDOW])[:limit]


def scrub(value: Any, limit: int = _MAX_TEXT, _depth: int = 0) -> Any:
    """Return ``value`` as plain JSON data with every string PII-redacted and bounded."""
    if isinstance(value, str):
        return redact_excerpt(value, limit)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if _depth > 12:
        return "..."
    if isinstance(value, Mapping):
        return {str(k): scrub(v, limit, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v, limit, _depth + 1) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    return redact_excerpt(repr(value), limit)


@dataclass(slots=True)
class TraceStep:
    """One step of a call.

    ``kind`` is a :class:`~llm_contracts.protocol.Stage` (request, input_contract,
    model_call, output_contract, reask or outcome).
    """

    kind: str
    name: str
    started_ms: float
    duration_ms: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "started_ms": round(self.started_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "data": self.data,
        }


def _verdict(result: ValidationResult, attempt: int | None = None) -> dict[str, Any]:
    data = scrub(result.to_dict())
    if attempt is not None:
        data["attempt"] = attempt
    return data  # type: ignore[no-any-return]


@dataclass(slots=True)
class Trace:
    """The step-by-step story of one validated call (text redacted)."""

    trace_id: str
    call_id: str | None
    created_at: str
    outcome: str
    model: str
    steps: list[TraceStep]
    breakpoint_id: int | None = None

    @classmethod
    def from_report(
        cls,
        report: ContractReport,
        *,
        trace_id: str | None = None,
        call_id: str | None = None,
        breakpoint_id: int | None = None,
    ) -> Trace:
        """Build the steps of ``report``; step start times are offsets from the call's start."""
        steps: list[TraceStep] = []
        clock = 0.0
        request = getattr(report, "request", None)
        # The provider's view redacts every text of its body, in the body's own shapes.
        body = scrub(request.edited(rewrite=redact).body) if request is not None and request.body else {}
        steps.append(
            TraceStep(
                Stage.REQUEST,
                report.endpoint or "request",
                0.0,
                0.0,
                {
                    "model": report.model,
                    "endpoint": report.endpoint,
                    "provider": report.provider,
                    "body": body,
                    "input_fixes": list(report.input_fixes),
                },
            )
        )
        for r in report.input_results:
            ms = r.latency_s * 1000
            steps.append(TraceStep(Stage.INPUT_CONTRACT, r.contract_name, clock, ms, _verdict(r)))
            clock += ms
        for a in report.attempts:
            if a.feedback is not None:
                feedback = redact_excerpt(a.feedback, _MAX_TEXT)
                steps.append(
                    TraceStep(
                        Stage.REASK,
                        f"attempt {a.index}",
                        clock,
                        0.0,
                        {"attempt": a.index, "feedback": feedback},
                    )
                )
            ms = (a.latency_s or 0.0) * 1000
            tokens = (
                None
                if a.usage is None
                else {"prompt_tokens": a.usage.prompt_tokens, "completion_tokens": a.usage.completion_tokens}
            )
            steps.append(
                TraceStep(
                    Stage.MODEL_CALL,
                    report.model,
                    clock,
                    ms,
                    {
                        "attempt": a.index,
                        "latency_ms": round(ms, 3),
                        "usage": tokens,
                        "model": getattr(a, "model", "") or report.model,
                        "output": redact_excerpt(a.text, _MAX_TEXT),
                    },
                )
            )
            clock += ms
            for r in a.results:
                ms = r.latency_s * 1000
                step = TraceStep(Stage.OUTPUT_CONTRACT, r.contract_name, clock, ms, _verdict(r, a.index))
                steps.append(step)
                clock += ms
        for r in report.stream_results:
            steps.append(
                TraceStep(
                    Stage.OUTPUT_CONTRACT,
                    r.contract_name,
                    clock,
                    r.latency_s * 1000,
                    {**_verdict(r), "stream": True},
                )
            )
        usage = report.total_usage
        steps.append(
            TraceStep(
                Stage.OUTCOME,
                report.outcome,
                clock,
                0.0,
                {
                    "outcome": report.outcome,
                    "stop_reason": report.stop_reason,
                    "retries": report.retries,
                    "usage": {
                        "prompt_tokens": usage.prompt_tokens,
                        "completion_tokens": usage.completion_tokens,
                    },
                    "llm_latency_ms": round(report.llm_latency_s * 1000, 3),
                    "validation_latency_ms": round(report.validation_latency_s * 1000, 3),
                },
            )
        )
        started_ns = getattr(report, "started_ns", 0) or 0
        created = datetime.fromtimestamp(started_ns / 1e9, UTC) if started_ns else datetime.now(UTC)
        return cls(
            trace_id or new_id(),
            call_id,
            created.isoformat(),
            report.outcome,
            report.model,
            steps,
            breakpoint_id,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the trace in the shape ``POST /api/v1/traces`` takes."""
        return {
            "trace_id": self.trace_id,
            "call_id": self.call_id,
            "created_at": self.created_at,
            "breakpoint_id": self.breakpoint_id,
            "outcome": self.outcome,
            "model": self.model,
            "steps": [s.to_dict() for s in self.steps],
        }

    def steps_of(self, kind: str) -> list[TraceStep]:
        """Return the steps of one kind, in order."""
        return [s for s in self.steps if s.kind == kind]


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode("utf-8"))


def _cut(value: Any, limit: int) -> Any:
    # The strings were redacted before: cutting one cannot bring back what was removed.
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, dict):
        return {k: _cut(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v, limit) for v in value]
    return value


def bound_trace(trace: dict[str, Any], max_bytes: int = TRACE_MAX_BYTES) -> dict[str, Any]:
    """Return ``trace`` (as ``Trace.to_dict`` gives it) within ``max_bytes`` of JSON.

    Texts are cut shorter and shorter; if that is not enough, the steps keep their kind,
    name and timing but lose their data, and the last steps are dropped.
    """
    if _json_size(trace) <= max_bytes:
        return trace
    steps = trace.get("steps", [])
    for limit in _SHORTER:
        cut = {**trace, "steps": [{**step, "data": _cut(step.get("data"), limit)} for step in steps]}
        if _json_size(cut) <= max_bytes:
            return cut
    note = {"truncated": f"the trace exceeded {max_bytes} bytes: step data left out"}
    bare = [{**step, "data": note} for step in steps]
    cut = {**trace, "steps": bare}
    while bare and _json_size(cut) > max_bytes:
        bare.pop()
    return cut


def _contains(haystack: str, needle: str | None) -> bool:
    return needle is None or needle.lower() in haystack.lower()


@dataclass(slots=True)
class Breakpoint:
    """A server-defined condition under which a call's trace is uploaded.

    Every field that is set must hold: ``contract`` ran on the call; ``severity``: a
    verdict (of ``contract``, when set) failed with at least this severity; ``model`` is
    the requested model; ``input_contains`` / ``output_contains`` occur in the prompt /
    the final answer (case-insensitive). ``remaining`` counts the uploads still allowed
    (None: no limit); ``rate_per_minute`` caps the uploads of this process in any minute.
    """

    id: int
    contract: str | None = None
    severity: Severity | None = None
    model: str | None = None
    input_contains: str | None = None
    output_contains: str | None = None
    remaining: int | None = None
    rate_per_minute: int | None = None
    _window: list[float] = field(default_factory=list, repr=False, compare=False)

    def take(self, now: float | None = None) -> bool:
        """Count one upload now; return False (counting nothing) when the rate is spent."""
        now = time.monotonic() if now is None else now
        if self.rate_per_minute is not None:
            self._window[:] = [t for t in self._window if now - t < 60.0]
            if len(self._window) >= self.rate_per_minute:
                return False
            self._window.append(now)
        if self.remaining is not None:
            self.remaining -= 1
        return True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Breakpoint:
        """Parse one item of ``GET /api/v1/breakpoints``; raise ``ValueError`` naming a bad field."""
        spec = protocol.BreakpointSpec.model_validate(data)  # a ValidationError is a ValueError
        sev = Severity(spec.severity) if spec.severity is not None else None
        return cls(
            spec.id,
            spec.contract,
            sev,
            spec.model,
            spec.input_contains,
            spec.output_contains,
            spec.remaining,
            spec.rate_per_minute,
        )

    def matches(self, report: ContractReport) -> bool:
        """Return True when the call of ``report`` meets every condition of this breakpoint."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.model is not None and self.model != report.model:
            return False
        # Every verdict of the call counts, earlier attempts included: a call that a
        # re-ask repaired still violated the contract on its way.
        results = [
            *report.input_results,
            *report.stream_results,
            *(r for attempt in report.attempts for r in attempt.results),
        ]
        if self.contract is not None:
            # An LLMCL contract reports one verdict per clause ("Reply.ensure[1]").
            prefix = self.contract + "."
            results = [
                r for r in results if r.contract_name == self.contract or r.contract_name.startswith(prefix)
            ]
            if not results:
                return False
        if self.severity is not None and not any(
            not r.is_valid and r.severity >= self.severity for r in results
        ):
            return False
        if self.input_contains is not None:
            request = getattr(report, "request", None)
            if request is None or not _contains(request.prompt_text, self.input_contains):
                return False
        return self.output_contains is None or any(
            _contains(attempt.text, self.output_contains) for attempt in report.attempts
        )


def first_match(breakpoints: Iterable[Breakpoint], report: ContractReport) -> Breakpoint | None:
    """Return the first breakpoint that matches ``report``."""
    return next((b for b in breakpoints if b.matches(report)), None)
