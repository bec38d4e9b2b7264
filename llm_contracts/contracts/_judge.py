"""LLM-as-judge: a contract that asks a model to grade the answer against a rubric.

The judge is an OpenAI-compatible client (a plain ``openai.OpenAI`` / ``AsyncOpenAI`` or a
contracted one). Its call is bounded by ``max_tokens`` and ``timeout``; its verdict
(score 0..1 and a reason) is cached by a hash of (model, rubric, answer); its usage and
cost are reported apart from the judged call's, in the verdict's details
(``judge_usage``) and in the call's report (``ContractReport.judge_usage``).

A judge call made through a contracted client runs inside :func:`judging`: while it
runs, that client's output contracts are not checked, so a judge never judges itself
(or recurses through its own client).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .._exceptions import ContractConfigError
from .._scope import in_judge_call, judging
from ._base import Category, Contract, ValidationContext, ValidationResult
from ._output import answer_text
from ._pricing import cost_usd
from ._types import Usage

__all__ = ["JudgeContract", "JudgeVerdict", "in_judge_call", "judging"]

_SYSTEM = (
    "You grade an answer written by an AI assistant against a rubric. Reply with a JSON object "
    'only, no other text: {"score": <a number from 0 to 1, where 1 fully meets the rubric>, '
    '"reason": "<one short sentence>"}.'
)
# The answer is graded from its first characters only: a bounded prompt keeps the judge's
# cost and latency bounded whatever the model wrote.
_MAX_ANSWER_CHARS = 12000
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    """What the judge said: a score from 0 to 1 and why."""

    score: float
    reason: str


def parse_verdict(text: str) -> JudgeVerdict:
    """Return the verdict in the judge's answer; raise ``ValueError`` naming what was wrong."""
    found = _OBJECT.search(text or "")
    if found is None:
        raise ValueError(f"the judge did not answer with a JSON object: {text[:80]!r}")
    try:
        data = json.loads(found.group())
    except ValueError:
        raise ValueError(f"the judge's answer is not valid JSON: {found.group()[:80]!r}") from None
    score = data.get("score") if isinstance(data, dict) else None
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
        raise ValueError(f"the judge's score must be a number from 0 to 1; got {score!r}")
    reason = data.get("reason")
    return JudgeVerdict(float(score), reason if isinstance(reason, str) else "")


def _is_async(judge: Any) -> bool:
    import openai

    return isinstance(judge, openai.AsyncOpenAI) or inspect.iscoroutinefunction(judge.chat.completions.create)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class JudgeContract(Contract):
    """Ask a model to grade the answer against a rubric; pass when its score reaches ``threshold``.

    Parameters:
        rubric: what the judge checks ("Is the answer polite?").
        judge: the client that grades: an ``OpenAI`` / ``AsyncOpenAI`` (contracted or not).
        threshold: the least score (0..1) that passes.
        model: the judge's model.
        max_tokens: the token budget of the judge's answer.
        timeout: the time budget of the judge's call, in seconds.
        fail_open: when the judge cannot grade (an error, a timeout, an answer that is not
            a verdict), pass (True) or count a violation (False).
        cache_size: how many verdicts to keep, by hash of (model, rubric, answer).

    Example::

        JudgeContract(rubric="Is the answer polite?", judge=OpenAI(), threshold=0.7)
    """

    default_category = Category.SEMANTIC

    def __init__(
        self,
        rubric: str,
        *,
        judge: Any,
        threshold: float = 0.7,
        model: str = "gpt-4o-mini",
        max_tokens: int = 200,
        timeout: float = 20.0,
        fail_open: bool = True,
        cache_size: int = 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(kwargs.pop("name", None), fail_open=fail_open, **kwargs)
        if not isinstance(rubric, str) or not rubric.strip():
            raise ContractConfigError(f"JudgeContract needs a rubric (a non-empty string); got {rubric!r}")
        if not callable(getattr(getattr(getattr(judge, "chat", None), "completions", None), "create", None)):
            raise ContractConfigError(
                f"judge must be an OpenAI-compatible client (with chat.completions.create); got {judge!r}"
            )
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise ContractConfigError(f"threshold must be a number from 0 to 1; got {threshold!r}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ContractConfigError(f"max_tokens must be an int >= 1; got {max_tokens!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ContractConfigError(f"timeout must be a number of seconds > 0; got {timeout!r}")
        self.rubric = rubric.strip()
        self.judge = judge
        self.threshold = float(threshold)
        self.model = model
        self.max_tokens = max_tokens
        self.timeout = float(timeout)
        self.cache_size = max(0, int(cache_size))
        self._cache: OrderedDict[str, JudgeVerdict] = OrderedDict()
        self._lock = threading.Lock()
        # Read by the engine: a sync check of an async judge under a running loop gets a thread.
        self._is_async = _is_async(judge)

    # -- the judge's call --

    def _key(self, answer: str) -> str:
        return hashlib.sha256("\0".join((self.model, self.rubric, answer)).encode()).hexdigest()

    def _body(self, answer: str) -> dict[str, Any]:
        prompt = f"Rubric: {self.rubric}\n\nAnswer to grade:\n<<<\n{answer[:_MAX_ANSWER_CHARS]}\n>>>"
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout,
            "temperature": 0,
            "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
        }

    def _remember(self, key: str, verdict: JudgeVerdict) -> None:
        if self.cache_size:
            with self._lock:
                self._cache[key] = verdict
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)

    def _cached(self, key: str) -> JudgeVerdict | None:
        with self._lock:
            verdict = self._cache.get(key)
            if verdict is not None:
                self._cache.move_to_end(key)
            return verdict

    def _usage(self, completion: Any) -> dict[str, Any]:
        raw = getattr(completion, "usage", None)
        usage = Usage(getattr(raw, "prompt_tokens", 0) or 0, getattr(raw, "completion_tokens", 0) or 0)
        model = getattr(completion, "model", None) or self.model
        return {
            "model": model,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": cost_usd(model, usage),
        }

    def _read(self, completion: Any) -> JudgeVerdict:
        choices = getattr(completion, "choices", None) or []
        text = choices[0].message.content if choices else ""
        return parse_verdict(text or "")

    # -- verdicts --

    def _verdict(self, verdict: JudgeVerdict, usage: dict[str, Any] | None, cached: bool) -> ValidationResult:
        details: dict[str, Any] = {
            "score": verdict.score,
            "reason": verdict.reason,
            "threshold": self.threshold,
            "rubric": self.rubric,
            "cached": cached,
            "judge_usage": usage,
        }
        if verdict.score < self.threshold:
            because = f": {verdict.reason}" if verdict.reason else ""
            return self.fail(
                f"the judge scored the answer {verdict.score:.2f} < {self.threshold:.2f} on "
                f'"{self.rubric}"{because}',
                suggestion=f"Make the answer meet this requirement: {self.rubric}",
                **details,
            )
        return self.ok(**details)

    def _could_not(self, exc: BaseException, usage: dict[str, Any] | None) -> ValidationResult:
        why = f"{type(exc).__name__}: {exc}"[:300]
        details: dict[str, Any] = {
            "judge_error": why,
            "rubric": self.rubric,
            "judge_usage": usage,
            "fail_open": self.fail_open,
        }
        if self.fail_open:
            return self.ok(f"the judge could not grade the answer ({why}); passed (fail-open)", **details)
        return self.fail(f"the judge could not grade the answer ({why}); failed (fail-closed)", **details)

    def _skip(self, value: Any) -> tuple[str | None, ValidationResult | None]:
        if in_judge_call():
            return None, self.ok(skipped="inside a judge call")
        text = answer_text(value)
        if text is None:
            return None, self.ok(skipped="tool_calls")
        return text, None

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text, skipped = self._skip(value)
        if skipped is not None or text is None:
            return skipped or self.ok()
        key = self._key(text)
        hit = self._cached(key)
        if hit is not None:
            return self._verdict(hit, None, True)
        usage = None
        try:
            with judging():
                completion = self.judge.chat.completions.create(**self._body(text))
                if inspect.isawaitable(completion):
                    completion = asyncio.run(_awaited(completion))
            usage = self._usage(completion)
            verdict = self._read(completion)
        except Exception as exc:  # the judge's failure is a verdict, never the host's crash
            return self._could_not(exc, usage)
        self._remember(key, verdict)
        return self._verdict(verdict, usage, False)

    async def avalidate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text, skipped = self._skip(value)
        if skipped is not None or text is None:
            return skipped or self.ok()
        key = self._key(text)
        hit = self._cached(key)
        if hit is not None:
            return self._verdict(hit, None, True)
        usage = None
        try:
            with judging():
                if self._is_async:
                    completion = await self.judge.chat.completions.create(**self._body(text))
                else:
                    completion = await asyncio.to_thread(
                        self.judge.chat.completions.create, **self._body(text)
                    )
            usage = self._usage(completion)
            verdict = self._read(completion)
        except Exception as exc:  # the judge's failure is a verdict, never the host's crash
            return self._could_not(exc, usage)
        self._remember(key, verdict)
        return self._verdict(verdict, usage, False)
