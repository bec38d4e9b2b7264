"""How each OpenAI generation endpoint's answers map to ``LLMResponse`` and stream deltas.

Also the two writes on the answer side: a fallback text in openai's own response type,
and the usage of the kept answer summed over every attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic

from ..contracts._types import LLMResponse, ToolCall, ToolDelta, Usage
from ._views import summed

__all__ = ["CHAT", "COMPLETIONS", "RESPONSES"]


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", None)
    if prompt is None:
        prompt = getattr(usage, "input_tokens", 0)
    completion = getattr(usage, "completion_tokens", None)
    if completion is None:
        completion = getattr(usage, "output_tokens", 0)
    return Usage(int(prompt or 0), int(completion or 0))


class _OpenAIResponseView:
    """What the three endpoints share."""

    def response(self, parsed: Any, latency_s: float | None) -> LLMResponse:
        raise NotImplementedError

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        return [self.response(parsed, latency_s)]

    def sum_usage(self, target: Any, attempts: Sequence[Any]) -> None:
        usages = [u for u in (getattr(a, "usage", None) for a in attempts) if u is not None]
        if len(usages) > 1 and isinstance(target, pydantic.BaseModel) and hasattr(target, "usage"):
            target.usage = summed(usages)

    def substitute(self, parsed: Any, text: str) -> Any:
        return None

    def delta_text(self, chunk: Any) -> str | None:
        raise NotImplementedError

    def chunk_usage(self, chunk: Any) -> Usage | None:
        return None

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        return []

    def finish_reason(self, chunk: Any) -> str | None:
        return None


class ChatCompletionsResponseView(_OpenAIResponseView):
    def substitute(self, parsed: Any, text: str) -> Any:
        choices = getattr(parsed, "choices", None)
        if not choices or not hasattr(parsed, "model_copy"):
            return None
        update: dict[str, Any] = {"content": text, "tool_calls": None, "refusal": None}
        if "parsed" in type(choices[0].message).model_fields:
            update["parsed"] = None
        # Every choice answers with the fallback, so a caller of n > 1 keeps its n choices.
        return parsed.model_copy(
            update={
                "choices": [
                    choice.model_copy(
                        update={"message": choice.message.model_copy(update=update), "finish_reason": "stop"}
                    )
                    for choice in choices
                ]
            }
        )

    def response(self, parsed: Any, latency_s: float | None, index: int = 0) -> LLMResponse:
        choices = getattr(parsed, "choices", None) or []
        text, finish, refusal, calls = "", None, None, []
        if choices:
            choice = choices[index]
            message = getattr(choice, "message", None)
            finish = getattr(choice, "finish_reason", None)
            if message is not None:
                text = message.content or ""
                refusal = getattr(message, "refusal", None)
                for tc in getattr(message, "tool_calls", None) or ():
                    fn = getattr(tc, "function", None)
                    if fn is not None:
                        calls.append(ToolCall(fn.name, fn.arguments or "", getattr(tc, "id", None)))
        # Positional, in LLMResponse's field order: this runs on every call.
        return LLMResponse(
            text,
            getattr(parsed, "model", "") or "",
            calls,
            finish,
            refusal,
            _usage(getattr(parsed, "usage", None)),
            latency_s,
            parsed,
        )

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        count = len(getattr(parsed, "choices", None) or ())
        if count <= 1:
            return [self.response(parsed, latency_s)]
        return [self.response(parsed, latency_s, i) for i in range(count)]

    def delta_text(self, chunk: Any) -> str | None:
        choices = getattr(chunk, "choices", None)
        if not choices:
            return None
        delta = getattr(choices[0], "delta", None)
        return getattr(delta, "content", None) if delta is not None else None

    def chunk_usage(self, chunk: Any) -> Usage | None:
        return _usage(getattr(chunk, "usage", None))

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        out: list[ToolDelta] = []
        for choice in getattr(chunk, "choices", None) or ():
            index = getattr(choice, "index", 0)
            delta = getattr(choice, "delta", None)
            for tc in getattr(delta, "tool_calls", None) or ():
                fn = getattr(tc, "function", None)
                out.append(
                    ToolDelta(
                        (index, tc.index),
                        index,
                        getattr(fn, "name", None) or "",
                        getattr(fn, "arguments", None) or "",
                        getattr(tc, "id", None),
                    )
                )
            if getattr(choice, "finish_reason", None) is not None:
                # The choice is over: its last call is complete.
                out.append(ToolDelta(None, index, done=True))
        return out

    def finish_reason(self, chunk: Any) -> str | None:
        choices = getattr(chunk, "choices", None)
        return getattr(choices[0], "finish_reason", None) if choices else None


class CompletionsResponseView(_OpenAIResponseView):
    def response(self, parsed: Any, latency_s: float | None, index: int = 0) -> LLMResponse:
        choices = getattr(parsed, "choices", None) or []
        text = (getattr(choices[index], "text", "") or "") if choices else ""
        finish = getattr(choices[index], "finish_reason", None) if choices else None
        return LLMResponse(
            text=text,
            model=getattr(parsed, "model", "") or "",
            finish_reason=finish,
            usage=_usage(getattr(parsed, "usage", None)),
            latency_s=latency_s,
            raw=parsed,
        )

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        count = len(getattr(parsed, "choices", None) or ())
        return [self.response(parsed, latency_s, i) for i in range(max(1, count))]

    def delta_text(self, chunk: Any) -> str | None:
        choices = getattr(chunk, "choices", None)
        return getattr(choices[0], "text", None) if choices else None

    def chunk_usage(self, chunk: Any) -> Usage | None:
        return _usage(getattr(chunk, "usage", None))


class ResponsesResponseView(_OpenAIResponseView):
    def substitute(self, parsed: Any, text: str) -> Any:
        if not hasattr(parsed, "model_copy"):
            return None
        from openai.types.responses import ResponseOutputMessage, ResponseOutputText

        message = ResponseOutputMessage(
            id="msg_fallback",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return parsed.model_copy(update={"output": [message]})

    def response(self, parsed: Any, latency_s: float | None) -> LLMResponse:
        parts: list[str] = []
        calls: list[ToolCall] = []
        refusal = None
        for item in getattr(parsed, "output", None) or ():
            kind = getattr(item, "type", None)
            if kind == "message":
                for part in getattr(item, "content", None) or ():
                    ptype = getattr(part, "type", None)
                    if ptype == "output_text":
                        parts.append(getattr(part, "text", "") or "")
                    elif ptype == "refusal":
                        refusal = getattr(part, "refusal", None)
            elif kind == "function_call":
                calls.append(
                    ToolCall(
                        getattr(item, "name", ""),
                        getattr(item, "arguments", "") or "",
                        getattr(item, "call_id", None),
                    )
                )
        status = getattr(parsed, "status", None)
        return LLMResponse(
            text="".join(parts),
            model=getattr(parsed, "model", "") or "",
            tool_calls=calls,
            finish_reason=status,
            refusal=refusal,
            usage=_usage(getattr(parsed, "usage", None)),
            latency_s=latency_s,
            raw=parsed,
        )

    def delta_text(self, chunk: Any) -> str | None:
        if getattr(chunk, "type", None) == "response.output_text.delta":
            return getattr(chunk, "delta", None)
        return None

    def chunk_usage(self, chunk: Any) -> Usage | None:
        if getattr(chunk, "type", None) == "response.completed":
            return _usage(getattr(getattr(chunk, "response", None), "usage", None))
        return None

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        kind = getattr(chunk, "type", None)
        if kind in ("response.output_item.added", "response.output_item.done"):
            item = getattr(chunk, "item", None)
            if getattr(item, "type", None) != "function_call":
                return []
            done = kind == "response.output_item.done"
            return [
                ToolDelta(
                    chunk.output_index,
                    None,
                    getattr(item, "name", "") or "",
                    getattr(item, "arguments", "") or "",
                    getattr(item, "call_id", None),
                    done=done,
                    whole=True,
                )
            ]
        if kind == "response.function_call_arguments.delta":
            return [ToolDelta(chunk.output_index, None, arguments=getattr(chunk, "delta", "") or "")]
        if kind == "response.function_call_arguments.done":
            # Complete arguments; the call itself ends with its output_item.done event.
            return [
                ToolDelta(
                    chunk.output_index, None, arguments=getattr(chunk, "arguments", "") or "", whole=True
                )
            ]
        return []

    def finish_reason(self, chunk: Any) -> str | None:
        if getattr(chunk, "type", None) in ("response.completed", "response.incomplete", "response.failed"):
            return getattr(getattr(chunk, "response", None), "status", None)
        return None


CHAT = ChatCompletionsResponseView()
COMPLETIONS = CompletionsResponseView()
RESPONSES = ResponsesResponseView()
