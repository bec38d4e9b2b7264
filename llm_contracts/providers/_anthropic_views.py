"""How Anthropic's Messages API reads into the neutral views, and how edits go back.

The request side: ``system`` (a string or text blocks) and ``messages`` (string or block
content: text, images, ``tool_use``, ``tool_result``, ``thinking``...) become messages; a
user turn made only of tool results reads as a ``tool`` message answering its first call;
``tools`` with an ``input_schema`` become tool specs. The answer side: text blocks are the
answer's text, ``tool_use`` blocks its tool calls (the input as JSON text), ``thinking``
blocks pass unjudged; stream events (``message_start``, ``content_block_*``,
``message_delta``, ``message_stop``) give text, tool-call and usage deltas.

Nothing here imports ``anthropic``: the SDK loads it only when an Anthropic client is used.
"""

from __future__ import annotations

import json
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
from ._views import BodyRequestView, Place, content_text, rewrite_content, summed, with_text

__all__ = ["MESSAGES", "MESSAGES_RESPONSES", "MODELS"]

_STANDARD = ModelLimits(200_000, 64_000)
# Published limits of Anthropic's models (docs.anthropic.com, "Models overview"); dated
# snapshots (claude-sonnet-4-20250514) take the limits of the name without the date.
MODELS: dict[str, ModelLimits] = {
    "claude-opus-4-5": _STANDARD,
    "claude-sonnet-4-5": _STANDARD,
    "claude-haiku-4-5": _STANDARD,
    "claude-opus-4-1": ModelLimits(200_000, 32_000),
    "claude-opus-4-0": ModelLimits(200_000, 32_000),
    "claude-opus-4": ModelLimits(200_000, 32_000),
    "claude-sonnet-4-0": _STANDARD,
    "claude-sonnet-4": _STANDARD,
    "claude-3-7-sonnet": _STANDARD,
    "claude-3-7-sonnet-latest": _STANDARD,
    "claude-3-5-sonnet": ModelLimits(200_000, 8_192),
    "claude-3-5-sonnet-latest": ModelLimits(200_000, 8_192),
    "claude-3-5-haiku": ModelLimits(200_000, 8_192),
    "claude-3-5-haiku-latest": ModelLimits(200_000, 8_192),
    "claude-3-opus": ModelLimits(200_000, 4_096),
    "claude-3-opus-latest": ModelLimits(200_000, 4_096),
    "claude-3-haiku": ModelLimits(200_000, 4_096),
}

_PARAM_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "stop_sequences",
    "tool_choice",
    "thinking",
    "output_config",
    "metadata",
    "service_tier",
)
_PARAM_SET = frozenset(_PARAM_KEYS)
_ROLES = frozenset({"user", "assistant"})


def model_limits(model: str | None) -> ModelLimits | None:
    """Return the published limits of an Anthropic model (dated snapshots included), or None."""
    if not model:
        return None
    limits = MODELS.get(model)
    if limits is None:
        base, _, tail = model.rpartition("-")
        if base and tail.isdigit() and len(tail) == 8:
            limits = MODELS.get(base)
    return limits


# The types read by attribute (anthropic's models): asking the Mapping ABC about each
# answer, block and usage costs more than reading them. A few dozen at most are kept.
_BY_ATTRIBUTE: set[type] = set()


def _by_attribute(obj: Any) -> bool:
    """Return True for an object read by attribute, False for a Mapping (read by key)."""
    kind = type(obj)
    if kind in _BY_ATTRIBUTE:
        return True
    if kind is dict or isinstance(obj, Mapping):
        return False
    if len(_BY_ATTRIBUTE) < 64:
        _BY_ATTRIBUTE.add(kind)
    return True


def _get(obj: Any, name: str) -> Any:
    """Read a field of an answer that is anthropic's model, or the plain dict of a raw call."""
    return getattr(obj, name, None) if _by_attribute(obj) else obj.get(name)


def _tool_specs(tools: Any) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        # Server tools (web search, code execution...) carry a versioned type and no input_schema.
        if isinstance(tool, Mapping) and isinstance(tool.get("name"), str) and "input_schema" in tool:
            schema = tool.get("input_schema")
            specs.append(
                ToolSpec(
                    tool["name"],
                    dict(schema) if isinstance(schema, Mapping) else None,
                    bool(tool.get("strict")),
                )
            )
    return specs


def _blocks(content: Any, kind: str) -> list[Mapping[str, Any]]:
    if not isinstance(content, (list, tuple)):
        return []
    return [b for b in content if isinstance(b, Mapping) and b.get("type") == kind]


def _tool_calls(content: Any) -> tuple[ToolCall, ...]:
    calls = []
    for block in _blocks(content, "tool_use"):
        name, call_id = block.get("name"), block.get("id")
        calls.append(
            ToolCall(
                name if isinstance(name, str) else "",
                json.dumps(block.get("input", {})),
                None if call_id is None else str(call_id),
            )
        )
    return tuple(calls)


def _only_tool_results(content: Any) -> bool:
    return (
        isinstance(content, (list, tuple))
        and bool(content)
        and all(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content)
    )


def _rewrite_blocks(content: Any, fn: Callable[[str], str]) -> Any:
    """Return ``content`` with ``fn`` run over every text, those inside tool results too."""
    if not isinstance(content, (list, tuple)):
        return rewrite_content(content, fn)
    out = []
    for block in rewrite_content(content, fn):
        if isinstance(block, Mapping) and block.get("type") == "tool_result" and "content" in block:
            block = {**block, "content": rewrite_content(block["content"], fn)}
        out.append(block)
    return out


class MessagesRequestView(BodyRequestView):
    """``/v1/messages`` (and its beta twin): a top-level ``system`` and a list of turns."""

    provider = "anthropic"
    endpoint = "/v1/messages"
    param_specs: Mapping[str, ParamSpec] = {
        "temperature": ParamSpec("temperature", 0.0, 1.0),
        "top_p": ParamSpec("top_p", 0.0, 1.0),
        "max_tokens": ParamSpec("output_tokens", 1),
    }
    list_keys = ("messages",)

    known_models = MODELS

    def model_limits(self, model: str | None) -> ModelLimits | None:
        return model_limits(model)

    def _places(self, body: Mapping[str, Any]) -> Iterator[Place]:
        if isinstance(body.get("system"), (str, list, tuple)):
            yield "system", None
        messages = body.get("messages")
        if isinstance(messages, (list, tuple)):
            for i, m in enumerate(messages):
                if isinstance(m, Mapping):
                    yield "messages", i

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        messages = []
        system = body.get("system")
        if isinstance(system, (str, list, tuple)):
            messages.append(Message("system", content_text(system)))
        items = body.get("messages")
        for m in items if isinstance(items, (list, tuple)) else ():
            if type(m) is not dict and not isinstance(m, Mapping):
                continue
            role, content = str(m.get("role", "")), m.get("content")
            if type(content) is str:  # a plain text turn: no blocks to look through
                messages.append(Message(role, content))
                continue
            call_id = None
            if role == "user" and _only_tool_results(content):
                role = "tool"
                first = _blocks(content, "tool_result")[0].get("tool_use_id")
                call_id = None if first is None else str(first)
            messages.append(Message(role, content_text(content), None, call_id, _tool_calls(content)))
        # A body carries few keys: look for the parameters among them, in _PARAM_KEYS order.
        found = [k for k in body if k in _PARAM_SET]
        if len(found) > 1:
            found = [k for k in _PARAM_KEYS if k in body]
        tools = body.get("tools")
        # Positional, in LLMRequest's field order: this runs on every call.
        return LLMRequest(
            str(body.get("model", "")),
            messages,
            {k: body[k] for k in found},
            [] if tools is None else _tool_specs(tools),
            self.provider,
            self.endpoint,
            dict(body),
            True,
            self,
        )

    def _set_scalar(self, body: dict[str, Any], key: str, text: str) -> None:
        body.update(with_text(body, key, text))  # a system of text blocks keeps its cache_control

    def _dropped_calls(self, request: LLMRequest, drop: frozenset[int]) -> set[str]:
        # A tool_use without its tool_result, or a result without its call, is rejected: both go.
        calls = super()._dropped_calls(request, drop)
        for i in drop:
            if i < len(request.messages):
                calls.update(c.id for c in request.messages[i].tool_calls if c.id)
        return calls

    def _goes_with(self, item: Any, dropped_calls: set[str]) -> bool:
        if not isinstance(item, Mapping) or not dropped_calls:
            return False
        content = item.get("content")
        if any(b.get("id") in dropped_calls for b in _blocks(content, "tool_use")):
            return True
        results = _blocks(content, "tool_result")
        return bool(results) and all(b.get("tool_use_id") in dropped_calls for b in results)

    def _rewrite(
        self, body: Mapping[str, Any], fn: Callable[[str], str], roles: frozenset[str] | None
    ) -> dict[str, Any]:
        new = dict(body)
        if (roles is None or "system" in roles) and "system" in body:
            new["system"] = rewrite_content(body["system"], fn)
        items = body.get("messages")
        if isinstance(items, (list, tuple)):
            out = []
            for item in items:
                if isinstance(item, Mapping):
                    role = (
                        "tool"
                        if item.get("role") == "user" and _only_tool_results(item.get("content"))
                        else item.get("role")
                    )
                    if roles is None or role in roles:
                        item = {**item, "content": _rewrite_blocks(item.get("content"), fn)}
                out.append(item)
            new["messages"] = out
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
                hint = " (the system prompt goes in the top-level system=)" if role == "system" else ""
                out.append(f"{where}.role must be user or assistant (got {role!r}){hint}")
                continue
            content = m.get("content")
            if isinstance(content, (list, tuple)):
                if not content:
                    out.append(f"{where}.content is an empty list")
                for j, block in enumerate(content):
                    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
                        out.append(f"{where}.content[{j}] must be a block with a 'type'")
                    elif block["type"] == "tool_use" and not (
                        block.get("id") and isinstance(block.get("name"), str)
                    ):
                        out.append(f"{where}.content[{j}] is a tool_use without its id or name")
                    elif block["type"] == "tool_result" and not block.get("tool_use_id"):
                        out.append(f"{where}.content[{j}] is a tool_result without its tool_use_id")
            elif not isinstance(content, str):
                out.append(
                    f"{where}.content must be a string or a list of content blocks "
                    f"(got {type(content).__name__})"
                )
        return out

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        # Every tool_use of the rejected turn needs its tool_result in the next user turn.
        turn: list[dict[str, Any]] = [
            {
                "type": "tool_result",
                "tool_use_id": call.id,
                "is_error": True,
                "content": "This call was rejected; see below.",
            }
            for call in answer.tool_calls
            if call.id
        ]
        turn.append({"type": "text", "text": feedback})
        history = [
            *(body.get("messages") or ()),
            {"role": "assistant", "content": _assistant_blocks(answer)},
            {"role": "user", "content": turn},
        ]
        return {**body, "messages": history}


def _assistant_blocks(answer: LLMResponse) -> list[dict[str, Any]]:
    """Return the rejected answer as request blocks (its thinking kept, with its signature)."""
    blocks: list[dict[str, Any]] = []
    content = _get(answer.raw, "content") if answer.raw is not None else None
    if isinstance(content, (list, tuple)):
        for block in content:
            kind = _get(block, "type")
            if kind == "text" and _get(block, "text"):
                blocks.append({"type": "text", "text": _get(block, "text")})
            elif kind == "tool_use":
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": _get(block, "id"),
                        "name": _get(block, "name"),
                        "input": _get(block, "input") or {},
                    }
                )
            elif kind == "thinking":
                blocks.append(
                    {
                        "type": "thinking",
                        "thinking": _get(block, "thinking"),
                        "signature": _get(block, "signature"),
                    }
                )
            elif kind == "redacted_thinking":
                blocks.append({"type": "redacted_thinking", "data": _get(block, "data")})
    else:
        if answer.text:
            blocks.append({"type": "text", "text": answer.text})
        for call in answer.tool_calls:
            try:
                arguments = call.parsed_arguments()
            except ValueError:
                arguments = {}
            blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    # Anthropic rejects an assistant turn without content.
    return blocks or [{"type": "text", "text": "(empty answer)"}]


# -- the answer side ----------------------------------------------------------------------------------


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    get = getattr if _by_attribute(usage) else _key
    # input_tokens leaves out the tokens read from or written to the prompt cache.
    prompt = (
        int(get(usage, "input_tokens", None) or 0)
        + int(get(usage, "cache_creation_input_tokens", None) or 0)
        + int(get(usage, "cache_read_input_tokens", None) or 0)
    )
    return Usage(prompt, int(get(usage, "output_tokens", None) or 0))


def _key(obj: Mapping[str, Any], name: str, default: Any) -> Any:
    return obj.get(name, default)


class MessagesResponseView:
    """Anthropic's ``Message`` (or ``BetaMessage``) and its stream events."""

    def response(self, parsed: Any, latency_s: float | None) -> LLMResponse:
        parts: list[str] = []
        calls: list[ToolCall] = []
        get = getattr if _by_attribute(parsed) else _key
        for block in get(parsed, "content", None) or ():
            block_get = getattr if type(block) in _BY_ATTRIBUTE or _by_attribute(block) else _key
            kind = block_get(block, "type", None)
            if kind == "text":
                parts.append(block_get(block, "text", None) or "")
            elif kind == "tool_use":
                call_id = block_get(block, "id", None)
                calls.append(
                    ToolCall(
                        block_get(block, "name", None) or "",
                        json.dumps(block_get(block, "input", None) or {}),
                        None if call_id is None else str(call_id),
                    )
                )
        # Text blocks split around citations; a stream's deltas join with nothing between them.
        text = "".join(parts)
        stop = get(parsed, "stop_reason", None)
        return LLMResponse(
            text=text,
            model=get(parsed, "model", None) or "",
            tool_calls=calls,
            finish_reason=stop,
            refusal=(text or "refused") if stop == "refusal" else None,
            usage=_usage(get(parsed, "usage", None)),
            latency_s=latency_s,
            raw=parsed,
        )

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        return [self.response(parsed, latency_s)]

    def substitute(self, parsed: Any, text: str) -> Any:
        fields = getattr(type(parsed), "model_fields", None)
        if not fields or "content" not in fields:
            return None
        from anthropic._models import construct_type

        content = construct_type(
            type_=fields["content"].annotation, value=[{"type": "text", "text": text, "citations": None}]
        )
        return parsed.model_copy(update={"content": content, "stop_reason": "end_turn"})

    def sum_usage(self, target: Any, attempts: Sequence[Any]) -> None:
        usages = [u for u in (getattr(a, "usage", None) for a in attempts) if u is not None]
        if len(usages) > 1 and hasattr(target, "model_copy") and hasattr(target, "usage"):
            target.usage = summed(usages)

    def delta_text(self, chunk: Any) -> str | None:
        if getattr(chunk, "type", None) == "content_block_delta":
            delta = chunk.delta
            if getattr(delta, "type", None) == "text_delta":
                return delta.text  # type: ignore[no-any-return]
        return None

    def chunk_usage(self, chunk: Any) -> Usage | None:
        kind = getattr(chunk, "type", None)
        if kind == "message_start":
            return _usage(getattr(chunk.message, "usage", None))
        if kind == "message_delta":
            # Output tokens so far; the prompt's count came with message_start (and is kept).
            return _usage(getattr(chunk, "usage", None))
        return None

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        # One call per content block: the block's index is the call and its group, so the
        # stop of a block completes its call and the stop of a text block completes nothing.
        kind = getattr(chunk, "type", None)
        if kind == "content_block_start":
            block = chunk.content_block
            if getattr(block, "type", None) != "tool_use":
                return []
            return [
                ToolDelta(
                    chunk.index, chunk.index, getattr(block, "name", "") or "", "", getattr(block, "id", None)
                )
            ]
        if kind == "content_block_delta":
            delta = chunk.delta
            if getattr(delta, "type", None) == "input_json_delta":
                return [
                    ToolDelta(chunk.index, chunk.index, arguments=getattr(delta, "partial_json", "") or "")
                ]
            return []
        if kind == "content_block_stop":
            return [ToolDelta(None, chunk.index)]
        return []

    def finish_reason(self, chunk: Any) -> str | None:
        if getattr(chunk, "type", None) == "message_delta":
            return getattr(chunk.delta, "stop_reason", None)
        return None


MESSAGES = MessagesRequestView()
MESSAGES_RESPONSES = MessagesResponseView()
