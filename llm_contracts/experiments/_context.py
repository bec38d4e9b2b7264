"""The user a call is made for, set per call with ``experiment_context`` (a ContextVar)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .._exceptions import ContractConfigError

__all__ = ["current_user_id", "experiment_context"]

_USER_ID: ContextVar[str | None] = ContextVar("llm_contracts_experiment_user", default=None)


@contextmanager
def experiment_context(*, user_id: str) -> Iterator[None]:
    """Assign the contracted calls made inside the block to experiments as ``user_id``.

    It takes precedence over the client's own ``user_id=``; blocks nest, and each thread
    or asyncio task sees its own. Example::

        with llm_contracts.experiment_context(user_id=request.user.id):
            client.chat.completions.create(...)   # the user's variant's contracts apply
    """
    if not isinstance(user_id, str) or not user_id:
        raise ContractConfigError(f"experiment_context user_id must be a non-empty str; got {user_id!r}")
    token = _USER_ID.set(user_id)
    try:
        yield
    finally:
        _USER_ID.reset(token)


def current_user_id() -> str | None:
    """Return the user id set by the innermost ``experiment_context``, if any."""
    return _USER_ID.get()
