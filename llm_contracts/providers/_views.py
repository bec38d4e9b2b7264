"""What the request and response views of every provider share.

A body view reads a provider's request body into ``LLMRequest`` and makes the edits of
input fixes to a copy of the body, then reads the copy again: each provider says where
its messages live (``_places``), how a message's text is keyed, what goes when a message
is dropped, and how every text is rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pydantic

from ..contracts._types import DROP, LLMRequest, LLMResponse, ParamSpec, RequestEdit

__all__ = ["BodyRequestView", "content_text", "rewrite_content", "summed", "with_text"]


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


def with_text(item: Mapping[str, Any], key: str, text: str) -> dict[str, Any]:
    """Return a copy of ``item`` whose text is ``text``; non-text parts (images) are kept."""
    content = item.get(key)
    if not isinstance(content, (list, tuple)):
        return {**item, key: text}
    parts: list[Any] = []
    placed = False
    for part in content:
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            if not placed:
                parts.append({**part, "text": text})
                placed = True
            continue
        parts.append(part)
    if not placed:
        parts.insert(0, {"type": "text", "text": text})
    return {**item, key: parts}


def rewrite_content(content: Any, fn: Callable[[str], str]) -> Any:
    """Return ``content`` (a string or a list of parts) with ``fn`` run over every text."""
    if isinstance(content, str):
        return fn(content)
    if isinstance(content, (list, tuple)):
        return [
            {**p, "text": fn(p["text"])} if isinstance(p, Mapping) and isinstance(p.get("text"), str) else p
            for p in content
        ]
    return content


def summed(models: Sequence[Any]) -> Any:
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
            update[name] = summed(values)  # e.g. prompt_tokens_details.cached_tokens
    return last.model_copy(update=update)


Place = tuple[str, int | None]  # the body key of a message, and its position when that key holds a list


class BodyRequestView:
    """A request view whose edits are made to the body, which is then read again."""

    provider = ""
    endpoint = ""
    param_specs: Mapping[str, ParamSpec] = {}
    # The body keys that hold lists of messages.
    list_keys: tuple[str, ...] = ("messages",)

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        raise NotImplementedError

    def _places(self, body: Mapping[str, Any]) -> Iterator[Place]:
        """Yield where each message of ``read(body)`` lives in ``body``, in the same order."""
        raise NotImplementedError

    def _text_key(self, item: Mapping[str, Any]) -> str:
        return "content"

    def _dropped_calls(self, request: LLMRequest, drop: frozenset[int]) -> set[str]:
        """Return the ids of the tool calls whose messages ``drop`` removes."""
        return {
            call_id
            for i in drop
            if i < len(request.messages) and (call_id := request.messages[i].tool_call_id) is not None
        }

    def _goes_with(self, item: Any, dropped_calls: set[str]) -> bool:
        """Return True for an item that must go because a message it belongs to was dropped."""
        return False

    def _rewrite(
        self, body: Mapping[str, Any], fn: Callable[[str], str], roles: frozenset[str] | None
    ) -> dict[str, Any]:
        """Return ``body`` with ``fn`` run over every text of the messages of ``roles`` (None: all)."""
        raise NotImplementedError

    def _set_scalar(self, body: dict[str, Any], key: str, text: str) -> None:
        """Set the text of a message that is a body key of its own (a system prompt)."""
        body[key] = text

    def apply(self, request: LLMRequest, edit: RequestEdit) -> LLMRequest:
        body = dict(request.body)
        if edit.drop or edit.texts:
            body = self._rebuild(request, body, edit.drop, edit.texts)
        if edit.rewrite is not None:
            body = self._rewrite(body, edit.rewrite, edit.roles)
        for name, value in edit.params.items():
            if value is DROP:
                body.pop(name, None)
            else:
                body[name] = value
        return self.read(body)

    def _rebuild(
        self, request: LLMRequest, body: dict[str, Any], drop: frozenset[int], texts: Mapping[int, str]
    ) -> dict[str, Any]:
        places = list(self._places(body))
        by_place = {place: i for i, place in enumerate(places)}
        dropped_calls = self._dropped_calls(request, drop)
        new = dict(body)
        for key in self.list_keys:
            items = body.get(key)
            if not isinstance(items, (list, tuple)):
                continue
            kept: list[Any] = []
            for pos, item in enumerate(items):
                i = by_place.get((key, pos))
                if i in drop or self._goes_with(item, dropped_calls):
                    continue
                if i is not None and i in texts:
                    item = with_text(item, self._text_key(item), texts[i])
                kept.append(item)
            new[key] = kept
        for i, (key, index) in enumerate(places):
            if index is None and i in texts:
                self._set_scalar(new, key, texts[i])
        return new

    def message_problems(self, request: LLMRequest) -> list[str]:
        return []

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        raise NotImplementedError
