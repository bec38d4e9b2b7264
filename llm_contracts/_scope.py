"""The conversation the contracted clients record, and whether a judge is calling, per thread and per task.

Kept apart from :mod:`llm_contracts.conversation` so that a client reads it without
importing conversations (and their contracts) until a conversation is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conversation import ConversationStateManager

__all__ = ["ACTIVE_CONVERSATION", "in_judge_call", "judging"]

ACTIVE_CONVERSATION: ContextVar[ConversationStateManager | None] = ContextVar(
    "llm_contracts_conversation", default=None
)

_judging: ContextVar[bool] = ContextVar("llm_contracts_judging", default=False)


@contextmanager
def judging() -> Iterator[None]:
    """Mark the calls made inside as a judge's: contracted clients skip their output contracts."""
    token = _judging.set(True)
    try:
        yield
    finally:
        _judging.reset(token)


def in_judge_call() -> bool:
    """Return True inside a judge's call (see :func:`judging`)."""
    return _judging.get()
