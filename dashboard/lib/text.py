"""Text that storage cannot keep: NUL characters and lone surrogates."""

from __future__ import annotations

from typing import Any

from llm_contracts.protocol import clean_text  # what the protocol's free-text fields keep

__all__ = ["clean_text", "first_unstorable", "unstorable"]


def unstorable(value: str) -> str | None:
    """Return why ``value`` cannot be stored as text, or None when it can."""
    # Postgres text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8:
    # either fails the whole statement that carries it.
    if "\x00" in value:
        return "must not contain a NUL character (\\u0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain a lone surrogate (an unpaired \\ud800-\\udfff)"
    return None


def first_unstorable(data: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """Return (dotted path, reason) of the first key or string in JSON ``data`` that cannot be stored."""
    if isinstance(data, str):
        reason = unstorable(data)
        return None if reason is None else (".".join(path) or "body", reason)
    if isinstance(data, dict):
        for key, value in data.items():
            reason = unstorable(str(key))
            if reason is not None:
                return ".".join((*path, "<key>")), f"keys {reason}"
            found = first_unstorable(value, (*path, str(key)))
            if found is not None:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = first_unstorable(value, (*path, str(index)))
            if found is not None:
                return found
    return None
