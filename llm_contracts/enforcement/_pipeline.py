"""The walk of one contracted call, written once for sync and async clients.

``contracted_call`` is a generator that yields operations (validate input, send,
parse, validate output) and receives their results; ``drive_sync`` and
``drive_async`` perform the operations with blocking or awaitable I/O. The rules
(what raises, when to re-ask, what is reported) therefore live in one place.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import field
from typing import Any

from .._dataclass import dataclass
from .._exceptions import ContractConfigError, ContractViolationError
from ..contracts._base import Enforcement, Severity, ValidationContext, ValidationResult
from ..contracts._types import LLMRequest, LLMResponse, Usage
from ._breaker import mark_skipped
from ._engine import ContractEngine, build_choices_feedback, build_feedback, is_blocking
from ._report import Attempt, ContractReport
from ._streaming import StreamPolicy

__all__ = ["CallSettings", "contracted_call", "drive_async", "drive_sync", "observe_reports"]

log = logging.getLogger("llm_contracts")

# Callables given the report of every call of every client made in this context (the test
# tools count verdicts with it); empty, and so free, unless someone observes.
_OBSERVERS: contextvars.ContextVar[tuple[Callable[[ContractReport], None], ...]] = contextvars.ContextVar(
    "llm_contracts_report_observers", default=()
)


@contextlib.contextmanager
def observe_reports(observer: Callable[[ContractReport], None]) -> Iterator[None]:
    """Give ``observer`` the report of every contracted call made inside the block (in this context)."""
    token = _OBSERVERS.set((*_OBSERVERS.get(), observer))
    try:
        yield
    finally:
        _OBSERVERS.reset(token)


@dataclass(slots=True)
class CallSettings:
    """The contract settings of one client, shared by its copies."""

    engine: ContractEngine
    contract_retries: int = 0
    retry_budget_tokens: int | None = None
    stream_policy: StreamPolicy = field(default_factory=StreamPolicy.immediate)
    listeners: list[Callable[[ContractReport], None]] = field(default_factory=list)
    native_schema: bool = False
    # Text the developer declared to answer with when re-asks run out (LLMCL's
    # "on violation fallback"). Never silent: the report says outcome "fallback".
    fallback: str | None = None
    # The experiment variants of this call (llm_contracts.experiments.Exposure): set on
    # the per-call settings only, copied into the call's report.
    exposures: tuple[Any, ...] = ()
    # Whether the project's server-defined contracts were in force ("applied") or had not
    # arrived yet ("unavailable"); None without project contracts. Copied into the report.
    project_contracts: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.contract_retries, int) or self.contract_retries < 0:
            raise ContractConfigError(f"contract_retries must be an int >= 0; got {self.contract_retries!r}")
        if self.retry_budget_tokens is not None and self.retry_budget_tokens < 1:
            raise ContractConfigError(
                f"retry_budget_tokens must be a positive int or None; got {self.retry_budget_tokens!r}"
            )

    def copy(self) -> CallSettings:
        return CallSettings(
            self.engine.copy(),
            self.contract_retries,
            self.retry_budget_tokens,
            self.stream_policy,
            self.listeners,
            self.native_schema,
            self.fallback,
        )

    def emit(self, report: ContractReport) -> None:
        """Hand the finished report to every listener; a listener's error stays here."""
        observers = _OBSERVERS.get()
        for listener in (*self.listeners, *observers) if observers else self.listeners:
            try:
                listener(report)
            except Exception:  # a reporter bug must not break the call
                self.engine.metrics.record_internal_error()
                log.exception("llm_contracts report listener failed")


# Operations the generator yields; the drivers carry them out.
INPUT, SEND, PARSE, OUTPUT = "input", "send", "parse", "output"


def _signature(results: list[ValidationResult]) -> frozenset[tuple[str, str]]:
    return frozenset((r.contract_name, r.message) for r in results if is_blocking(r))


# The contract name of the verdict on an answer that did not fit the parse helper's format.
MISFIT = "response_format"


def _misfit(message: str) -> ValidationResult:
    """Return the violation of an answer that openai's parse helper could not parse."""
    return ValidationResult(
        False,
        message,
        Severity.ERROR,
        MISFIT,
        auto_fix_suggestion="Answer with JSON that matches the requested schema exactly.",
    )


def contracted_call(
    settings: CallSettings,
    request: LLMRequest,
    *,
    to_response: Callable[[Any, float], LLMResponse],
    reask_body: Callable[[dict[str, Any], LLMResponse, str], dict[str, Any]],
    stream: bool,
    conversation: Any = None,
    substitute: Callable[[Any, str], Any] | None = None,
    to_choices: Callable[[Any, float], list[LLMResponse]] | None = None,
    misfits: Callable[[Any], Sequence[str | None]] | None = None,
    sum_usage: Callable[[Any, Sequence[Any]], None] | None = None,
) -> Generator[tuple[Any, ...], Any, tuple[Any, ContractReport]]:
    """Walk one call; return ``(result, report)`` or raise ``ContractViolationError``.

    With a ``conversation`` (a ``ConversationStateManager``), contracts see it as
    ``context.conversation`` and the kept answer is recorded as its next turn.
    ``to_choices`` gives one view per choice (``n > 1``): every choice is judged, and a
    violation in any of them re-asks the whole call. ``misfits`` gives, per choice, why
    the answer did not fit the caller's ``response_format`` (None where it did): each is
    a violation like a contract's. ``sum_usage(kept, answers)`` makes the kept answer's
    own usage the sum over every attempt.
    """
    engine = settings.engine
    report = ContractReport(
        provider=request.provider,
        endpoint=request.endpoint,
        model=request.model,
        streamed=stream,
        request=request,
        exposures=settings.exposures,
        project_contracts=settings.project_contracts,
    )
    if conversation is not None:
        report.session_id = getattr(conversation, "session_id", None)
        turns = getattr(conversation, "assistant_turns", None)
        report.turn = turns + 1 if isinstance(turns, int) else None  # the turn this call answers
    context = ValidationContext(request)
    if conversation is not None:
        context.conversation = conversation.view_for(request, None)
    if engine.input_contracts:
        t0 = time.perf_counter()
        results, fixed = yield (INPUT, request, context, report.input_fixes)
        report.validation_latency_s += time.perf_counter() - t0
        report.input_results = results
        # A violation the contract repaired by auto-fix no longer blocks: the fixed
        # request is what gets sent, and the report lists the fix.
        failures = [
            r for r in results if not r.is_valid and is_blocking(r) and not r.details.get("auto_fixed")
        ]
        if failures:
            report.outcome = "violated"
            report.stop_reason = "input violation"
            engine.metrics.record_call(outcome="violated")
            settings.emit(report)
            first = failures[0]
            raise ContractViolationError(
                f"request rejected by contract {first.contract_name}: {first.message}",
                results=failures,
                stage="input",
                report=report,
            )
        request = report.request = fixed

    body = request.body
    if stream:
        # Output validation of a stream happens chunk by chunk in the stream wrapper.
        result = yield (SEND, body, False)
        return result, report

    attempt = 0
    feedback: str | None = None
    seen: set[frozenset[tuple[str, str]]] = set()  # filled by re-asks only
    answers: list[Any] = []
    while True:
        t0 = time.perf_counter()
        result = yield (SEND, body, attempt > 0)
        parsed = yield (PARSE, result)
        latency = time.perf_counter() - t0
        report.llm_latency_s += latency
        answers.append(parsed)
        responses = to_choices(parsed, latency) if to_choices is not None else [to_response(parsed, latency)]
        response = responses[0]
        report.total_usage.add(response.usage)
        unfit = misfits(parsed) if misfits is not None else ()
        context.attempt = attempt
        context.elapsed_s = latency
        if conversation is not None:
            context.conversation = conversation.view_for(request, response)
        t1 = time.perf_counter()
        results = yield (OUTPUT, response, context)
        per_choice: list[list[ValidationResult]] = []
        if len(responses) > 1:
            per_choice.append(results)
            for other in responses[1:]:
                if conversation is not None:
                    context.conversation = conversation.view_for(request, other)
                per_choice.append((yield (OUTPUT, other, context)))
        for i, message in enumerate(unfit):
            if message is not None and i < len(responses):
                (per_choice[i] if per_choice else results).append(_misfit(message))
        if per_choice:
            results = [r for verdicts in per_choice for r in verdicts]
        report.validation_latency_s += time.perf_counter() - t1
        report.attempts.append(
            Attempt(
                attempt, response.text, results, response.usage, latency, feedback, response.model, per_choice
            )
        )
        # One pass over the verdicts (this runs on every call): the strict violations, and
        # whether any other contract failed.
        failures = []
        soft = False
        for r in results:
            if not r.is_valid:
                if r.enforcement is Enforcement.STRICT:
                    failures.append(r)
                else:
                    soft = True
        if not failures:
            report.outcome = "repaired" if attempt else ("warned" if soft else "passed")
            if attempt:
                for name in {r.contract_name for r in report.attempts[0].results if is_blocking(r)}:
                    engine.metrics.record_fix(name, succeeded=True)
            break
        signature = _signature(results)
        stop = None
        if attempt >= settings.contract_retries:
            stop = f"violation after {attempt + 1} attempt(s)"
        elif signature in seen:
            stop = "the same violation repeated: stopped re-asking"
        elif (
            settings.retry_budget_tokens is not None
            and report.total_usage.total_tokens >= settings.retry_budget_tokens
        ):
            stop = (
                f"retry token budget spent ({report.total_usage.total_tokens} of "
                f"{settings.retry_budget_tokens} tokens)"
            )
        if stop is not None:
            if attempt:
                for name in {r.contract_name for r in report.attempts[0].results if is_blocking(r)}:
                    engine.metrics.record_fix(name, succeeded=False)
            replacement = None
            if sum_usage is not None and attempt:
                sum_usage(parsed, answers)
            if settings.fallback is not None and substitute is not None and result is parsed:
                replacement = substitute(parsed, settings.fallback)
            if replacement is not None:
                # The declared fallback, in openai's own type; every real answer stays in
                # report.attempts, and the outcome says what happened.
                report.outcome = "fallback"
                report.stop_reason = f"{stop}; answered with the declared fallback"
                log.warning("llm_contracts answered with the declared fallback: %s", stop)
                engine.metrics.record_call(outcome="fallback")
                settings.emit(report)
                return replacement, report
            report.outcome = "violated"
            report.stop_reason = stop
            engine.metrics.record_call(outcome="violated")
            settings.emit(report)
            first = failures[0]
            raise ContractViolationError(
                f"response rejected by contract {first.contract_name}: {first.message} ({stop})",
                results=failures,
                stage="output",
                report=report,
                response=parsed,
            )
        seen.add(signature)
        answer = response
        if per_choice:
            failing = [
                (i, [r for r in verdicts if is_blocking(r)], responses[i])
                for i, verdicts in enumerate(per_choice)
            ]
            failing = [f for f in failing if f[1]]
            feedback = build_choices_feedback(failing)
            answer = failing[0][2]  # the conversation goes on from the first failing choice
        else:
            feedback = build_feedback(failures, response.text, tool_calls=response.tool_calls)
        body = reask_body(body, answer, feedback)
        attempt += 1

    if sum_usage is not None and attempt:
        sum_usage(parsed, answers)
    if conversation is not None:
        conversation.record_exchange(request, response)
    mark_skipped(report)
    engine.metrics.record_call(outcome=report.outcome)
    settings.emit(report)
    return result, report


def drive_sync(
    gen: Generator[tuple[Any, ...], Any, tuple[Any, ContractReport]],
    *,
    engine: ContractEngine,
    send: Callable[[dict[str, Any], bool], Any],
    parse: Callable[[Any], Any],
) -> tuple[Any, ContractReport]:
    """Run ``contracted_call`` with blocking I/O."""
    value: Any = None
    try:
        while True:
            op = gen.send(value)
            kind = op[0]
            if kind == SEND:
                value = send(op[1], op[2])
            elif kind == PARSE:
                value = parse(op[1])
            elif kind == INPUT:
                value = engine.run_input(op[1], op[2], op[3])
            else:
                value = engine.run_output(op[1], op[2])
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def drive_async(
    gen: Generator[tuple[Any, ...], Any, tuple[Any, ContractReport]],
    *,
    engine: ContractEngine,
    send: Callable[[dict[str, Any], bool], Any],
    parse: Callable[[Any], Any],
) -> tuple[Any, ContractReport]:
    """Run ``contracted_call`` with awaitable I/O; contracts of a stage run concurrently."""
    value: Any = None
    try:
        while True:
            op = gen.send(value)
            kind = op[0]
            if kind == SEND:
                value = await send(op[1], op[2])
            elif kind == PARSE:
                value = await parse(op[1])
            elif kind == INPUT:
                value = await engine.arun_input(op[1], op[2], op[3])
            else:
                value = await engine.arun_output(op[1], op[2])
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def usage_of(report: ContractReport) -> Usage:
    """Return the usage summed over every attempt of a call."""
    return report.total_usage
