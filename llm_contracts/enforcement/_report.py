"""What happened to one contracted call: its verdicts, attempts and usage."""

from __future__ import annotations

import time
from dataclasses import field
from typing import Any

from .._dataclass import dataclass
from ..contracts._base import ValidationResult
from ..contracts._types import LLMRequest, Usage
from ..protocol import Outcome

__all__ = ["Attempt", "ContractReport", "Outcome", "PendingReport", "get_report"]

_ATTR = "_llm_contracts_report"


@dataclass(slots=True)
class Attempt:
    """One answer of the model and the verdicts on it."""

    index: int
    text: str
    results: list[ValidationResult]
    usage: Usage | None = None
    latency_s: float | None = None
    feedback: str | None = None
    model: str = ""  # the model that answered, as the provider named it
    # With several choices (n > 1): the verdicts on each choice, in order; ``results``
    # then holds them all, and ``text`` is the first choice's.
    choice_results: list[list[ValidationResult]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.is_valid or r.enforcement.value != "strict" for r in self.results)

    @property
    def choices_passed(self) -> list[bool]:
        """Return, per choice, whether it held every strict contract."""
        verdicts = self.choice_results or [self.results]
        return [all(r.is_valid or r.enforcement.value != "strict" for r in rs) for rs in verdicts]


@dataclass(slots=True)
class ContractReport:
    """The verdicts of one call.

    ``outcome`` is one of ``passed`` (every strict contract held at once), ``repaired``
    (a re-ask produced an answer that passed), ``violated`` (a strict contract failed:
    the call raised), ``warned`` (only warn/monitor contracts failed), ``skipped``
    (the circuit breaker was open, nothing was validated) or ``fallback`` (re-asks ran
    out and the client answered with the fallback text the developer declared).
    """

    provider: str = "openai"
    endpoint: str = ""
    model: str = ""
    input_results: list[ValidationResult] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    stream_results: list[ValidationResult] = field(default_factory=list)
    total_usage: Usage = field(default_factory=Usage)
    outcome: str = "passed"
    input_fixes: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    llm_latency_s: float = 0.0
    validation_latency_s: float = 0.0
    streamed: bool = False
    # Why a holding stream policy kept the whole answer (or its start) back, when it did.
    hold_reason: str | None = None
    # The request as sent (after input fixes) and the wall-clock start, kept by reference
    # so the debugger trace and the reporter can be built later, off the call path.
    request: LLMRequest | None = field(default=None, repr=False)
    started_ns: int = field(default_factory=time.time_ns)
    # The experiment variants the call ran under (llm_contracts.experiments.Exposure) and
    # the conversation turn it answered, when there was one.
    exposures: tuple[Any, ...] = ()
    session_id: str | None = None
    turn: int | None = None
    # With project_contracts=True: "applied" when the project's contracts were enforced,
    # "unavailable" when they had not arrived from the control plane (down or slow).
    project_contracts: str | None = None

    @property
    def experiment(self) -> str | None:
        """Return the key of the (first) experiment the call was exposed to."""
        return self.exposures[0].experiment if self.exposures else None

    @property
    def variant(self) -> str | None:
        """Return the variant of the (first) experiment the call was exposed to."""
        return self.exposures[0].variant if self.exposures else None

    @property
    def output_results(self) -> list[ValidationResult]:
        """Return the verdicts on the final answer."""
        return self.attempts[-1].results if self.attempts else []

    @property
    def choice_results(self) -> list[list[ValidationResult]]:
        """Return the verdicts on each choice of the final answer (one list when there was one)."""
        if not self.attempts:
            return []
        last = self.attempts[-1]
        return last.choice_results or [last.results]

    @property
    def results(self) -> list[ValidationResult]:
        """Return the input verdicts followed by the verdicts on the final answer."""
        return [*self.input_results, *self.stream_results, *self.output_results]

    @property
    def violations(self) -> list[ValidationResult]:
        """Return every failing verdict of the final state of the call."""
        return [r for r in self.results if not r.is_valid]

    @property
    def passed(self) -> bool:
        return self.outcome in ("passed", "repaired", "warned", "skipped", "fallback")

    @property
    def judge_usage(self) -> dict[str, Any]:
        """Return the tokens and cost of judge calls over every attempt, kept apart from the call's usage."""
        total: dict[str, Any] = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": None}
        verdicts = [*self.input_results, *self.stream_results]
        for attempt in self.attempts:
            verdicts.extend(attempt.results)  # every choice's verdicts when there were several
        for result in verdicts:
            usage = result.details.get("judge_usage")
            if not isinstance(usage, dict):
                continue
            total["calls"] += 1
            total["prompt_tokens"] += usage.get("prompt_tokens") or 0
            total["completion_tokens"] += usage.get("completion_tokens") or 0
            if usage.get("cost_usd") is not None:
                total["cost_usd"] = round((total["cost_usd"] or 0.0) + usage["cost_usd"], 8)
        return total

    @property
    def retries(self) -> int:
        return max(0, len(self.attempts) - 1)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data."""
        return {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "model": self.model,
            "outcome": self.outcome,
            "stop_reason": self.stop_reason,
            "retries": self.retries,
            "streamed": self.streamed,
            "input_fixes": list(self.input_fixes),
            "input": [r.to_dict() for r in self.input_results],
            "stream": [r.to_dict() for r in self.stream_results],
            "attempts": [
                {
                    "index": a.index,
                    "results": [r.to_dict() for r in a.results],
                    "feedback": a.feedback,
                    "usage": None
                    if a.usage is None
                    else {
                        "prompt_tokens": a.usage.prompt_tokens,
                        "completion_tokens": a.usage.completion_tokens,
                    },
                    **(
                        {"choices": [[r.to_dict() for r in rs] for rs in a.choice_results]}
                        if a.choice_results
                        else {}
                    ),
                }
                for a in self.attempts
            ],
            "usage": {
                "prompt_tokens": self.total_usage.prompt_tokens,
                "completion_tokens": self.total_usage.completion_tokens,
            },
            "judge_usage": self.judge_usage,
            "llm_latency_ms": round(self.llm_latency_s * 1000, 3),
            "validation_latency_ms": round(self.validation_latency_s * 1000, 3),
            "experiments": [{"experiment": e.experiment, "variant": e.variant} for e in self.exposures],
            "session_id": self.session_id,
            "turn": self.turn,
            "project_contracts": self.project_contracts,
        }


class PendingReport:
    """The report of a call that had nothing to check, built when first read.

    A call without contracts, listeners or a tracer pays for five fields here instead of a
    whole report; ``get_report`` and ``last_report`` build the report (once) on demand.
    """

    __slots__ = ("_built", "endpoint", "model", "provider", "streamed")

    def __init__(self, provider: str, endpoint: str, model: str, streamed: bool) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.model = model
        self.streamed = streamed
        self._built: ContractReport | None = None

    def build(self) -> ContractReport:
        """Return the report: it passed, vacuously (the same object on every call)."""
        if self._built is None:
            self._built = ContractReport(
                provider=self.provider,
                endpoint=self.endpoint,
                model=self.model,
                streamed=self.streamed,
                stop_reason="no contracts to check",
            )
        return self._built


def attach_report(obj: Any, report: ContractReport | PendingReport) -> None:
    """Attach ``report`` to a provider response without changing its type or its data."""
    # object.__setattr__ bypasses pydantic's field handling: the report never shows up
    # in model_dump() or the JSON of the response. Objects with __slots__ go without.
    # (A try statement, not contextlib.suppress: this runs on every call.)
    try:  # noqa: SIM105
        object.__setattr__(obj, _ATTR, report)
    except (AttributeError, TypeError):
        pass


def built(report: ContractReport | PendingReport | None) -> ContractReport | None:
    """Return ``report``, built first when it is still pending."""
    return report.build() if type(report) is PendingReport else report  # type: ignore[return-value]


def get_report(obj: Any) -> ContractReport | None:
    """Return the contract report attached to a response, stream or raw response, if any."""
    report = getattr(obj, _ATTR, None)
    if report is None:
        # openai's stream helpers (chat.completions.stream, responses.stream) wrap the
        # raw stream the client returned, which is where the report lives.
        report = getattr(getattr(obj, "_raw_stream", None), _ATTR, None)
    return built(report)
