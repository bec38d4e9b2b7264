"""Chunk-by-chunk validation of a streamed answer, with a policy for when text is released."""

from __future__ import annotations

import functools
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any

from .._dataclass import dataclass
from .._exceptions import ContractConfigError, ContractViolationError
from ..contracts._base import Contract, Enforcement, Severity, ValidationContext, ValidationResult
from ..contracts._types import LLMResponse, ToolCall, ToolDelta, Usage
from ._breaker import mark_skipped
from ._engine import ContractEngine, is_blocking
from ._report import ContractReport

__all__ = ["StreamPolicy", "StreamValidator", "ToolDelta"]


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """When streamed text reaches the caller.

    - ``immediate`` (default): every chunk at once. A critical violation of a streaming
      check stops the stream (the caller has seen the text up to that chunk); a rejected
      tool call stops it before the chunk that ends the call (``finish_reason``); any other
      violation raises after the last chunk.
    - ``hold_back(n)``: a chunk is released once every strict check passed over the text
      up to its end and that text can no longer become part of a violation: contracts
      that judge only the complete answer (JSON, schemas, Pydantic, must-match patterns,
      length minimums, checks without a streaming form) hold the whole answer to the end;
      forbidden patterns of the built-in contracts hold the text from where a match could
      still start (partial matching, in characters, whatever the chunking); a streaming
      check of your own holds its last ``n`` characters, or what its
      ``stream_hold(text, context)`` method returns (the offset to hold from).
    - ``sentence``: as ``hold_back``, and text is released only up to the end of a
      sentence; a streaming check of your own holds the unfinished sentence.
    - ``buffer``: nothing before the whole answer passed every check.

    With every policy but ``immediate`` a chunk of a tool call is held until the call is
    complete and judged, and a rejected call never reaches the caller.
    """

    mode: str = "immediate"
    n_tokens: int = 0

    @classmethod
    def immediate(cls) -> StreamPolicy:
        return cls("immediate")

    @classmethod
    def hold_back(cls, n_tokens: int = 8) -> StreamPolicy:
        if n_tokens < 1:
            raise ContractConfigError(f"hold_back needs n_tokens >= 1; got {n_tokens}")
        return cls("hold_back", n_tokens)

    @classmethod
    def sentence(cls) -> StreamPolicy:
        return cls("sentence")

    @classmethod
    def buffer(cls) -> StreamPolicy:
        return cls("buffer")

    @classmethod
    def parse(cls, value: StreamPolicy | str | None) -> StreamPolicy:
        """Return a policy from a policy, a name, or ``"hold_back:N"``."""
        if value is None:
            return cls.immediate()
        if isinstance(value, StreamPolicy):
            return value
        name, _, arg = str(value).partition(":")
        if name == "hold_back":
            return cls.hold_back(int(arg) if arg else 8)
        if name in ("immediate", "sentence", "buffer"):
            return cls(name)
        raise ContractConfigError(
            f"stream_policy must be immediate, hold_back[:N], sentence or buffer; got {value!r}"
        )


# -- what a holding policy must keep back ---------------------------------------------------

_SENTENCE_BREAK = re.compile(r"[.!?;:](?=\s)|\n")
# A hard limit on one partial-match search: a pattern that backtracks badly on the streamed
# text holds the rest of the answer instead of stalling the host app.
_PARTIAL_TIMEOUT_S = 0.05
# The flags re and regex share, with the same values (IGNORECASE ... ASCII).
_REGEX_FLAGS = int(re.IGNORECASE | re.MULTILINE | re.DOTALL | re.UNICODE | re.VERBOSE | re.ASCII)


class _Rule:
    """How much of the text streamed so far one contract may still reject."""

    reason: str | None = None  # why everything is held, for the report

    def hold_from(self, text: str) -> int:
        """Return the offset from which ``text`` must stay held (``len(text)``: none of it)."""
        raise NotImplementedError


class _WholeAnswer(_Rule):
    """A contract that judges only the complete answer: everything is held to the end."""

    def __init__(self, name: str, why: str) -> None:
        self.reason = f"{name} {why}: the answer was held until it was complete"

    def hold_from(self, text: str) -> int:
        return 0


class _Patterns(_Rule):
    """Forbidden patterns: hold the text from where a match could still start.

    The ``regex`` package's partial matching finds the leftmost match, complete or one
    the text so far could still complete. No match can ever start before it, whatever
    arrives next, so each search starts where the previous one found its match.
    """

    def __init__(self, name: str, patterns: list[Any]) -> None:
        self.name = name
        self.patterns = patterns
        self.dead = [0] * len(patterns)
        self.stuck: int | None = None

    def hold_from(self, text: str) -> int:
        if self.stuck is not None:
            return self.stuck
        end = len(text)
        hold = end
        dead = self.dead
        for i, pattern in enumerate(self.patterns):
            try:
                found = pattern.search(text, dead[i], end, partial=True, timeout=_PARTIAL_TIMEOUT_S)
            except TimeoutError:
                self.reason = f"{self.name}: a pattern took too long to search, the rest was held"
                self.stuck = min(dead)
                return self.stuck
            start = end if found is None else found.start()
            dead[i] = start
            if start < hold:
                hold = start
        return hold


class _MinimumLength(_Rule):
    """A length minimum: hold everything until the answer is long enough."""

    def __init__(self, contract: Any) -> None:
        self.min_chars = contract.min_chars or 0
        self.min_words = contract.min_words or 0
        self.met = False
        self.reason = f"{contract.name} has a minimum length: the answer was held until it reached it"

    def hold_from(self, text: str) -> int:
        if not self.met:
            stripped = text.strip()
            self.met = len(stripped) >= self.min_chars and len(stripped.split()) >= self.min_words
        return len(text) if self.met else 0


class _Opening(_Rule):
    """A check of the opening of the answer (a refusal): hold until the opening is complete."""

    def __init__(self, size: int) -> None:
        self.size = size

    def hold_from(self, text: str) -> int:
        return len(text) if len(text) > self.size else 0


class _Tail(_Rule):
    """A streaming check that cannot say what may still match: hold its last ``n`` characters."""

    def __init__(self, n: int) -> None:
        self.n = n

    def hold_from(self, text: str) -> int:
        return max(0, len(text) - self.n)


class _Hook(_Rule):
    """A contract's own ``stream_hold(text, context)``."""

    def __init__(self, hook: Callable[[str, ValidationContext], int], context: ValidationContext) -> None:
        self.hook = hook
        self.context = context

    def hold_from(self, text: str) -> int:
        return max(0, min(len(text), int(self.hook(text, self.context))))


@functools.lru_cache(maxsize=256)
def _partial_pattern(source: str, flags: int) -> Any:
    import regex

    return regex.compile(source, flags & _REGEX_FLAGS)


def _compile_partial(pattern: Any) -> Any:
    """Return ``pattern`` (anything with ``.pattern``/``.flags``) compiled by ``regex``, or None."""
    import regex

    source = getattr(pattern, "pattern", pattern)
    flags = getattr(pattern, "flags", 0)
    if not isinstance(source, str):
        return None
    try:
        return _partial_pattern(source, flags if isinstance(flags, int) else 0)
    except (regex.error, ValueError, TypeError):
        return None


def _patterns_of(contract: Contract) -> list[Any] | None:
    """Return the forbidden patterns of a built-in streaming contract, or None."""
    from ..contracts._output import RegexContract
    from ..contracts._pii import PIIContract, _rx
    from ..contracts._policy import ContentPolicyContract

    if isinstance(contract, RegexContract):
        return [contract.regex]
    if isinstance(contract, ContentPolicyContract):
        return [contract._regex]
    if isinstance(contract, PIIContract):
        rx = _rx()
        return [rx.card, rx.iban, rx.ssn, rx.nino, rx.email, rx.phone]
    return None


def _rule_for(contract: Contract, policy: StreamPolicy, context: ValidationContext) -> _Rule | None:
    """Return what ``contract`` makes a holding policy keep back; None for nothing."""
    from ..contracts._output import LengthContract, RefusalContract
    from ..contracts._tools import ToolCallContract

    if contract.enforcement is not Enforcement.STRICT:
        return None  # warn and monitor contracts never reject an answer
    hook = getattr(contract, "stream_hold", None)
    if callable(hook):
        return _Hook(hook, context)
    if isinstance(contract, ToolCallContract):
        return None  # it judges tool calls, which are held call by call
    if isinstance(contract, LengthContract):
        if contract.min_chars or contract.min_words:
            return _MinimumLength(contract)
        return None  # a maximum: the chunk that passes it fails its check and is never released
    if not contract.supports_streaming:
        return _WholeAnswer(contract.name, "judges only the complete answer")
    if isinstance(contract, RefusalContract):
        return _Opening(contract.window + 80)
    patterns = _patterns_of(contract)
    if patterns is not None:
        compiled = [_compile_partial(p) for p in patterns]
        if any(c is None for c in compiled):
            return _WholeAnswer(contract.name, "has a pattern partial matching cannot read")
        return _Patterns(contract.name, compiled)
    # A streaming check of the caller's own cannot say what could still become a match.
    return _Tail(policy.n_tokens) if policy.mode == "hold_back" else None


def _tool_contracts(contracts: list[Contract]) -> list[Contract]:
    from ..contracts._tools import ToolCallContract

    return [
        c
        for c in contracts
        if c.enforcement is Enforcement.STRICT
        and (isinstance(c, ToolCallContract) or getattr(c, "judges_tool_calls", False))
    ]


class _Call:
    """One streamed tool call, accumulated from its deltas."""

    __slots__ = ("arguments", "call_id", "group", "name", "state")

    def __init__(self, group: Any) -> None:
        self.group = group
        self.name = ""
        self.arguments = ""
        self.call_id: str | None = None
        self.state = "open"  # open -> passed | failed


class StreamValidator:
    """Validate one stream: feed chunks in, get the chunks that may be released out."""

    def __init__(
        self,
        *,
        engine: ContractEngine,
        policy: StreamPolicy,
        report: ContractReport,
        context: ValidationContext,
        delta_text: Callable[[Any], str | None],
        chunk_usage: Callable[[Any], Usage | None],
        on_done: Callable[[ContractReport], None],
        validate: bool = True,
        tool_deltas: Callable[[Any], list[ToolDelta]] | None = None,
        finish_reason: Callable[[Any], str | None] | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.report = report
        self.context = context
        self.delta_text = delta_text
        self.chunk_usage = chunk_usage
        self.on_done = on_done
        self.validate = validate
        self.tool_deltas = tool_deltas
        self.finish_reason_of = finish_reason
        self.streaming = engine.streaming_contracts if validate else []
        self.parts: list[str] = []
        self._text = ""
        # Held chunks with the length of the text up to their end and the calls they carry.
        self.held: deque[tuple[Any, int, tuple[Any, ...]]] = deque()
        self.started = time.perf_counter()
        self.usage: Usage | None = None
        self.finished = False
        self.violation: ContractViolationError | None = None
        self.calls: dict[Any, _Call] = {}
        self.finish_reason: str | None = None
        contracts = engine._after_call(context) if validate else []
        self.tool_checks = _tool_contracts(contracts) if tool_deltas is not None else []
        self.holding = policy.mode != "immediate"
        self.rules: list[_Rule] = []
        self._sentence_end = 0
        self._sentence_scanned = 0
        if self.holding and policy.mode != "buffer":
            for contract in contracts:
                rule = _rule_for(contract, policy, context)
                if rule is not None:
                    self.rules.append(rule)
            self.rules.sort(key=lambda r: not isinstance(r, _WholeAnswer))
            reasons = [r.reason for r in self.rules if r.reason]
            if reasons:
                report.hold_reason = reasons[0]
        elif policy.mode == "buffer":
            report.hold_reason = "buffer policy: the answer was held until it was complete"

    @property
    def text(self) -> str:
        return self._text

    def _stop(self, failures: list[ValidationResult], stage: str) -> ContractViolationError:
        self.report.outcome = "violated"
        self.report.stop_reason = f"{stage} violation: " + "; ".join(
            f"{r.contract_name}: {r.message}" for r in failures
        )
        self.finished = True
        self.on_done(self.report)
        return ContractViolationError(
            f"stream stopped by contract {failures[0].contract_name}: {failures[0].message}",
            results=failures,
            stage="stream",
            report=self.report,
        )

    def _check_partial(self) -> None:
        if not self.streaming:
            return
        # Streaming contracts may skip text an earlier chunk's check already covered.
        metadata = self.context.metadata
        results = self.engine.run_partial(self.streaming, self._text, self.context)
        metadata["stream_checked"] = len(self._text)
        failures = [
            r for r in results if is_blocking(r) and (self.holding or r.severity is Severity.CRITICAL)
        ]
        if failures:
            self.report.stream_results = results
            raise self._stop(failures, "stream")

    # -- tool calls ---------------------------------------------------------------------

    def _track_tools(self, chunk: Any) -> tuple[Any, ...]:
        """Fold the chunk's tool-call deltas in; judge the calls it completes; return its calls."""
        deltas = self.tool_deltas(chunk) if self.tool_deltas is not None else ()
        if not deltas:
            return ()
        carried: list[Any] = []
        complete: list[_Call] = []
        for d in deltas:
            if d.key is None:
                complete += [c for c in self.calls.values() if c.group == d.group and c.state == "open"]
                continue
            call = self.calls.get(d.key)
            if call is None:
                if d.group is not None:
                    complete += [c for c in self.calls.values() if c.group == d.group and c.state == "open"]
                call = self.calls[d.key] = _Call(d.group)
            if d.whole:
                call.name = d.name or call.name
                call.arguments = d.arguments or call.arguments
            else:
                call.name += d.name
                call.arguments += d.arguments
            if d.call_id:
                call.call_id = d.call_id
            if d.key not in carried:
                carried.append(d.key)
            if d.done:
                complete.append(call)
        for call in complete:
            self._judge_call(call)
        return tuple(carried)

    def _judge_call(self, call: _Call) -> None:
        if call.state != "open":
            return
        call.state = "passed"
        if not self.tool_checks:
            return
        response = LLMResponse(
            text=self._text,
            model=self.report.model,
            tool_calls=[ToolCall(call.name, call.arguments, call.call_id)],
        )
        t0 = time.perf_counter()
        results = [self.engine.run_one(c, response, self.context) for c in self.tool_checks]
        self.report.validation_latency_s += time.perf_counter() - t0
        failures = [r for r in results if is_blocking(r)]
        if failures:
            call.state = "failed"
            self.report.stream_results = results
            raise self._stop(failures, "tool call")

    # -- releasing ------------------------------------------------------------------------

    def _release_point(self) -> int:
        text = self._text
        point = len(text)
        for rule in self.rules:
            hold = rule.hold_from(text)
            if hold < point:
                point = hold
                if point == 0:
                    return 0
        if self.policy.mode == "sentence":
            # Only the new text is searched; a break needs the space after it, so a
            # chunk ending in "3." waits to see whether "14" follows.
            for m in _SENTENCE_BREAK.finditer(text, max(0, self._sentence_scanned - 1)):
                self._sentence_end = m.end()
            self._sentence_scanned = len(text)
            point = min(point, self._sentence_end)
        return point

    def _release(self, point: int) -> list[Any]:
        out = []
        held = self.held
        calls = self.calls
        while held:
            chunk, end, carried = held[0]
            if end > point or (carried and any(calls[k].state != "passed" for k in carried)):
                break
            out.append(chunk)
            held.popleft()
        return out

    def feed(self, chunk: Any) -> list[Any]:
        """Take one chunk; return the chunks that may be released now, in order."""
        usage = self.chunk_usage(chunk)
        if usage is not None:
            if not usage.prompt_tokens and self.usage is not None:
                # A later event counting only the output (Anthropic's message_delta) keeps
                # the prompt's count an earlier one gave.
                usage = Usage(self.usage.prompt_tokens, usage.completion_tokens)
            self.usage = usage
        if self.finish_reason_of is not None:
            self.finish_reason = self.finish_reason_of(chunk) or self.finish_reason
        delta = self.delta_text(chunk)
        if delta:
            self.parts.append(delta)
            self._text += delta
            self._check_partial()
        carried = self._track_tools(chunk) if self.tool_deltas is not None and self.validate else ()
        if not self.holding:
            return [chunk]
        self.held.append((chunk, len(self._text), carried))
        if self.policy.mode == "buffer":
            return []
        return self._release(self._release_point())

    def finish(self) -> list[Any]:
        """Validate the complete answer; return the chunks still held, or raise."""
        if self.finished:
            return []
        for call in list(self.calls.values()):
            self._judge_call(call)
        calls = [ToolCall(c.name, c.arguments, c.call_id) for c in self.calls.values()]
        return self.conclude(
            LLMResponse(
                text=self.text,
                usage=self.usage,
                model=self.report.model,
                tool_calls=calls,
                finish_reason=self.finish_reason,
            )
        )

    def conclude(self, response: LLMResponse) -> list[Any]:
        """Validate ``response``, the complete answer; return the chunks still held, or raise."""
        if self.finished:
            return []
        self.finished = True
        latency = time.perf_counter() - self.started
        self.report.llm_latency_s = latency
        response.latency_s = latency
        if response.usage is None:
            response.usage = self.usage
        self.usage = response.usage
        self.report.total_usage.add(self.usage)
        if self.validate:
            t0 = time.perf_counter()
            results = self.engine.run_output(response, self.context)
            self.report.validation_latency_s += time.perf_counter() - t0
        else:
            results = []
        from ._report import Attempt

        self.report.attempts.append(Attempt(0, response.text, results, self.usage, latency))
        failures = [r for r in results if is_blocking(r)]
        if failures:
            self.finished = False
            raise self._stop(failures, "final")
        if self.report.hold_reason is None:
            self.report.hold_reason = next((r.reason for r in self.rules if r.reason), None)
        if self.report.outcome != "skipped":
            soft = any(not r.is_valid and r.enforcement is not Enforcement.STRICT for r in results)
            self.report.outcome = "warned" if soft else "passed"
            mark_skipped(self.report)
        self.on_done(self.report)
        out = [chunk for chunk, _, _ in self.held]
        self.held.clear()
        return out

    def abandon(self) -> None:
        """Record a stream the caller closed before its end."""
        if not self.finished:
            self.finished = True
            self.report.stop_reason = "closed by caller before the end of the stream"
            self.on_done(self.report)

    # -- iterator adapters ----------------------------------------------------------

    def wrap(self, source: Iterator[Any], close: Callable[[], None]) -> Generator[Any, None, None]:
        """Yield the chunks of ``source`` this policy releases; on a violation close and raise."""
        try:
            for chunk in source:
                try:
                    released = self.feed(chunk)
                except ContractViolationError:
                    _close(source)
                    close()
                    raise
                yield from released
            yield from self.finish()
        except GeneratorExit:
            self.abandon()
            _close(source)
            raise

    async def awrap(self, source: AsyncIterator[Any], close: Callable[[], Any]) -> AsyncGenerator[Any, None]:
        """Yield the chunks of ``source`` this policy releases; on a violation close and raise."""
        try:
            async for chunk in source:
                try:
                    released = self.feed(chunk)
                except ContractViolationError:
                    await _aclose(source)
                    await close()
                    raise
                for item in released:
                    yield item
            for item in self.finish():
                yield item
        except GeneratorExit:
            self.abandon()
            await _aclose(source)
            raise


def _close(source: Any) -> None:
    # Closing the source generator runs its own cleanup (openai's releases the connection).
    closer = getattr(source, "close", None)
    if callable(closer):
        closer()


async def _aclose(source: Any) -> None:
    closer = getattr(source, "aclose", None)
    if callable(closer):
        await closer()
