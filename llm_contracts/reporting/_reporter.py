"""The reporter: a bounded queue, one background worker, batched gzip POSTs to the control plane.

It follows the transport of mature error-reporting SDKs: the host call only appends to
an in-memory queue (never blocks, never raises); a daemon thread, started on first use
and again after a fork, sends batches by count or by interval, backs off on failure,
honours ``Retry-After``, spools to disk what it cannot deliver, and flushes at exit.
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._exceptions import ContractConfigError
from .._version import __version__
from ._guard import InternalErrorGuard, log
from ._spool import Spool
from ._transport import HttpxTransport, Transport

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport
    from ._sync import ProjectSync

__all__ = ["Reporter", "default_reporter"]

EVENTS_PATH = "/api/v1/events"
TRACES_PATH = "/api/v1/traces"
HEALTH_PATH = "/api/v1/health"
# Answers that say "this body" rather than "this server": the batch is split to find the
# item the server refuses (a 500 only once the server answers its health check).
_SPLIT_STATUSES = frozenset({400, 413, 422, 500})
MAX_BATCH = 1000  # the protocol's limit per POST /events


@dataclass(slots=True)
class CallItem:
    """A finished call waiting in the queue; its events are built by the worker, not the caller."""

    report: ContractReport
    ended_at: float
    materialise: Callable[[CallItem], tuple[list[dict[str, Any]], dict[str, Any] | None]]
    versions: Mapping[str, int] = field(default_factory=dict)  # of the contracts in force during the call
    extra: dict[str, Any] = field(default_factory=dict)


class _Control:
    """A flush or stop request travelling through the queue behind the events before it."""

    __slots__ = ("done", "stop")

    def __init__(self, *, stop: bool = False) -> None:
        self.done = threading.Event()
        self.stop = stop


class _Transient(Exception):
    """A delivery that may work later: network error, timeout, 5xx, 429."""

    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.status = status


def _positive(name: str, value: Any, *, integer: bool = False, maximum: float | None = None) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0 or (
            maximum is not None and value > maximum):
        bound = f" and <= {maximum}" if maximum is not None else ""
        raise ContractConfigError(f"Reporter {name} must be a positive {'int' if integer else 'number'}"
                                  f"{bound}; got {value!r}")
    return value


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # An HTTP date: wait a little rather than parse calendars in a hot failure path.
        return 5.0


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
                f"Reporter url (or LLM_CONTRACTS_URL) must be an http(s) URL; got {url!r}")
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
            raise ContractConfigError(f"Reporter transport must have a send(path, body, headers) method; "
                                      f"got {transport!r}")
        self.enabled = bool(api_key) and (self.url is not None or transport is not None)
        self._own_transport = transport is None
        self._transport: Transport | None = transport
        self.instance_id = uuid.uuid4().hex
        self.guard = InternalErrorGuard()
        self._spool = (Spool(spool_dir, max_bytes=spool_max_bytes)
                       if spool_dir is not None and self.enabled else None)
        self._sync: ProjectSync | None = None
        self._init_state()
        if self._spool is not None:
            # Events a previous run of the app could not deliver: they are owed too.
            with self.guard:
                self._recovered = self._spooled = self._spool.count()
        if self.enabled:
            _REPORTERS.add(self)
            if self._transport is None:
                # Built here, in the app's thread: importing httpx for the first time from a
                # background thread lets the app see a half-initialised module (openai looks
                # it up in sys.modules while it builds its own clients).
                self._transport = HttpxTransport(self.url or "", timeout=self.timeout)
            if self._spooled:
                self._start()

    def _init_state(self) -> None:
        self._items: deque[tuple[int, Any]] = deque()
        self._qlock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._taken = self._dropped = self._sent = self._failed = self._spooled = 0
        self._recovered = self._retried = self._traces_sent = self._traces_failed = 0
        self._rejected = self._breaker_skips = 0
        self._in_flight = 0
        self._down = False
        self._not_before = 0.0
        self._probe_at = 0.0
        self._probe_failures = 0
        self._logged_statuses: set[int] = set()
        self._logged_network = False

    # -- the host side: cheap, never blocks, never raises ---------------------------------

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue one ``ValidationEvent`` dict for delivery; drop the oldest event when full."""
        if not self.enabled or self._closed:
            return
        with self.guard:
            if self._thread is None:
                self._start()
            self._put(1, event)

    def enqueue_call(self, item: CallItem, events: int) -> None:
        """Queue a finished call whose ``events`` events the worker will build."""
        if not self.enabled or self._closed:
            return
        with self.guard:
            if getattr(item.report, "outcome", None) == "skipped":
                self._breaker_skips += 1  # the circuit breaker was open: nothing was validated
            if self._thread is None:
                self._start()
            self._put(events, item)

    def _put(self, n: int, obj: Any) -> None:
        with self._qlock:
            items = self._items
            if len(items) >= self.queue_size:
                dropped, _ = items.popleft()
                self._dropped += dropped
            items.append((n, obj))
            size = len(items)
        # Wake the worker once when a batch is full; otherwise it wakes on its interval.
        if size == self.batch_size:
            self._wake.set()

    def _put_control(self, control: _Control) -> None:
        with self._qlock:
            self._items.append((0, control))  # never counts against the bound: it is not data
        self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name="llm-contracts-reporter", daemon=True)
            thread.start()
            self._thread = thread

    # -- public controls ----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Return the delivery counters.

        Within one process ``sent + dropped + failed + rejected + spooled == enqueued +
        recovered`` once the queue is flushed; ``spooled`` is what waits on disk now,
        ``recovered`` what a previous run left there, ``rejected`` the events the server
        refused one by one (dropped, so that they never hold up the others) and
        ``breaker_skips`` the calls made while the circuit breaker was open.
        """
        with self._qlock:
            queued = sum(n for n, _ in self._items)
            dropped = self._dropped
        return {
            "enqueued": self._taken + dropped + queued,
            "queued": queued,
            "in_flight": self._in_flight,
            "sent": self._sent,
            "dropped": dropped,
            "failed": self._failed,
            "rejected": self._rejected,
            "spooled": self._spooled,
            "recovered": self._recovered,
            "retried": self._retried,
            "traces_sent": self._traces_sent,
            "traces_failed": self._traces_failed,
            "internal_errors": self.guard.errors,
            "breaker_skips": self._breaker_skips,
        }

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver (or spool) everything queued so far; return False when ``timeout`` ran out first."""
        if not self.enabled or self._thread is None:
            return True
        with self.guard:
            control = _Control()
            self._put_control(control)
            return control.done.wait(self.timeout * 2 if timeout is None else timeout)
        return False

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the worker and the poller; what is still queued goes to the spool (or is dropped)."""
        if not self.enabled or self._closed:
            return
        with self.guard:
            self._closed = True
            if self._sync is not None:
                self._sync.stop()
            thread = self._thread
            if thread is not None and thread.is_alive():
                control = _Control(stop=True)
                self._put_control(control)
                if not control.done.wait(self.timeout if timeout is None else max(0.0, timeout)):
                    # Out of time: the worker is told to stop (it interrupts a backoff wait,
                    # and a hanging request ends at its own timeout and goes to the spool),
                    # but close() does not wait for it.
                    self._stopping.set()
            self._stopping.set()
            self._abandon_queue()
            if self._own_transport and self._transport is not None:
                closer = getattr(self._transport, "close", None)
                if callable(closer):
                    closer()
        _REPORTERS.discard(self)

    def _abandon_queue(self) -> None:
        """Spool (or count as dropped) what the worker did not get to."""
        with self._qlock:
            items = list(self._items)
            self._items.clear()
        events: list[dict[str, Any]] = []
        lost = 0
        for n, obj in items:
            if isinstance(obj, _Control):
                obj.done.set()
                continue
            self._taken += n
            try:
                events.extend(self._events_of(obj))
            except Exception as exc:
                self.guard.record(exc)
                lost += n
        self._dropped += lost
        if events:
            self._park(events)

    @property
    def sync(self) -> ProjectSync:
        """The puller of the project's contracts and breakpoints (started on demand)."""
        if self._sync is None:
            from ._sync import ProjectSync

            with self._start_lock:
                if self._sync is None:
                    self._sync = ProjectSync(self)
        return self._sync

    # -- fork -------------------------------------------------------------------------------

    def _reset_after_fork(self) -> None:
        # The parent's thread does not exist here and its locks may be held by threads that
        # are gone: start over with fresh state. The parent still delivers what it queued.
        self._init_state()
        if self._own_transport and self.url:
            # A pooled connection must not be shared with the parent.
            self._transport = HttpxTransport(self.url, timeout=self.timeout)
        if self._sync is not None:
            self._sync._reset_after_fork()

    # -- the worker ---------------------------------------------------------------------------

    def transport(self) -> Transport:
        """Return the transport, building the default one on first use."""
        if self._transport is None:
            assert self.url is not None
            self._transport = HttpxTransport(self.url, timeout=self.timeout)
        return self._transport

    def headers(self, *, gzip_body: bool = True) -> dict[str, str]:
        """Return the headers of a request to the control plane."""
        headers = {"X-API-Key": self.api_key or "", "User-Agent": f"llm-contracts-python/{__version__}",
                   "Accept": "application/json"}
        if gzip_body:
            headers["Content-Type"] = "application/json"
            headers["Content-Encoding"] = "gzip"
        return headers

    def _take(self) -> tuple[list[Any], _Control | None]:
        """Take up to one batch of events, stopping at a control item."""
        out: list[Any] = []
        count = 0
        with self._qlock:
            items = self._items
            while items and count < self.batch_size:
                n, obj = items.popleft()
                if isinstance(obj, _Control):
                    self._in_flight = count
                    return out, obj
                out.append(obj)
                count += n
                self._taken += n
            self._in_flight = count
        return out, None

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
                        self._deliver_objects(batch)
                    if control is not None or len(self._items) < self.batch_size:
                        break
                if self._spooled and not self._stopping.is_set() and time.monotonic() >= self._probe_at:
                    self._drain_spool()
            if control is not None:
                control.done.set()
                if control.stop:
                    return
            if self._stopping.is_set():
                return

    def _next_wait(self) -> float:
        wait = self.flush_interval
        if self._spooled:
            wait = min(wait, max(0.0, self._probe_at - time.monotonic()))
        return max(wait, 0.001)

    def _events_of(self, obj: Any) -> list[dict[str, Any]]:
        if isinstance(obj, CallItem):
            events, trace = obj.materialise(obj)
            if trace is not None:
                self._send_trace(trace)
            return events
        return [obj]

    def _deliver_objects(self, objects: list[Any]) -> None:
        events: list[dict[str, Any]] = []
        try:
            for obj in objects:
                try:
                    events.extend(self._events_of(obj))
                except Exception as exc:  # one bad item must not sink its batch-mates
                    self.guard.record(exc)
                    self._failed += 1
            self._deliver(events)
        finally:
            self._in_flight = 0

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if self._spool is not None and (self._down or self._stopping.is_set()):
            # The server is known to be down (or the app is leaving): keep the order,
            # spool behind what is already waiting there.
            self._park(events)
            return
        try:
            answer = self._post_with_retries(EVENTS_PATH, self._events_body(events))
        except (_Transient, _Rejected) as exc:
            undelivered = self._split(events, exc)
            if undelivered is None:
                self._failed += len(events)
                return
            if undelivered:
                self._down = True
                self._probe_failures = 0
                self._probe_at = time.monotonic() + self._delay(0)
                self._park(undelivered)
            return
        self._down = False
        self._account(events, answer)

    def _splittable(self, exc: Exception) -> bool:
        """Return whether a refused batch may hold one bad item that the server refuses alone."""
        status = getattr(exc, "status", None)
        if status not in _SPLIT_STATUSES:
            return False
        if status != 500:
            return True
        # A 500 for every batch is a broken server; for some batches only, a poison item.
        try:
            code, _, _ = self.transport().send(HEALTH_PATH, None, self.headers(gzip_body=False))
        except Exception:
            return False
        return 200 <= code < 300

    def _split(self, events: list[dict[str, Any]], exc: Exception) -> list[dict[str, Any]] | None:
        """Deliver a refused batch by halves, dropping (and counting) each item refused alone.

        Return the events left undelivered because the server went away meanwhile (to be
        spooled), or None when the refusal concerns every item alike (a wrong key, a
        server that answers 500 to everything).
        """
        if isinstance(exc, _Transient) and exc.status is None:
            return list(events)  # the network, a timeout, a 429 or a 503: the server, not the batch
        if not self._splittable(exc):
            return None if isinstance(exc, _Rejected) else list(events)
        undelivered: list[dict[str, Any]] = []
        pending = [events]
        while pending:
            part = pending.pop()
            try:
                if part is events:
                    raise exc  # refused already: split it at once
                answer = self._post_once(EVENTS_PATH, self._events_body(part))
            except (_Transient, _Rejected) as err:
                status = getattr(err, "status", None)
                if status not in _SPLIT_STATUSES or self._stopping.is_set():
                    undelivered.extend(part)
                    for rest in pending:
                        undelivered.extend(rest)
                    return undelivered
                if len(part) == 1:
                    self._rejected += 1
                    log.warning("llm_contracts control plane refused event %s (HTTP %s); dropped",
                                part[0].get("event_id") if isinstance(part[0], dict) else "?", status)
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

    def _events_body(self, events: list[dict[str, Any]]) -> bytes:
        payload = {
            "sdk": {"name": "llm-contracts-python", "version": __version__, "instance_id": self.instance_id,
                    "counters": {"sent": self._sent, "dropped": self._dropped, "failed": self._failed,
                                 "spooled": self._spooled, "rejected": self._rejected,
                                 "breaker_skips": self._breaker_skips}},
            "events": events,
        }
        raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
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
                    log.warning("control plane rejected %d of %d events: %s", rejected, len(events),
                                [r for r in answer.get("results", []) if r.get("status") == "rejected"][:3])
        except (ValueError, TypeError, AttributeError):
            rejected = 0
        self._rejected += rejected
        self._sent += len(events) - rejected

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        # Full jitter: a fleet of apps recovering together does not hit the server in step.
        delay = random.uniform(0, min(self.backoff_max, self.backoff * (2 ** attempt)))
        return max(delay, retry_after or 0.0)

    def _post_once(self, path: str, body: bytes) -> bytes:
        """POST ``body``; raise ``_Transient`` (may work later) or ``_Rejected`` (never will)."""
        wait = self._not_before - time.monotonic()
        if wait > 0 and self._stopping.wait(wait):
            raise _Transient("reporter closing")
        try:
            status, headers, content = self.transport().send(path, body, self.headers())
        except Exception as exc:
            if not self._logged_network:
                self._logged_network = True
                log.warning("llm_contracts reporter cannot reach the control plane (%s: %s); "
                            "retrying in the background", type(exc).__name__, exc)
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        headers = {k.lower(): v for k, v in headers.items()}
        if 200 <= status < 300:
            if not _is_answer(path, content):
                # A proxy, a captive portal or a wrong URL answered: nothing was stored.
                raise _Transient(f"HTTP {status} with a body that is not the control plane's answer")
            return content
        retry_after = _retry_after(headers) if status in (429, 503) else None
        if retry_after is not None:
            self._not_before = time.monotonic() + retry_after
        if status in (408, 429) or status >= 500:
            raise _Transient(f"HTTP {status}", retry_after, status if status in _SPLIT_STATUSES else None)
        if status not in self._logged_statuses:
            self._logged_statuses.add(status)
            log.error("llm_contracts control plane refused %s with HTTP %d (not retried): %s",
                      path, status, content[:300].decode("utf-8", "replace"))
        raise _Rejected(f"HTTP {status}", status)

    def _post_with_retries(self, path: str, body: bytes) -> bytes:
        attempt = 0
        while True:
            try:
                return self._post_once(path, body)
            except _Transient as exc:
                if attempt >= self.max_retries or self._stopping.is_set():
                    raise
                self._retried += 1
                delay = self._delay(attempt, exc.retry_after)
                attempt += 1
                if self._stopping.wait(delay):
                    raise

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
                answer = self._post_once(EVENTS_PATH, self._events_body(events))
            except (_Transient, _Rejected) as exc:
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
                    retry_after = exc.retry_after if isinstance(exc, _Transient) else None
                    delay = self._delay(min(self._probe_failures, 10), retry_after)
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
        if self._down or self._stopping.is_set():
            self._traces_failed += 1  # traces are not spooled: they matter while they are fresh
            return
        body = gzip.compress(json.dumps(trace, separators=(",", ":"), default=str).encode(), compresslevel=5)
        try:
            self._post_with_retries(TRACES_PATH, body)
        except (_Transient, _Rejected):
            self._traces_failed += 1
        else:
            self._traces_sent += 1


def _is_answer(path: str, content: bytes) -> bool:
    """Return whether a 2xx body is the protocol's answer to a POST of ``path``."""
    try:
        answer = json.loads(content)
    except ValueError:
        return False
    if not isinstance(answer, dict):
        return False
    if path == EVENTS_PATH:
        return all(isinstance(answer.get(k), int) for k in ("accepted", "duplicates", "rejected"))
    if path == TRACES_PATH:
        return isinstance(answer.get("trace_id"), str)
    return True


class _Rejected(Exception):
    """The server refused the request for good (a 4xx other than 408/429)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


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
