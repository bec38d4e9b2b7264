"""The conversation the contracted clients record, per thread and per task.

Kept apart from :mod:`llm_contracts.conversation` so that a client reads it without
importing conversations (and their contracts) until a conversation is opened.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conversation import ConversationStateManager

__all__ = ["ACTIVE_CONVERSATION"]

ACTIVE_CONVERSATION: ContextVar[ConversationStateManager | None] = ContextVar(
    "llm_contracts_conversation", default=None
)
