"""The reporter: what to send the control plane, and what to do when it does not take it.

It follows the design of mature error-reporting SDKs, in three parts: the
:class:`~._worker.BackgroundWorker` (a bounded queue and one daemon thread: the host call
only appends, never blocks, never raises), the :class:`~._transport.ControlPlane` (HTTP,
retries, ``Retry-After``) and this module's policy: batches by count or interval, gzip,
splitting a refused batch to find the item the server refuses, spooling to disk what
cannot be delivered, and counting every event. The puller of the project's contracts
(:class:`~._sync.ProjectSync`) shares the control plane.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any

from .. import protocol
from .._dataclass import dataclass
from .._exceptions import ContractConfigError
from .._ids import new_id
from .._version import __version__
from ._guard import InternalErrorGuard, log
from ._transport import EVENTS_PATH, SPLIT_STATUSES, TRACES_PATH, ControlPlane, Rejected, Transient, Transport
from ._worker import BackgroundWorker

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport
    from ._spool import Spool
    from ._sync import ProjectSync

__all__ = ["CallItem", "Reporter", "default_reporter"]

MAX_BATCH = protocol.MAX_BATCH


@dataclass(slots=True)
class CallItem:
    """A finished call waiting in the queue; its events are built by the worker, not the caller."""

    report: ContractReport
    ended_at: float
    materialise: Callable[[CallItem], tuple[list[dict[str, Any]], dict[str, Any] | None]]
    versions: Mapping[str, int] = field(default_factory=dict)  # of the contracts in force during the call
    extra: dict[str, Any] = field(default_factory=dict)


def _positive(name: str, value: Any, *, integer: bool = False, maximum: float | None = None) -> Any:
    kind = int if integer else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, kind)
        or value <= 0
        or (maximum is not None and value > maximum)
    ):
        bound = f" and <= {maximum}" if maximum is not None else ""
        raise ContractConfigError(
            f"Reporter {name} must be a positive {'int' if integer else 'number'}{bound}; got {value!r}"
        )
    return value


_REPORTERS: weakref.WeakSet[Reporter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for reporter in list(_REPORTERS):
        reporter._reset_after_fork()


def _close_all_at_exit() -> None:
    for reporter in list(_REPORTERS):
        reporter.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)


class Reporter:
    """Send validation events and traces to the control plane, without ever hurting the app.

    Parameters:
        url: the control plane's base URL; defaults to ``LLM_CONTRACTS_URL``.
        api_key: the project's API key; defaults to ``LLM_CONTRACTS_API_KEY``.
            Without a URL and a key the reporter is a silent no-op.
        batch_size: events per POST (at most 1,000); a full batch is sent at once.
        flush_interval: seconds an event may wait for its batch to fill.
        queue_size: events held in memory; when full the oldest is dropped and counted.
        timeout: seconds for one HTTP request.
        spool_dir: a directory where events that could not be delivered are kept (a
            bounded JSON-lines file) and from which they are re-sent once the server is back.
        transport: an object with ``send(path, body, headers) -> (status, headers, body)``
            (``body`` None means GET); defaults to an ``httpx`` client.
        poll_interval: seconds between pulls of the project's contracts and breakpoints.
        max_retries: re-sends of a batch after a transient failure before it is spooled
            (or, without a spool, counted as failed).
        backoff: base seconds of the exponential backoff (with full jitter), capped at
            ``backoff_max``.

    Example::

        reporter = Reporter("https://contracts.example.com", "lck_...", spool_dir="/var/spool/app")
        client = ContractOpenAI(reporter=reporter, output_contracts=[...])
        reporter.stats()   # {"enqueued": ..., "sent": ..., "dropped": ..., ...}
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        queue_size: int = 10_000,
        timeout: float = 2.0,
        spool_dir: str | os.PathLike[str] | None = None,
        transport: Transport | None = None,
        poll_interval: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        spool_max_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        url = url if url is not None else os.environ.get("LLM_CONTRACTS_URL") or None
        api_key = api_key if api_key is not None else os.environ.get("LLM_CONTRACTS_API_KEY") or None
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ContractConfigError(
                f"Reporter url (or LLM_CONTRACTS_URL) must be an http(s) URL; got {url!r}"
            )
        self.url = url.rstrip("/") if url else None
        self.api_key = api_key
        self.batch_size = _positive("batch_size", batch_size, integer=True, maximum=MAX_BATCH)
        self.flush_interval: float = _positive("flush_interval", flush_interval)
        self.queue_size = _positive("queue_size", queue_size, integer=True)
        self.timeout = _positive("timeout", timeout)
        self.poll_interval = _positive("poll_interval", poll_interval)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ContractConfigError(f"Reporter max_retries must be an int >= 0; got {max_retries!r}")
        self.max_retries = max_retries
        self.backoff = _positive("backoff", backoff)
        self.backoff_max = _positive("backoff_max", backoff_max)
        if transport is not None and not callable(getattr(transport, "send", None)):
            raise ContractConfigError(
                f"Reporter transport must have a send(path, body, headers) method; got {transport!r}"
            )
        self.enabled = bool(api_key) and (self.url is not None or transport is not None)
        self.instance_id = new_id()
        self.guard = InternalErrorGuard()
        self.control_plane = ControlPlane(
            self.url,
            api_key,
            timeout=self.timeout,
            transport=transport,
            max_retries=max_retries,
            backoff=self.backoff,
            backoff_max=self.backoff_max,
        )
        self._worker = BackgroundWorker(
            deliver=self._deliver_items,
            idle=self._idle,
            wait_limit=self._probe_wait,
            guard=self.guard,
            batch_size=self.batch_size,
            flush_interval=self.flush_interval,
            queue_size=self.queue_size,
        )
        self._spool: Spool | None = None
        if spool_dir is not None and self.enabled:
            from ._spool import Spool  # only a reporter that spools loads the spool

            self._spool = Spool(spool_dir, max_bytes=spool_max_bytes)
        self._sync: ProjectSync | None = None
        self._sync_lock = threading.Lock()
        self._init_state()
        if self._spool is not None:
            # Events a previous run of the app could not deliver: they are owed too.
            with self.guard:
                self._recovered = self._spooled = self._spool.count()
        if self.enabled:
            _REPORTERS.add(self)
            # Built here, in the app's thread: importing httpx (or the protocol's models) for
            # the first time from a background thread lets the app see a half-initialised
            # module (openai looks httpx up in sys.modules while it builds its own clients).
            self.control_plane.transport()
            protocol.Event  # noqa: B018 - loads the models
            if self._spooled:
                self._worker.start()

    def _init_state(self) -> None:
        # Counters of what happened to the events the worker took.
        self._dropped = self._sent = self._failed = self._spooled = self._rejected = 0
        self._recovered = self._traces_sent = self._traces_failed = self._breaker_skips = 0
        self._down = False
        self._probe_at = 0.0
        self._probe_failures = 0

    @property
    def _thread(self) -> threading.Thread | None:
        return self._worker.thread

    @property
    def _closed(self) -> bool:
        return self._worker.closed

    # -- the host side: cheap, never blocks, never raises ---------------------------------

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue one ``ValidationEvent`` dict for delivery; drop the oldest event when full."""
        if not self.enabled or self._worker.closed:
            return
        with self.guard:
            self._worker.put(1, event)

    def enqueue_call(self, item: CallItem, events: int) -> None:
        """Queue a finished call whose ``events`` events the worker will build."""
        if not self.enabled or self._worker.closed:
            return
        with self.guard:
            if getattr(item.report, "outcome", None) == protocol.Outcome.SKIPPED:
                self._breaker_skips += 1  # the circuit breaker was open: nothing was validated
            self._worker.put(events, item)

    # -- public controls ----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Return the delivery counters (``llm_contracts.protocol.ReporterStats``, docs/protocol.md).

        Within one process ``sent + dropped + failed + rejected + spooled == enqueued +
        recovered`` once the queue is flushed; ``spooled`` is what waits on disk now,
        ``recovered`` what a previous run left there, ``rejected`` the events the server
        refused one by one (dropped, so that they never hold up the others) and
        ``breaker_skips`` the calls made while the circuit breaker was open.
        """
        worker = self._worker
        queued, overflowed = worker.queued()
        return {
            "enqueued": worker.taken + overflowed + queued,
            "queued": queued,
            "in_flight": worker.in_flight,
            "sent": self._sent,
            "dropped": overflowed + self._dropped,
            "failed": self._failed,
            "rejected": self._rejected,
            "spooled": self._spooled,
            "recovered": self._recovered,
            "retried": self.control_plane.retried,
            "traces_sent": self._traces_sent,
            "traces_failed": self._traces_failed,
            "internal_errors": self.guard.errors,
            "breaker_skips": self._breaker_skips,
        }

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver (or spool) everything queued so far; return False when ``timeout`` ran out first."""
        if not self.enabled or self._worker.thread is None:
            return True
        with self.guard:
            return self._worker.flush(self.timeout * 2 if timeout is None else timeout)
        return False

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the worker and the poller; what is still queued goes to the spool (or is dropped)."""
        if not self.enabled or self._worker.closed:
            return
        with self.guard:
            if self._sync is not None:
                self._sync.stop()
            self._worker.stop(self.timeout if timeout is None else max(0.0, timeout))
            self._abandon_queue()
            self.control_plane.close()
        _REPORTERS.discard(self)

    def _abandon_queue(self) -> None:
        """Spool (or count as dropped) what the worker did not get to."""
        events: list[dict[str, Any]] = []
        for count, item in self._worker.drain():
            try:
                events.extend(self._events_of(item))
            except Exception as exc:
                self.guard.record(exc)
                self._dropped += count
        if events:
            self._park(events)

    @property
    def sync(self) -> ProjectSync:
        """The puller of the project's contracts and breakpoints (started on demand)."""
        if self._sync is None:
            # Imported on first use: the puller brings experiments' rules with it.
            from ._sync import ProjectSync

            with self._sync_lock:
                if self._sync is None:
                    self._sync = ProjectSync(self)
        return self._sync

    # -- what the puller and the tools share ------------------------------------------------------

    def transport(self) -> Transport:
        """Return the transport, building the default one on first use."""
        return self.control_plane.transport()

    def headers(self, *, gzip_body: bool = True) -> dict[str, str]:
        """Return the headers of a request to the control plane."""
        return self.control_plane.headers(gzip_body=gzip_body)

    # -- fork -------------------------------------------------------------------------------

    def _reset_after_fork(self) -> None:
        # The parent's thread does not exist here and its locks may be held by threads that
        # are gone: start over with fresh state. The parent still delivers what it queued.
        self._worker.reset()
        self._sync_lock = threading.Lock()
        self._init_state()
        self.control_plane.reset_after_fork()
        if self._sync is not None:
            self._sync._reset_after_fork()

    # -- in the worker's thread ---------------------------------------------------------------------

    def _probe_wait(self) -> float | None:
        """Return how long the worker may sleep before the spool is due for a re-send."""
        return max(0.0, self._probe_at - time.monotonic()) if self._spooled else None

    def _idle(self) -> None:
        if self._spooled and time.monotonic() >= self._probe_at:
            self._drain_spool()

    def _events_of(self, item: Any) -> list[dict[str, Any]]:
        if isinstance(item, CallItem):
            events, trace = item.materialise(item)
            if trace is not None:
                self._send_trace(trace)
            return events
        return [item]

    def _deliver_items(self, items: list[Any]) -> None:
        events: list[dict[str, Any]] = []
        for item in items:
            try:
                events.extend(self._events_of(item))
            except Exception as exc:  # one bad item must not sink its batch-mates
                self.guard.record(exc)
                self._failed += 1
        self._deliver(events)

    def _post(self, path: str, body: bytes, *, retries: bool = True) -> bytes:
        stop = self._worker.stopping
        if retries:
            return self.control_plane.post(path, body, stop)
        return self.control_plane.post_once(path, body, stop)

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if self._spool is not None and (self._down or self._worker.stopping.is_set()):
            # The server is known to be down (or the app is leaving): keep the order,
            # spool behind what is already waiting there.
            self._park(events)
            return
        try:
            answer = self._post(EVENTS_PATH, self._events_body(events))
        except (Transient, Rejected) as exc:
            undelivered = self._split(events, exc)
            if undelivered is None:
                self._failed += len(events)
                return
            if undelivered:
                self._down = True
                self._probe_failures = 0
                self._probe_at = time.monotonic() + self.control_plane.delay(0)
                self._park(undelivered)
            return
        self._down = False
        self._account(events, answer)

    def _splittable(self, exc: Exception) -> bool:
        """Return whether a refused batch may hold one bad item that the server refuses alone."""
        status = getattr(exc, "status", None)
        if status not in SPLIT_STATUSES:
            return False
        # A 500 for every batch is a broken server; for some batches only, a poison item.
        return status != 500 or self.control_plane.healthy()

    def _split(self, events: list[dict[str, Any]], exc: Exception) -> list[dict[str, Any]] | None:
        """Deliver a refused batch by halves, dropping (and counting) each item refused alone.

        Return the events left undelivered because the server went away meanwhile (to be
        spooled), or None when the refusal concerns every item alike (a wrong key, a
        server that answers 500 to everything).
        """
        if isinstance(exc, Transient) and exc.status is None:
            return list(events)  # the network, a timeout, a 429 or a 503: the server, not the batch
        if not self._splittable(exc):
            return None if isinstance(exc, Rejected) else list(events)
        undelivered: list[dict[str, Any]] = []
        pending = [events]
        while pending:
            part = pending.pop()
            try:
                if part is events:
                    raise exc  # refused already: split it at once
                answer = self._post(EVENTS_PATH, self._events_body(part), retries=False)
            except (Transient, Rejected) as err:
                status = getattr(err, "status", None)
                if status not in SPLIT_STATUSES or self._worker.stopping.is_set():
                    undelivered.extend(part)
                    for rest in pending:
                        undelivered.extend(rest)
                    return undelivered
                if len(part) == 1:
                    self._rejected += 1
                    log.warning(
                        "llm_contracts control plane refused event %s (HTTP %s); dropped",
                        part[0].get("event_id") if isinstance(part[0], dict) else "?",
                        status,
                    )
                    continue
                mid = len(part) // 2
                pending += [part[mid:], part[:mid]]
                continue
            self._account(part, answer)
        return undelivered

    def _park(self, events: list[dict[str, Any]]) -> None:
        if self._spool is None:
            self._failed += len(events)
            return
        try:
            kept = self._spool.append(events)
        except Exception as exc:
            self.guard.record(exc)
            kept = 0
        self._spooled += kept
        self._dropped += len(events) - kept  # the spool is full

    def _counters(self) -> dict[str, int]:
        """Return the counters each batch carries (``llm_contracts.protocol.SdkCounters``)."""
        return {
            "sent": self._sent,
            "dropped": self._worker.dropped + self._dropped,
            "failed": self._failed,
            "spooled": self._spooled,
            "rejected": self._rejected,
            "breaker_skips": self._breaker_skips,
        }

    def _events_body(self, events: list[dict[str, Any]]) -> bytes:
        payload = {
            "sdk": {
                "name": "llm-contracts-python",
                "version": __version__,
                "instance_id": self.instance_id,
                "counters": self._counters(),
            },
            "events": events,
        }
        raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
        import gzip  # loaded by the first upload, not by every client's import

        return gzip.compress(raw, compresslevel=5)

    def _account(self, events: list[dict[str, Any]], body: bytes) -> None:
        """Count a 2xx answer: per-item statuses when the server sent them, else all sent."""
        rejected = 0
        try:
            answer = json.loads(body) if body else None
            if isinstance(answer, dict):
                if isinstance(answer.get("rejected"), int):
                    rejected = min(max(answer["rejected"], 0), len(events))
                if rejected:
                    log.warning(
                        "control plane rejected %d of %d events: %s",
                        rejected,
                        len(events),
                        [r for r in answer.get("results", []) if r.get("status") == "rejected"][:3],
                    )
        except (ValueError, TypeError, AttributeError):
            rejected = 0
        self._rejected += rejected
        self._sent += len(events) - rejected

    def _drain_spool(self) -> None:
        """Re-send the spool head by head while the server takes it."""
        assert self._spool is not None
        for _ in range(50):  # bounded: live events must not wait behind a huge spool
            events = self._spool.head(self.batch_size)
            if not events:
                self._spooled = 0
                self._down = False
                return
            ids = {e.get("event_id") for e in events if isinstance(e, dict)}
            try:
                answer = self._post(EVENTS_PATH, self._events_body(events), retries=False)
            except (Transient, Rejected) as exc:
                undelivered = self._split(events, exc)
                if undelivered is None:  # refused whole, for good: never resent
                    removed = self._spool.remove({i for i in ids if isinstance(i, str)})
                    self._failed += removed
                    self._spooled = max(0, self._spooled - removed)
                    continue
                # What was delivered or refused alone leaves the spool: its head never wedges.
                kept = {e.get("event_id") for e in undelivered if isinstance(e, dict)}
                removed = self._spool.remove({i for i in ids - kept if isinstance(i, str)})
                self._spooled = max(0, self._spooled - removed)
                if undelivered:
                    self._probe_failures += 1
                    retry_after = exc.retry_after if isinstance(exc, Transient) else None
                    delay = self.control_plane.delay(min(self._probe_failures, 10), retry_after)
                    self._probe_at = time.monotonic() + delay
                    return
                continue
            # Acknowledged: remove before anything else, so it is never sent again.
            removed = self._spool.remove({i for i in ids if isinstance(i, str)})
            self._spooled = max(0, self._spooled - removed)
            self._account(events[:removed], answer)
            self._down = False
            self._probe_failures = 0

    def _send_trace(self, trace: dict[str, Any]) -> None:
        if self._down or self._worker.stopping.is_set():
            self._traces_failed += 1  # traces are not spooled: they matter while they are fresh
            return
        import gzip

        body = gzip.compress(json.dumps(trace, separators=(",", ":"), default=str).encode(), compresslevel=5)
        try:
            self._post(TRACES_PATH, body)
        except (Transient, Rejected):
            self._traces_failed += 1
        else:
            self._traces_sent += 1


_default: Reporter | None = None
_default_lock = threading.Lock()


def default_reporter() -> Reporter:
    """Return the process-wide reporter configured from the environment (a no-op without it)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Reporter()
    return _default
