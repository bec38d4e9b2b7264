"""How Cohere's v2 Chat API reads into the neutral views, and how edits go back.

The request side: ``messages`` (``system`` / ``user`` / ``assistant`` / ``tool`` turns,
string or text-part content; an assistant's ``tool_calls``, a tool turn's
``tool_call_id``) become messages; ``tools`` of type ``function`` become tool specs. The
answer side: the text parts of ``message.content`` are the answer's text (``thinking``
parts pass unjudged), ``message.tool_calls`` its tool calls; stream events
(``message-start``, ``content-delta``, ``tool-call-start`` / ``-delta`` / ``-end``,
``message-end``) give text, tool-call, finish-reason and usage deltas.

Nothing here imports ``cohere``: the SDK loads it only when a Cohere client is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..contracts._limits import ModelLimits
from ..contracts._types import (
    LLMRequest,
    LLMResponse,
    Message,
    ParamSpec,
    ToolCall,
    ToolDelta,
    ToolSpec,
    Usage,
)
from ._views import BodyRequestView, Place, content_text, rewrite_content

__all__ = ["CHAT", "CHAT_RESPONSES", "MODELS", "summed_usage"]

_COMMAND_R = ModelLimits(128_000, 4_000)
# Published limits of Cohere's chat models (docs.cohere.com, "Models overview"). Cohere
# dates a model in its name (command-r-08-2024): each dated name is listed as published.
MODELS: dict[str, ModelLimits] = {
    "command-a-03-2025": ModelLimits(256_000, 8_000),
    "command-a-reasoning-08-2025": ModelLimits(256_000, 32_000),
    "command-a-vision-07-2025": ModelLimits(128_000, 8_000),
    "command-r7b-12-2024": _COMMAND_R,
    "command-r-plus-08-2024": _COMMAND_R,
    "command-r-plus-04-2024": _COMMAND_R,
    "command-r-plus": _COMMAND_R,
    "command-r-08-2024": _COMMAND_R,
    "command-r-03-2024": _COMMAND_R,
    "command-r": _COMMAND_R,
}

_PARAM_KEYS = (
    "temperature",
    "p",
    "k",
    "max_tokens",
    "stop_sequences",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
    "safety_mode",
    "tool_choice",
    "strict_tools",
    "thinking",
)
_PARAM_SET = frozenset(_PARAM_KEYS)
_ROLES = frozenset({"system", "user", "assistant", "tool"})


def _get(obj: Any, name: str) -> Any:
    """Read a field of cohere's model, or of the plain dict of a raw answer or stream event."""
    if type(obj) is dict:  # the JSON the HTTP layer reads: no need to ask the Mapping ABC
        return obj.get(name)
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _tool_specs(tools: Any) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            schema = function.get("parameters")
            specs.append(ToolSpec(function["name"], dict(schema) if isinstance(schema, Mapping) else None))
    return specs


def _tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    out = []
    for call in calls if isinstance(calls, (list, tuple)) else ():
        function = _get(call, "function")
        name = _get(function, "name") if function is not None else None
        arguments = _get(function, "arguments") if function is not None else None
        call_id = _get(call, "id")
        out.append(
            ToolCall(
                name if isinstance(name, str) else "",
                arguments if isinstance(arguments, str) else "{}",
                None if call_id is None else str(call_id),
            )
        )
    return tuple(out)


class ChatRequestView(BodyRequestView):
    """``/v2/chat``: one list of turns, the system prompt among them."""

    provider = "cohere"
    endpoint = "/v2/chat"
    # The ranges of Cohere's v2 chat reference: temperature is "a non-negative float".
    param_specs: Mapping[str, ParamSpec] = {
        "temperature": ParamSpec("temperature", 0.0),
        "p": ParamSpec("top_p", 0.01, 0.99),
        "frequency_penalty": ParamSpec("penalty", 0.0, 1.0),
        "presence_penalty": ParamSpec("penalty", 0.0, 1.0),
        "max_tokens": ParamSpec("output_tokens", 1),
    }
    list_keys = ("messages",)

    known_models = MODELS

    def model_limits(self, model: str | None) -> ModelLimits | None:
        """Return the published limits of a Cohere model (None for a model not in the table)."""
        return MODELS.get(model) if model else None

    def _places(self, body: Mapping[str, Any]) -> Iterator[Place]:
        messages = body.get("messages")
        if isinstance(messages, (list, tuple)):
            for i, m in enumerate(messages):
                if isinstance(m, Mapping):
                    yield "messages", i

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        messages = []
        items = body.get("messages")
        for m in items if isinstance(items, (list, tuple)) else ():
            if type(m) is not dict and not isinstance(m, Mapping):
                continue
            call_id = m.get("tool_call_id")
            content = m.get("content")
            calls = m.get("tool_calls")
            messages.append(
                Message(
                    str(m.get("role", "")),
                    content if type(content) is str else content_text(content),
                    None,
                    None if call_id is None else str(call_id),
                    () if calls is None else _tool_calls(calls),
                )
            )
        tools = body.get("tools")
        return LLMRequest(
            model=str(body.get("model", "")),
            messages=messages,
            # Most bodies carry none of the parameters: one pass over their few keys says so.
            params={} if _PARAM_SET.isdisjoint(body) else {k: body[k] for k in _PARAM_KEYS if k in body},
            tools=[] if tools is None else _tool_specs(tools),
            provider=self.provider,
            endpoint=self.endpoint,
            body=dict(body),
            view=self,
        )

    def _dropped_calls(self, request: LLMRequest, drop: frozenset[int]) -> set[str]:
        # A tool call without its result, or a result without its call, is rejected: both go.
        calls = super()._dropped_calls(request, drop)
        for i in drop:
            if i < len(request.messages):
                calls.update(c.id for c in request.messages[i].tool_calls if c.id)
        return calls

    def _goes_with(self, item: Any, dropped_calls: set[str]) -> bool:
        if not isinstance(item, Mapping) or not dropped_calls:
            return False
        if item.get("tool_call_id") in dropped_calls:
            return True
        return any(c.id in dropped_calls for c in _tool_calls(item.get("tool_calls")))

    def _rewrite(
        self, body: Mapping[str, Any], fn: Callable[[str], str], roles: frozenset[str] | None
    ) -> dict[str, Any]:
        new = dict(body)
        items = body.get("messages")
        if isinstance(items, (list, tuple)):
            new["messages"] = [
                {**item, "content": rewrite_content(item.get("content"), fn)}
                if isinstance(item, Mapping) and (roles is None or item.get("role") in roles)
                else item
                for item in items
            ]
        return new

    def message_problems(self, request: LLMRequest) -> list[str]:
        body = request.body
        if "messages" not in body:
            return []
        messages = body["messages"]
        if not isinstance(messages, (list, tuple)) or not messages:
            return ["messages must be a non-empty list"]
        out: list[str] = []
        for i, m in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(m, Mapping):
                out.append(f"{where} must be an object with a role and content (got {type(m).__name__})")
                continue
            role = m.get("role")
            if role not in _ROLES:
                out.append(f"{where}.role must be system, user, assistant or tool (got {role!r})")
            elif role == "tool" and not m.get("tool_call_id"):
                out.append(f"{where} is a tool turn without its tool_call_id")
        return out

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        assistant: dict[str, Any] = {"role": "assistant"}
        if answer.tool_calls:
            assistant["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in answer.tool_calls
            ]
            plan = _get(_get(answer.raw, "message"), "tool_plan") if answer.raw is not None else None
            if plan:
                assistant["tool_plan"] = plan
        if answer.text or not answer.tool_calls:
            assistant["content"] = answer.text or "(empty answer)"
        # Every tool call of the rejected turn needs its result before the next user turn.
        results = [
            {"role": "tool", "tool_call_id": call.id, "content": "This call was rejected; see below."}
            for call in answer.tool_calls
            if call.id
        ]
        history = [*(body.get("messages") or ()), assistant, *results, {"role": "user", "content": feedback}]
        return {**body, "messages": history}


# -- the answer side ----------------------------------------------------------------------------------


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    # tokens: what the model read and wrote; billed_units leaves out the prompt template.
    if type(usage) is dict:
        counts = usage.get("tokens") or usage.get("billed_units")
    else:
        counts = _get(usage, "tokens") or _get(usage, "billed_units")
    if counts is None:
        return None
    if type(counts) is dict:
        return Usage(int(counts.get("input_tokens") or 0), int(counts.get("output_tokens") or 0))
    return Usage(int(_get(counts, "input_tokens") or 0), int(_get(counts, "output_tokens") or 0))


def summed_usage(usages: Sequence[Any]) -> Any:
    """Return the last of ``usages`` (JSON objects) with every count summed over all of them."""
    last = usages[-1]
    if not isinstance(last, Mapping):
        return last
    out: dict[str, Any] = {}
    for key, value in last.items():
        values = [u.get(key) for u in usages if isinstance(u, Mapping) and u.get(key) is not None]
        if isinstance(value, Mapping):
            out[key] = summed_usage(values)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[key] = sum(values)
        else:
            out[key] = value
    return out


def _delta_message(chunk: Any) -> Any:
    delta = _get(chunk, "delta")
    return _get(delta, "message") if delta is not None else None


class ChatResponseView:
    """Cohere's v2 chat answer (``V2ChatResponse`` or its JSON) and its stream events."""

    def response(self, parsed: Any, latency_s: float | None) -> LLMResponse:
        if type(parsed) is dict:  # the JSON the HTTP layer reads, as on almost every call
            message, stop = parsed.get("message"), parsed.get("finish_reason")
            model, usage = parsed.get("model"), parsed.get("usage")
        else:
            message, stop = _get(parsed, "message"), _get(parsed, "finish_reason")
            model, usage = _get(parsed, "model"), _get(parsed, "usage")
        if type(message) is dict:
            content, calls = message.get("content"), message.get("tool_calls")
        elif message is not None:
            content, calls = _get(message, "content"), _get(message, "tool_calls")
        else:
            content = calls = None
        parts = []
        for part in content or ():
            if type(part) is dict:
                if part.get("type") == "text":
                    parts.append(part.get("text") or "")
            elif _get(part, "type") == "text":
                parts.append(_get(part, "text") or "")
        return LLMResponse(
            text="".join(parts),
            model=str(model or ""),
            tool_calls=[] if calls is None else list(_tool_calls(calls)),
            finish_reason=None if stop is None else str(stop),
            usage=_usage(usage),
            latency_s=latency_s,
            raw=parsed,
        )

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        return [self.response(parsed, latency_s)]

    def substitute(self, parsed: Any, text: str) -> Any:
        """Return the answer's JSON with the declared fallback ``text`` as its only content."""
        if not isinstance(parsed, Mapping):
            return None
        message = {"role": "assistant", "content": [{"type": "text", "text": text}]}
        return {**parsed, "message": message, "finish_reason": "COMPLETE"}

    def sum_usage(self, target: Any, attempts: Sequence[Any]) -> None:
        """Make ``target`` (the kept answer's JSON) carry the usage summed over ``attempts``."""
        usages = [a.get("usage") for a in attempts if isinstance(a, Mapping) and a.get("usage") is not None]
        if len(usages) > 1 and isinstance(target, dict):
            target["usage"] = summed_usage(usages)

    def delta_text(self, chunk: Any) -> str | None:
        if _get(chunk, "type") != "content-delta":
            return None
        content = _get(_delta_message(chunk), "content")
        text = _get(content, "text") if content is not None else None
        return text if isinstance(text, str) else None  # a thinking delta is not the answer

    def chunk_usage(self, chunk: Any) -> Usage | None:
        if _get(chunk, "type") != "message-end":
            return None
        return _usage(_get(_get(chunk, "delta"), "usage"))

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        # One call per tool-call index; tool-call-end completes it.
        kind = _get(chunk, "type")
        index = _get(chunk, "index")
        if kind in ("tool-call-start", "tool-call-delta"):
            call = _get(_delta_message(chunk), "tool_calls")
            function = _get(call, "function") if call is not None else None
            arguments = _get(function, "arguments") if function is not None else None
            if kind == "tool-call-delta":
                return [ToolDelta(index, 0, arguments=arguments or "")]
            return [
                ToolDelta(
                    index,
                    0,
                    (_get(function, "name") if function is not None else "") or "",
                    arguments or "",
                    call_id=_get(call, "id"),
                )
            ]
        if kind == "tool-call-end":
            return [ToolDelta(None, 0)]
        return []

    def finish_reason(self, chunk: Any) -> str | None:
        if _get(chunk, "type") != "message-end":
            return None
        reason = _get(_get(chunk, "delta"), "finish_reason")
        return None if reason is None else str(reason)


CHAT = ChatRequestView()
CHAT_RESPONSES = ChatResponseView()
