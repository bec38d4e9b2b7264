"""Chunk-by-chunk validation of a streamed answer, with a policy for when text is released."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from .._exceptions import ContractConfigError, ContractViolationError
from ..contracts._base import Enforcement, Severity, ValidationContext, ValidationResult
from ..contracts._types import LLMResponse, Usage
from ._breaker import mark_skipped
from ._engine import ContractEngine, is_blocking
from ._report import ContractReport

__all__ = ["StreamPolicy", "StreamValidator"]

_SENTENCE_END = re.compile(r"[.!?;:\n]\s*$")
_SENTENCE_INSIDE = re.compile(r"[.!?]\s+\S")


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """When streamed text reaches the caller.

    - ``immediate`` (default): every chunk at once; a critical violation stops the stream.
    - ``hold_back(n)``: a chunk is released only after ``n`` more chunks (about ``n``
      tokens) arrived and every streaming check passed over the text including them;
      ``n`` must cover the longest text a check looks for, or its first pieces may pass.
    - ``sentence``: text is released a sentence at a time, after the checks passed over it.
    - ``buffer``: the whole answer is validated, then replayed as chunks.

    With every policy but ``immediate`` no text a check rejects ever reaches the caller.
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
            f"stream_policy must be immediate, hold_back[:N], sentence or buffer; got {value!r}")


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
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.report = report
        self.context = context
        self.delta_text = delta_text
        self.chunk_usage = chunk_usage
        self.on_done = on_done
        self.validate = validate
        self.streaming = engine.streaming_contracts if validate else []
        self.parts: list[str] = []
        self._text = ""
        self.held: deque[Any] = deque()
        self.started = time.perf_counter()
        self.usage: Usage | None = None
        self.finished = False
        self.violation: ContractViolationError | None = None

    @property
    def text(self) -> str:
        return self._text

    def _stop(self, failures: list[ValidationResult], stage: str) -> ContractViolationError:
        self.report.outcome = "violated"
        self.report.stop_reason = f"{stage} violation: " + "; ".join(
            f"{r.contract_name}: {r.message}" for r in failures)
        self.finished = True
        self.on_done(self.report)
        return ContractViolationError(
            f"stream stopped by contract {failures[0].contract_name}: {failures[0].message}",
            results=failures, stage="stream", report=self.report)

    def _check_partial(self) -> None:
        if not self.streaming:
            return
        # Streaming contracts may skip text an earlier chunk's check already covered.
        metadata = self.context.metadata
        results = self.engine.run_partial(self.streaming, self._text, self.context)
        metadata["stream_checked"] = len(self._text)
        held_mode = self.policy.mode != "immediate"
        failures = [r for r in results if is_blocking(r)
                    and (held_mode or r.severity is Severity.CRITICAL)]
        if failures:
            self.report.stream_results = results
            raise self._stop(failures, "stream")

    def feed(self, chunk: Any) -> list[Any]:
        """Take one chunk; return the chunks that may be released now, in order."""
        usage = self.chunk_usage(chunk)
        if usage is not None:
            self.usage = usage
        delta = self.delta_text(chunk)
        if delta:
            self.parts.append(delta)
            self._text += delta
            self._check_partial()
        mode = self.policy.mode
        if mode == "immediate":
            return [chunk]
        self.held.append(chunk)
        if mode == "buffer":
            return []
        if mode == "hold_back":
            out = []
            while len(self.held) > self.policy.n_tokens:
                out.append(self.held.popleft())
            return out
        # sentence: release what is held once a sentence ends. Only the new delta is
        # searched: text already released must not trigger a release of the next words.
        if not delta:
            return []
        if _SENTENCE_END.search(delta):
            out = list(self.held)
            self.held.clear()
            return out
        if _SENTENCE_INSIDE.search(delta):
            # The delta ends one sentence and starts the next: release up to it and keep
            # it, so the next sentence's first words wait for their own check.
            out = list(self.held)[:-1]
            for _ in out:
                self.held.popleft()
            return out
        return []

    def finish(self) -> list[Any]:
        """Validate the complete answer; return the chunks still held, or raise."""
        if self.finished:
            return []
        self.finished = True
        latency = time.perf_counter() - self.started
        self.report.llm_latency_s = latency
        self.report.total_usage.add(self.usage)
        response = LLMResponse(text=self.text, usage=self.usage, latency_s=latency,
                               model=self.report.model)
        if self.validate:
            t0 = time.perf_counter()
            results = self.engine.run_output(response, self.context)
            self.report.validation_latency_s += time.perf_counter() - t0
        else:
            results = []
        from ._report import Attempt

        self.report.attempts.append(Attempt(0, self.text, results, self.usage, latency))
        failures = [r for r in results if is_blocking(r)]
        if failures:
            self.finished = False
            raise self._stop(failures, "final")
        if self.report.outcome != "skipped":
            soft = any(not r.is_valid and r.enforcement is not Enforcement.STRICT for r in results)
            self.report.outcome = "warned" if soft else "passed"
            mark_skipped(self.report)
        self.on_done(self.report)
        out = list(self.held)
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
