"""How each OpenAI generation endpoint maps to ``LLMRequest`` / ``LLMResponse``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

from ..contracts._types import LLMRequest, LLMResponse, Message, ToolCall, ToolSpec, Usage, content_text
from ..enforcement._streaming import ToolDelta

__all__ = ["ROUTES", "Route", "route_for"]


def _tool_specs(tools: Any) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    if not isinstance(tools, (list, tuple)):
        return specs
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        fn = tool.get("function") if tool.get("type", "function") == "function" else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            specs.append(ToolSpec(fn["name"], fn.get("parameters"), bool(fn.get("strict"))))
        elif tool.get("type") == "function" and isinstance(tool.get("name"), str):
            # The Responses API flattens function tools.
            specs.append(ToolSpec(tool["name"], tool.get("parameters"), bool(tool.get("strict"))))
    return specs


_PARAM_KEYS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "max_output_tokens",
               "n", "presence_penalty", "frequency_penalty", "response_format", "seed", "stop",
               "tool_choice", "text", "reasoning")


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in _PARAM_KEYS if k in body}


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


def _summed(models: Sequence[Any]) -> Any:
    """Return the last of ``models`` with every token count summed over all of them."""
    last = models[-1]
    if not isinstance(last, pydantic.BaseModel):
        return last
    update: dict[str, Any] = {}
    for name in [*type(last).model_fields, *(last.model_extra or {})]:
        values = [v for v in (getattr(m, name, None) for m in models) if v is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            update[name] = sum(values)
        elif values and all(isinstance(v, pydantic.BaseModel) for v in values):
            update[name] = _summed(values)  # e.g. prompt_tokens_details.cached_tokens
    return last.model_copy(update=update)


class Route:
    """One endpoint: how to read its body and response, and how to re-ask."""

    endpoint = ""

    def request(self, body: Mapping[str, Any]) -> LLMRequest:
        raise NotImplementedError

    def response(self, parsed: Any, latency_s: float | None) -> LLMResponse:
        raise NotImplementedError

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        """Return one view per choice of the answer (``n > 1``); the first is :meth:`response`'s."""
        return [self.response(parsed, latency_s)]

    def sum_usage(self, target: Any, attempts: Sequence[Any]) -> None:
        """Set ``target.usage`` (openai's own object) to the usage summed over ``attempts``."""
        usages = [u for u in (getattr(a, "usage", None) for a in attempts) if u is not None]
        if len(usages) > 1 and isinstance(target, pydantic.BaseModel) and hasattr(target, "usage"):
            target.usage = _summed(usages)

    def reask_body(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        raise NotImplementedError

    def delta_text(self, chunk: Any) -> str | None:
        raise NotImplementedError

    def chunk_usage(self, chunk: Any) -> Usage | None:
        return None

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        """Return the pieces of tool calls a streamed chunk carries."""
        return []

    def finish_reason(self, chunk: Any) -> str | None:
        """Return why a streamed answer ended, when this chunk says so."""
        return None

    def substitute(self, parsed: Any, text: str) -> Any:
        """Return a copy of ``parsed`` (openai's own type) whose answer is ``text``; None if unsure."""
        return None


class ChatCompletionsRoute(Route):
    endpoint = "/chat/completions"

    def substitute(self, parsed: Any, text: str) -> Any:
        choices = getattr(parsed, "choices", None)
        if not choices or not hasattr(parsed, "model_copy"):
            return None
        update: dict[str, Any] = {"content": text, "tool_calls": None, "refusal": None}
        if "parsed" in type(choices[0].message).model_fields:
            update["parsed"] = None
        # Every choice answers with the fallback, so a caller of n > 1 keeps its n choices.
        return parsed.model_copy(update={"choices": [
            choice.model_copy(update={"message": choice.message.model_copy(update=update),
                                      "finish_reason": "stop"}) for choice in choices]})

    def request(self, body: Mapping[str, Any]) -> LLMRequest:
        messages = []
        for m in body.get("messages") or ():
            if isinstance(m, Mapping):
                messages.append(Message(str(m.get("role", "")), content_text(m.get("content")),
                                        m.get("name")))
        return LLMRequest(model=str(body.get("model", "")), messages=messages, params=_params(body),
                          tools=_tool_specs(body.get("tools")), endpoint=self.endpoint, body=dict(body))

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
        return LLMResponse(text=text, model=getattr(parsed, "model", "") or "", tool_calls=calls,
                           finish_reason=finish, refusal=refusal,
                           usage=_usage(getattr(parsed, "usage", None)), latency_s=latency_s, raw=parsed)

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        count = len(getattr(parsed, "choices", None) or ())
        return [self.response(parsed, latency_s, i) for i in range(max(1, count))]

    def reask_body(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        new = dict(body)
        assistant: dict[str, Any] = {"role": "assistant", "content": answer.text or ""}
        new["messages"] = [*(body.get("messages") or ()), assistant, {"role": "user", "content": feedback}]
        return new

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
                out.append(ToolDelta((index, tc.index), index, getattr(fn, "name", None) or "",
                                     getattr(fn, "arguments", None) or "", getattr(tc, "id", None)))
            if getattr(choice, "finish_reason", None) is not None:
                # The choice is over: its last call is complete.
                out.append(ToolDelta(None, index, done=True))
        return out

    def finish_reason(self, chunk: Any) -> str | None:
        choices = getattr(chunk, "choices", None)
        return getattr(choices[0], "finish_reason", None) if choices else None


class CompletionsRoute(Route):
    """The legacy text completions endpoint."""

    endpoint = "/completions"

    def request(self, body: Mapping[str, Any]) -> LLMRequest:
        prompt = body.get("prompt")
        text = prompt if isinstance(prompt, str) else "\n".join(p for p in prompt or () if isinstance(p, str))
        return LLMRequest(model=str(body.get("model", "")), messages=[Message("user", text)],
                          params=_params(body), endpoint=self.endpoint, body=dict(body))

    def response(self, parsed: Any, latency_s: float | None, index: int = 0) -> LLMResponse:
        choices = getattr(parsed, "choices", None) or []
        text = (getattr(choices[index], "text", "") or "") if choices else ""
        finish = getattr(choices[index], "finish_reason", None) if choices else None
        return LLMResponse(text=text, model=getattr(parsed, "model", "") or "", finish_reason=finish,
                           usage=_usage(getattr(parsed, "usage", None)), latency_s=latency_s, raw=parsed)

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        count = len(getattr(parsed, "choices", None) or ())
        return [self.response(parsed, latency_s, i) for i in range(max(1, count))]

    def reask_body(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        new = dict(body)
        new["prompt"] = f"{body.get('prompt', '')}{answer.text}\n\n{feedback}\n\n"
        return new

    def delta_text(self, chunk: Any) -> str | None:
        choices = getattr(chunk, "choices", None)
        return getattr(choices[0], "text", None) if choices else None

    def chunk_usage(self, chunk: Any) -> Usage | None:
        return _usage(getattr(chunk, "usage", None))


class ResponsesRoute(Route):
    endpoint = "/responses"

    def substitute(self, parsed: Any, text: str) -> Any:
        if not hasattr(parsed, "model_copy"):
            return None
        from openai.types.responses import ResponseOutputMessage, ResponseOutputText

        message = ResponseOutputMessage(
            id="msg_fallback", type="message", role="assistant", status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])])
        return parsed.model_copy(update={"output": [message]})

    def request(self, body: Mapping[str, Any]) -> LLMRequest:
        messages = []
        if isinstance(body.get("instructions"), str):
            messages.append(Message("system", body["instructions"]))
        items = body.get("input")
        if isinstance(items, str):
            messages.append(Message("user", items))
        elif isinstance(items, (list, tuple)):
            for item in items:
                if not isinstance(item, Mapping):
                    continue
                if item.get("type") in (None, "message") and "role" in item:
                    messages.append(Message(str(item["role"]), content_text(item.get("content"))))
                elif item.get("type") == "function_call_output":
                    messages.append(Message("tool", content_text(item.get("output"))))
        return LLMRequest(model=str(body.get("model", "")), messages=messages, params=_params(body),
                          tools=_tool_specs(body.get("tools")), endpoint=self.endpoint, body=dict(body))

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
                calls.append(ToolCall(getattr(item, "name", ""), getattr(item, "arguments", "") or "",
                                      getattr(item, "call_id", None)))
        status = getattr(parsed, "status", None)
        return LLMResponse(text="".join(parts), model=getattr(parsed, "model", "") or "",
                           tool_calls=calls, finish_reason=status, refusal=refusal,
                           usage=_usage(getattr(parsed, "usage", None)), latency_s=latency_s, raw=parsed)

    def reask_body(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        new = dict(body)
        items = body.get("input")
        history: list[Any] = (
            [{"role": "user", "content": items}] if isinstance(items, str) else list(items or ()))
        history.append({"role": "assistant", "content": answer.text or ""})
        history.append({"role": "user", "content": feedback})
        new["input"] = history
        # A stored previous response would replay the bad answer's context twice.
        new.pop("previous_response_id", None)
        return new

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
            return [ToolDelta(chunk.output_index, None, getattr(item, "name", "") or "",
                              getattr(item, "arguments", "") or "", getattr(item, "call_id", None),
                              done=done, whole=True)]
        if kind == "response.function_call_arguments.delta":
            return [ToolDelta(chunk.output_index, None, arguments=getattr(chunk, "delta", "") or "")]
        if kind == "response.function_call_arguments.done":
            # Complete arguments; the call itself ends with its output_item.done event.
            return [ToolDelta(chunk.output_index, None, arguments=getattr(chunk, "arguments", "") or "",
                              whole=True)]
        return []

    def finish_reason(self, chunk: Any) -> str | None:
        if getattr(chunk, "type", None) in ("response.completed", "response.incomplete", "response.failed"):
            return getattr(getattr(chunk, "response", None), "status", None)
        return None


ROUTES: dict[str, Route] = {
    r.endpoint: r for r in (ChatCompletionsRoute(), ResponsesRoute(), CompletionsRoute())}


def route_for(method: str, url: Any) -> Route | None:
    """Return the route of a generation endpoint, or None for every other call."""
    if method != "post":
        return None
    if isinstance(url, str):
        route = ROUTES.get(url)
        if route is not None or "://" not in url:
            return route
    # A full URL: match on its path's tail (base URLs may carry a prefix such as /v1).
    path = str(getattr(url, "path", url))
    for endpoint, route in ROUTES.items():
        if path.endswith(endpoint) and not path.endswith("/chat" + endpoint):
            return route
    return None
