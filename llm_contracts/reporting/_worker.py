"""The background worker: a bounded in-memory queue drained in batches by one daemon thread.

The host only appends to the queue (never blocks, never raises); the thread starts on
first use (and again after a fork), wakes when a batch is full or its interval ran out,
and hands each batch to its owner's ``deliver``. Flush and stop requests travel through
the queue behind what was queued before them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ._guard import InternalErrorGuard

__all__ = ["BackgroundWorker"]


class _Control:
    """A flush or stop request travelling through the queue behind the items before it."""

    __slots__ = ("done", "stop")

    def __init__(self, *, stop: bool = False) -> None:
        self.done = threading.Event()
        self.stop = stop


class BackgroundWorker:
    """A queue of ``(count, item)`` pairs, each ``count`` events, drained by one thread.

    Parameters:
        deliver: called in the thread with up to ``batch_size`` events' worth of items.
        idle: called in the thread after each wake, once the queue holds less than a batch
            (the owner re-sends what it spooled there).
        wait_limit: the longest the thread may sleep before its next ``idle``, or None.
        guard: contains the errors of ``deliver`` and ``idle``.

    ``dropped`` counts the events pushed out of a full queue (the oldest go first);
    ``taken`` the events handed to ``deliver`` (or given up by :meth:`drain`).
    """

    def __init__(
        self,
        *,
        deliver: Callable[[list[Any]], None],
        guard: InternalErrorGuard,
        batch_size: int,
        flush_interval: float,
        queue_size: int,
        idle: Callable[[], None] | None = None,
        wait_limit: Callable[[], float | None] | None = None,
        name: str = "llm-contracts-reporter",
    ) -> None:
        self._deliver = deliver
        self._idle = idle
        self._wait_limit = wait_limit
        self.guard = guard
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self.name = name
        self.reset()

    def reset(self) -> None:
        """Start over with an empty queue and no thread (in a forked child: the parent's are gone)."""
        self._items: deque[tuple[int, Any]] = deque()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.closed = False
        self.taken = self.dropped = self.in_flight = 0

    # -- the host side ----------------------------------------------------------------------------

    def put(self, count: int, item: Any) -> None:
        """Queue ``item`` (``count`` events); drop the oldest item when the queue is full."""
        if self.thread is None:
            self.start()
        with self._lock:
            items = self._items
            if len(items) >= self.queue_size:
                dropped, _ = items.popleft()
                self.dropped += dropped
            items.append((count, item))
            size = len(items)
        # Wake the thread once when a batch is full; otherwise it wakes on its interval.
        if size == self.batch_size:
            self._wake.set()

    def start(self) -> None:
        with self._start_lock:
            if self.thread is not None or self.closed:
                return
            thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            thread.start()
            self.thread = thread

    def queued(self) -> tuple[int, int]:
        """Return (events waiting in the queue, events dropped so far), read together."""
        with self._lock:
            return sum(n for n, _ in self._items), self.dropped

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far was delivered; False when ``timeout`` ran out first."""
        control = _Control()
        self._put_control(control)
        return control.done.wait(timeout)

    def stop(self, timeout: float) -> None:
        """Deliver what is queued and stop the thread, waiting at most ``timeout`` seconds.

        Out of time, the thread is told to stop anyway: it interrupts a backoff wait, and a
        hanging request ends at its own timeout; this call does not wait for it.
        """
        self.closed = True
        thread = self.thread
        if thread is not None and thread.is_alive():
            control = _Control(stop=True)
            self._put_control(control)
            control.done.wait(timeout)
        self.stopping.set()

    def drain(self) -> list[tuple[int, Any]]:
        """Take every item left in the queue (counted as taken), releasing waiting flushes."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        left = []
        for count, item in items:
            if isinstance(item, _Control):
                item.done.set()
                continue
            self.taken += count
            left.append((count, item))
        return left

    def _put_control(self, control: _Control) -> None:
        with self._lock:
            self._items.append((0, control))  # never counts against the bound: it is not data
        self._wake.set()

    # -- the thread -------------------------------------------------------------------------------

    def _take(self) -> tuple[list[Any], _Control | None]:
        """Take up to one batch of events, stopping at a control item."""
        out: list[Any] = []
        count = 0
        with self._lock:
            items = self._items
            while items and count < self.batch_size:
                n, item = items.popleft()
                if isinstance(item, _Control):
                    self.in_flight = count
                    return out, item
                out.append(item)
                count += n
                self.taken += n
            self.in_flight = count
        return out, None

    def _next_wait(self) -> float:
        wait = self.flush_interval
        limit = self._wait_limit() if self._wait_limit is not None else None
        if limit is not None:
            wait = min(wait, limit)
        return max(wait, 0.001)

    def _run(self) -> None:
        while True:
            control: _Control | None = None
            with self.guard:
                if len(self._items) < self.batch_size:
                    self._wake.wait(self._next_wait())
                    self._wake.clear()
                while True:
                    batch, control = self._take()
                    if batch:
                        try:
                            self._deliver(batch)
                        finally:
                            self.in_flight = 0
                    if control is not None or len(self._items) < self.batch_size:
                        break
                if self._idle is not None and not self.stopping.is_set():
                    self._idle()
            if control is not None:
                control.done.set()
                if control.stop:
                    return
            if self.stopping.is_set():
                return
