"""Provider-neutral views of a request and a response, which contracts judge.

Contracts see only these types. Each provider reads its own wire format into them and
writes input fixes back through a :class:`RequestView` (the request side: body in,
``LLMRequest`` out, edits back into the body, the re-ask turn) and a
:class:`ResponseView` (the answer side: a response or a stream chunk in, ``LLMResponse``
and deltas out). Nothing outside a provider reads or writes a provider's body.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from typing import Any, Final, Protocol

from .._dataclass import dataclass


@dataclass(slots=True)
class ToolCall:
    """A tool call the model asked for; ``arguments`` is the raw JSON text the model wrote."""

    name: str
    arguments: str
    id: str | None = None

    def parsed_arguments(self) -> Any:
        """Return the arguments decoded from JSON; raise ``ValueError`` when they are not JSON."""
        return json.loads(self.arguments) if self.arguments else {}


@dataclass(slots=True)
class Message:
    """One message of a conversation, reduced to its role and its text.

    ``content`` is the text of the message's text parts, joined by newlines (images and
    other parts are left to the provider). An assistant message lists the ``tool_calls``
    it made; a tool result names the call it answers in ``tool_call_id``.
    """

    role: str
    content: str
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(slots=True)
class ToolSpec:
    """A tool the request offers the model: its name and its parameters' JSON Schema."""

    name: str
    parameters: dict[str, Any] | None = None
    strict: bool = False


@dataclass(slots=True)
class Usage:
    """Token usage of one or more model calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage | None) -> None:
        """Add ``other`` to this usage in place."""
        if other is not None:
            self.prompt_tokens += other.prompt_tokens
            self.completion_tokens += other.completion_tokens


# -- what a provider says about its parameters, and the edits input fixes make ----------------------


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """What one request parameter means and which values its provider accepts.

    ``meaning`` is ``"temperature"``, ``"top_p"``, ``"penalty"``, ``"choices"`` (how many
    answers) or ``"output_tokens"`` (a cap on the answer's length). ``low`` / ``high``
    bound a number. ``reasoning_name``: reasoning models take this parameter under that
    name instead.
    """

    meaning: str
    low: float | None = None
    high: float | None = None
    reasoning_name: str | None = None


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""The value of a parameter edit that removes the parameter."""


@dataclass(frozen=True, slots=True)
class RequestEdit:
    """The changes an input contract makes to a request, in neutral terms.

    Applied in this order: the messages at the ``drop`` indexes go (a provider also drops
    what cannot stand without them, such as the call a dropped tool result answered);
    ``texts`` replace the text of messages by index (their non-text parts stay);
    ``rewrite`` runs over every text part of the messages of ``roles`` (None: all);
    ``params`` set parameters, or remove those set to :data:`DROP`.
    """

    drop: frozenset[int] = frozenset()
    texts: Mapping[int, str] = field(default_factory=dict)
    rewrite: Callable[[str], str] | None = None
    roles: frozenset[str] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


class RequestView(Protocol):
    """How a provider reads its request body and writes input fixes back into it."""

    @property
    def provider(self) -> str:
        """Return the provider's name, as reports and spans carry it."""
        ...

    @property
    def endpoint(self) -> str:
        """Return the endpoint whose bodies this view reads."""
        ...

    @property
    def param_specs(self) -> Mapping[str, ParamSpec]:
        """Return what each request parameter means, in the order a contract checks them."""
        ...

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        """Return the neutral view of ``body`` (which stays the request's ``body``)."""
        ...

    def apply(self, request: LLMRequest, edit: RequestEdit) -> LLMRequest:
        """Return ``request`` with ``edit`` made to a copy of its body (the caller's dicts stay)."""
        ...

    def message_problems(self, request: LLMRequest) -> list[str]:
        """Return what the provider would reject in the shape of the request's messages."""
        ...

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        """Return ``body`` with the rejected ``answer`` and the ``feedback`` appended as new turns."""
        ...


@dataclass(frozen=True, slots=True)
class ToolDelta:
    """A piece of a streamed tool call, as a response view reads it from one chunk.

    ``key`` names the call (None: every open call of ``group`` is complete). A new call
    of a ``group`` (a chat choice) completes the open calls of that group, since they
    stream one after another. ``whole`` marks ``name``/``arguments`` as complete values
    rather than pieces to append.
    """

    key: Any
    group: Any = None
    name: str = ""
    arguments: str = ""
    call_id: str | None = None
    done: bool = False
    whole: bool = False


class ResponseView(Protocol):
    """How a provider reads its answers (whole, or chunk by chunk) into neutral views."""

    def response(self, parsed: Any, latency_s: float | None) -> LLMResponse:
        """Return the view of the answer's first choice."""
        ...

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        """Return one view per choice of the answer; the first is :meth:`response`'s."""
        ...

    def substitute(self, parsed: Any, text: str) -> Any:
        """Return a copy of ``parsed`` (the provider's own type) answering ``text``; None if unsure."""
        ...

    def sum_usage(self, target: Any, attempts: Sequence[Any]) -> None:
        """Set ``target``'s own usage to the usage summed over ``attempts``."""
        ...

    def delta_text(self, chunk: Any) -> str | None:
        """Return the answer text a streamed chunk adds."""
        ...

    def chunk_usage(self, chunk: Any) -> Usage | None:
        """Return the usage a streamed chunk reports."""
        ...

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        """Return the pieces of tool calls a streamed chunk carries."""
        ...

    def finish_reason(self, chunk: Any) -> str | None:
        """Return why a streamed answer ended, when this chunk says so."""
        ...


# -- the neutral request and response ----------------------------------------------------------------


@dataclass(slots=True)
class LLMRequest:
    """What is about to be sent to the model.

    ``body`` is the provider's own request body, for the provider alone: contracts read
    the neutral fields and change a request with :meth:`edited`, which the request's
    ``view`` (its provider's :class:`RequestView`) writes into a new body. ``chat`` is
    False for a single text prompt (billed without per-message overheads).
    """

    model: str
    messages: list[Message]
    params: dict[str, Any] = field(default_factory=dict)
    tools: list[ToolSpec] = field(default_factory=list)
    provider: str = "openai"
    endpoint: str = "/chat/completions"
    body: dict[str, Any] = field(default_factory=dict)
    chat: bool = True
    view: RequestView | None = field(default=None, repr=False, compare=False)

    @property
    def prompt_text(self) -> str:
        """Return every message's text joined by newlines."""
        return "\n".join(m.content for m in self.messages)

    @property
    def user_text(self) -> str:
        """Return the text of the user messages only."""
        return "\n".join(m.content for m in self.messages if m.role == "user")

    @property
    def param_specs(self) -> Mapping[str, ParamSpec]:
        """Return what the request's parameters mean to its provider, by parameter name."""
        return (self.view or PLAIN_VIEW).param_specs

    def message_problems(self) -> list[str]:
        """Return what the provider would reject in the shape of the messages."""
        return (self.view or PLAIN_VIEW).message_problems(self)

    def edited(
        self,
        *,
        drop: Iterable[int] = (),
        texts: Mapping[int, str] | None = None,
        rewrite: Callable[[str], str] | None = None,
        roles: frozenset[str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> LLMRequest:
        """Return a copy of this request with the edits made (see :class:`RequestEdit`)."""
        edit = RequestEdit(
            frozenset(drop),
            dict(texts or {}),
            rewrite,
            None if roles is None else frozenset(roles),
            dict(params or {}),
        )
        return (self.view or PLAIN_VIEW).apply(self, edit)


@dataclass(slots=True)
class LLMResponse:
    """What the model answered, reduced to what contracts look at."""

    text: str
    model: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    refusal: str | None = None
    usage: Usage | None = None
    latency_s: float | None = None
    # The provider's own response object, for contracts that need more.
    raw: Any = None


# -- a request with no provider: the neutral dict form ------------------------------------------------

_COMMON_PARAMS: Mapping[str, ParamSpec] = {
    "temperature": ParamSpec("temperature", 0.0, 2.0),
    "top_p": ParamSpec("top_p", 0.0, 1.0),
    "presence_penalty": ParamSpec("penalty", -2.0, 2.0),
    "frequency_penalty": ParamSpec("penalty", -2.0, 2.0),
    "n": ParamSpec("choices", 1),
    "max_tokens": ParamSpec("output_tokens", 1),
    "max_output_tokens": ParamSpec("output_tokens", 1),
}


def _plain_message(message: Message) -> dict[str, Any]:
    named = {"name": message.name} if message.name else {}
    return {"role": message.role, "content": message.content, **named}


class PlainRequestView:
    """The view of a request built by hand or by a decorated function: no provider format.

    Its body is the neutral dict form, ``{"model": ..., "messages": [{"role", "content",
    "name"?}], **params}``, rebuilt from the neutral fields on every edit.
    """

    provider = "plain"
    endpoint = ""
    param_specs = _COMMON_PARAMS

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        messages = []
        for m in body.get("messages") or ():
            if isinstance(m, Mapping) and isinstance(m.get("content"), str):
                name = m.get("name")
                name = name if isinstance(name, str) else None
                messages.append(Message(str(m.get("role", "")), m["content"], name))
        params = {k: body[k] for k in _COMMON_PARAMS if k in body}
        return LLMRequest(
            model=str(body.get("model", "")),
            messages=messages,
            params=params,
            provider=self.provider,
            endpoint=self.endpoint,
            body=dict(body),
            view=self,
        )

    def apply(self, request: LLMRequest, edit: RequestEdit) -> LLMRequest:
        messages = []
        for i, m in enumerate(request.messages):
            if i in edit.drop:
                continue
            text = edit.texts.get(i, m.content)
            if edit.rewrite is not None and (edit.roles is None or m.role in edit.roles):
                text = edit.rewrite(text)
            messages.append(m if text == m.content else dataclasses.replace(m, content=text))
        body = {**request.body, "model": request.model, "messages": [_plain_message(m) for m in messages]}
        params = dict(request.params)
        for name, value in edit.params.items():
            for target in (body, params):
                if value is DROP:
                    target.pop(name, None)
                else:
                    target[name] = value
        return dataclasses.replace(request, messages=messages, params=params, body=body)

    def message_problems(self, request: LLMRequest) -> list[str]:
        return []

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        turns = [{"role": "assistant", "content": answer.text or ""}, {"role": "user", "content": feedback}]
        return {**body, "messages": [*(body.get("messages") or ()), *turns]}


PLAIN_VIEW: Final = PlainRequestView()
