"""How each OpenAI generation endpoint's request body maps to ``LLMRequest``, and back.

Reading: the body's messages, parameters and tools become the neutral view contracts
judge. Writing: the edits of input fixes (dropped messages, new texts, a rewrite of every
text part, changed parameters) go into a copy of the body, in the endpoint's own shapes:
a trimmed message keeps its images, a dropped Responses tool output takes its function
call along. The re-ask turn is written here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..contracts._types import LLMRequest, LLMResponse, Message, ParamSpec, ToolCall, ToolSpec
from ._views import BodyRequestView, Place, content_text, rewrite_content

__all__ = ["CHAT", "COMPLETIONS", "RESPONSES", "content_text"]


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


def _tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    if not isinstance(calls, (list, tuple)):
        return ()
    out = []
    for call in calls:
        if not isinstance(call, Mapping):
            continue
        fn = call.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        arguments = fn.get("arguments") if isinstance(fn, Mapping) else None
        call_id = call.get("id")
        out.append(
            ToolCall(
                name if isinstance(name, str) else "",
                arguments if isinstance(arguments, str) else "",
                None if call_id is None else str(call_id),
            )
        )
    return tuple(out)


_PARAM_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "seed",
    "stop",
    "tool_choice",
    "text",
    "reasoning",
)
_PARAMS = frozenset(_PARAM_KEYS)


def _param_specs(*, chat: bool) -> dict[str, ParamSpec]:
    return {
        "temperature": ParamSpec("temperature", 0.0, 2.0),
        "top_p": ParamSpec("top_p", 0.0, 1.0),
        "presence_penalty": ParamSpec("penalty", -2.0, 2.0),
        "frequency_penalty": ParamSpec("penalty", -2.0, 2.0),
        "n": ParamSpec("choices", 1),
        # Chat completions refuse max_tokens for reasoning models: they take max_completion_tokens.
        "max_tokens": ParamSpec("output_tokens", 1, reasoning_name="max_completion_tokens" if chat else None),
        "max_completion_tokens": ParamSpec("output_tokens", 1),
        "max_output_tokens": ParamSpec("output_tokens", 1),
    }


# -- writing edits into a body ------------------------------------------------------------------------


def _item_role(item: Mapping[str, Any]) -> str | None:
    if item.get("type") == "function_call_output":
        return "tool"
    role = item.get("role")
    return role if isinstance(role, str) else None


def _rewrite_body(
    body: Mapping[str, Any], fn: Callable[[str], str], roles: frozenset[str] | None
) -> dict[str, Any]:
    """Return a copy of ``body`` with ``fn`` run over every text of the messages of ``roles`` (all: None)."""

    def wanted(role: str | None) -> bool:
        return roles is None or role in roles

    new = dict(body)
    if isinstance(body.get("instructions"), str) and wanted("system"):
        new["instructions"] = fn(body["instructions"])
    prompt = body.get("prompt")
    if wanted("user"):
        if isinstance(prompt, str):
            new["prompt"] = fn(prompt)
        elif isinstance(prompt, list):
            new["prompt"] = [fn(p) if isinstance(p, str) else p for p in prompt]
    for key in ("messages", "input"):
        items = body.get(key)
        if isinstance(items, str):
            if wanted("user"):
                new[key] = fn(items)
        elif isinstance(items, (list, tuple)):
            out = []
            for item in items:
                if isinstance(item, Mapping) and wanted(_item_role(item)):
                    item = dict(item)
                    for name in ("content", "output"):
                        if name in item:
                            item[name] = rewrite_content(item[name], fn)
                out.append(item)
            new[key] = out
    return new


class _OpenAIRequestView(BodyRequestView):
    """What the three endpoints share: edits are made to the body, then the body is read again."""

    provider = "openai"
    endpoint = ""
    param_specs: Mapping[str, ParamSpec] = _param_specs(chat=False)
    list_keys = ("messages", "input")

    def _request(self, body: Mapping[str, Any], messages: list[Message], *, chat: bool = True) -> LLMRequest:
        # The legacy completions endpoint takes no tools.
        tools = body.get("tools") if chat else None
        model = body.get("model", "")
        # Positional, in LLMRequest's field order: this runs on every call.
        return LLMRequest(
            model if type(model) is str else str(model),
            messages,
            # A body has a few keys and there are many parameters: walk the body.
            {k: v for k, v in body.items() if k in _PARAMS},
            _tool_specs(tools) if tools else [],
            self.provider,
            self.endpoint,
            dict(body),
            chat,
            self,
        )

    def _rewrite(
        self, body: Mapping[str, Any], fn: Callable[[str], str], roles: frozenset[str] | None
    ) -> dict[str, Any]:
        return _rewrite_body(body, fn, roles)


_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class ChatCompletionsRequestView(_OpenAIRequestView):
    """``/chat/completions``: a list of messages with string or content-part content."""

    endpoint = "/chat/completions"
    param_specs = _param_specs(chat=True)

    def _places(self, body: Mapping[str, Any]) -> Iterator[Place]:
        messages = body.get("messages")
        if isinstance(messages, (list, tuple)):
            for i, m in enumerate(messages):
                if isinstance(m, Mapping):
                    yield "messages", i

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        # The same messages as _places walks, read in one pass: this runs on every call.
        messages = []
        items = body.get("messages")
        for m in items if isinstance(items, (list, tuple)) else ():
            if type(m) is not dict and not isinstance(m, Mapping):  # the ABC check costs 10x
                continue
            name, call_id, calls = m.get("name"), m.get("tool_call_id"), m.get("tool_calls")
            role, content = m.get("role", ""), m.get("content")
            messages.append(
                Message(
                    role if type(role) is str else str(role),
                    content if type(content) is str else content_text(content),
                    name if isinstance(name, str) else None,
                    None if call_id is None else str(call_id),
                    _tool_calls(calls) if calls else (),
                )
            )
        return self._request(body, messages)

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        new = dict(body)
        assistant: dict[str, Any] = {"role": "assistant", "content": answer.text or ""}
        new["messages"] = [*(body.get("messages") or ()), assistant, {"role": "user", "content": feedback}]
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
                out.append(f"{where}.role must be one of {', '.join(sorted(_ROLES))} (got {role!r})")
                continue
            content = m.get("content")
            if content is None:
                if not (
                    role == "assistant"
                    and (m.get("tool_calls") or m.get("function_call") or m.get("refusal") or m.get("audio"))
                ):
                    out.append(f"{where}.content is missing")
            elif isinstance(content, (list, tuple)):
                if not content:
                    out.append(f"{where}.content is an empty list")
                for j, part in enumerate(content):
                    if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                        out.append(f"{where}.content[{j}] must be an object with a 'type'")
            elif not isinstance(content, str):
                out.append(
                    f"{where}.content must be a string or a list of content parts "
                    f"(got {type(content).__name__})"
                )
            if role == "tool" and not (isinstance(m.get("tool_call_id"), str) and m["tool_call_id"]):
                out.append(f"{where} is a tool result without its tool_call_id")
            calls = m.get("tool_calls") or ()
            for j, call in enumerate(calls if isinstance(calls, (list, tuple)) else [calls]):
                fn = call.get("function") if isinstance(call, Mapping) else None
                if not (
                    isinstance(call, Mapping)
                    and call.get("id")
                    and isinstance(fn, Mapping)
                    and isinstance(fn.get("name"), str)
                ):
                    out.append(f"{where}.tool_calls[{j}] needs an id and a function name")
            name = m.get("name")
            if name is not None and not isinstance(name, str):
                out.append(f"{where}.name must be a string")
        return out


class CompletionsRequestView(_OpenAIRequestView):
    """The legacy ``/completions``: one text prompt (a list of prompts is read as one)."""

    endpoint = "/completions"

    def _places(self, body: Mapping[str, Any]) -> Iterator[Place]:
        yield "prompt", None

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        prompt = body.get("prompt")
        text = prompt if isinstance(prompt, str) else "\n".join(p for p in prompt or () if isinstance(p, str))
        return self._request(body, [Message("user", text)], chat=False)

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        new = dict(body)
        new["prompt"] = f"{body.get('prompt', '')}{answer.text}\n\n{feedback}\n\n"
        return new


class ResponsesRequestView(_OpenAIRequestView):
    """``/responses``: ``instructions`` plus an ``input`` string or list of items."""

    endpoint = "/responses"

    def _places(self, body: Mapping[str, Any]) -> Iterator[Place]:
        if isinstance(body.get("instructions"), str):
            yield "instructions", None
        items = body.get("input")
        if isinstance(items, str):
            yield "input", None
        elif isinstance(items, (list, tuple)):
            for i, item in enumerate(items):
                if isinstance(item, Mapping) and (
                    (item.get("type") in (None, "message") and "role" in item)
                    or item.get("type") == "function_call_output"
                ):
                    yield "input", i

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        messages = []
        for key, i in self._places(body):
            if key == "instructions":
                messages.append(Message("system", body["instructions"]))
            elif i is None:
                messages.append(Message("user", body["input"]))
            else:
                item = body["input"][i]
                if item.get("type") == "function_call_output":
                    call_id = item.get("call_id")
                    messages.append(
                        Message(
                            "tool",
                            content_text(item.get("output")),
                            tool_call_id=None if call_id is None else str(call_id),
                        )
                    )
                else:
                    messages.append(Message(str(item["role"]), content_text(item.get("content"))))
        return self._request(body, messages)

    def _text_key(self, item: Mapping[str, Any]) -> str:
        return "output" if item.get("type") == "function_call_output" else "content"

    def _goes_with(self, item: Any, dropped_calls: set[str]) -> bool:
        # A function call whose output was dropped would be rejected unanswered.
        return (
            isinstance(item, Mapping)
            and item.get("type") == "function_call"
            and item.get("call_id") in dropped_calls
        )

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        new = dict(body)
        items = body.get("input")
        history: list[Any] = (
            [{"role": "user", "content": items}] if isinstance(items, str) else list(items or ())
        )
        history.append({"role": "assistant", "content": answer.text or ""})
        history.append({"role": "user", "content": feedback})
        new["input"] = history
        # A stored previous response would replay the bad answer's context twice.
        new.pop("previous_response_id", None)
        return new


CHAT = ChatCompletionsRequestView()
COMPLETIONS = CompletionsRequestView()
RESPONSES = ResponsesRequestView()
