"""Provider-neutral views of a request and a response, which contracts validate."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def content_text(content: Any) -> str:
    """Return the text of a message content: a string, or a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        for key in ("text", "input_text", "output_text", "refusal"):
            value = content.get(key)
            if isinstance(value, str):
                return value
        return content_text(content.get("content"))
    if isinstance(content, (list, tuple)):
        return "\n".join(t for t in (content_text(p) for p in content) if t)
    return ""


@dataclass(slots=True)
class Message:
    """One message of a conversation, reduced to its role and its text."""

    role: str
    content: str
    name: str | None = None


@dataclass(slots=True)
class ToolSpec:
    """A tool the request offers the model: its name and its parameters' JSON Schema."""

    name: str
    parameters: dict[str, Any] | None = None
    strict: bool = False


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


@dataclass(slots=True)
class LLMRequest:
    """What is about to be sent to the model.

    ``body`` is the provider's own request body (a dict); input contracts that fix a
    request return a new ``LLMRequest`` whose ``body`` the provider then sends.
    """

    model: str
    messages: list[Message]
    params: dict[str, Any] = field(default_factory=dict)
    tools: list[ToolSpec] = field(default_factory=list)
    provider: str = "openai"
    endpoint: str = "/chat/completions"
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_text(self) -> str:
        """Return every message's text joined by newlines."""
        return "\n".join(m.content for m in self.messages)

    @property
    def user_text(self) -> str:
        """Return the text of the user messages only."""
        return "\n".join(m.content for m in self.messages if m.role == "user")


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
