"""A per-process limit on concurrent ingest batches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

__all__ = ["Saturated", "ingest_slot"]

_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


class Saturated(Exception):
    """The server is at its concurrency limit; the client should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is saturated; retry after {retry_after} s")
        self.retry_after = retry_after


def _semaphore() -> threading.BoundedSemaphore:
    size = settings.INGEST_MAX_CONCURRENCY
    with _lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(size)
        return _slots[size]


@contextmanager
def ingest_slot() -> Iterator[None]:
    """Hold one ingest slot for the block, or raise :class:`Saturated` at once when none is free."""
    semaphore = _semaphore()
    # Never queue: a waiting request holds a web worker and a socket, while the SDK's
    # reporter keeps its batch and retries after Retry-After at no cost.
    if not semaphore.acquire(blocking=False):
        raise Saturated(settings.INGEST_RETRY_AFTER_S)
    try:
        yield
    finally:
        semaphore.release()


@contextmanager
def saturate() -> Iterator[None]:
    """Take every ingest slot for the block (used to exercise the 429 path)."""
    semaphore = _semaphore()
    taken = 0
    while semaphore.acquire(blocking=False):
        taken += 1
    try:
        yield
    finally:
        for _ in range(taken):
            semaphore.release()
