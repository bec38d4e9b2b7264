"""The HTTP side of the reporter: the swappable transport and the control plane it talks to.

:class:`Transport` is one method, so tests and apps can swap it. :class:`ControlPlane`
adds what the protocol says about HTTP (docs/protocol.md): the key and the headers, which
answers mean "retry later" (:class:`Transient`) or "never" (:class:`Rejected`),
``Retry-After``, and retries with full-jitter exponential backoff.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from .._version import __version__
from ._guard import log

__all__ = [
    "EVENTS_PATH",
    "HEALTH_PATH",
    "SPLIT_STATUSES",
    "TRACES_PATH",
    "ControlPlane",
    "HttpxTransport",
    "Rejected",
    "Transient",
    "Transport",
    "TransportResponse",
]

EVENTS_PATH = "/api/v1/events"
TRACES_PATH = "/api/v1/traces"
HEALTH_PATH = "/api/v1/health"
# Answers that say "this body" rather than "this server": a batch so answered is split to
# find the item the server refuses (a 500 only once the server answers its health check).
SPLIT_STATUSES = frozenset({400, 413, 422, 500})

# (status, headers with lower-case names, body)
TransportResponse = tuple[int, Mapping[str, str], bytes]


class Transport(Protocol):
    """Send one request to the control plane.

    ``body`` is the (already encoded) request body, or ``None`` for a ``GET``. Network
    failures raise (any exception); every HTTP answer, errors included, is returned.
    """

    def send(self, path: str, body: bytes | None, headers: Mapping[str, str]) -> TransportResponse: ...


class HttpxTransport:
    """The default transport: an ``httpx.Client`` with a short timeout and no redirects."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        import httpx  # imported here: a client without a reporter never pays for it

        self.url = url.rstrip("/")
        self._client: Any = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)

    def send(self, path: str, body: bytes | None, headers: Mapping[str, str]) -> TransportResponse:
        if body is None:
            r = self._client.get(self.url + path, headers=dict(headers))
        else:
            r = self._client.post(self.url + path, content=body, headers=dict(headers))
        return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content

    def close(self) -> None:
        self._client.close()


class Transient(Exception):
    """A delivery that may work later: network error, timeout, 5xx, 429.

    ``status`` is set only for the answers that may concern the body (``SPLIT_STATUSES``).
    """

    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.status = status


class Rejected(Exception):
    """The server refused the request for good (a 4xx other than 408/429)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # An HTTP date: wait a little rather than parse calendars in a hot failure path.
        return 5.0


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


class ControlPlane:
    """The control plane as the reporter and the puller reach it: one project's key over a transport.

    ``retried`` counts the re-sends after transient failures. The waits (a ``Retry-After``,
    a backoff) end early when the ``stop`` event given to a POST is set.
    """

    def __init__(
        self,
        url: str | None,
        api_key: str | None,
        *,
        timeout: float,
        transport: Transport | None = None,
        max_retries: int = 3,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.own_transport = transport is None
        self._transport = transport
        self.reset()

    def reset(self) -> None:
        """Forget the state of this process's deliveries (a fresh start in a forked child)."""
        self.retried = 0
        self._not_before = 0.0
        self._logged_statuses: set[int] = set()
        self._logged_network = False

    def reset_after_fork(self) -> None:
        self.reset()
        if self.own_transport and self.url:
            # A pooled connection must not be shared with the parent.
            self._transport = HttpxTransport(self.url, timeout=self.timeout)

    def transport(self) -> Transport:
        """Return the transport, building the default one on first use."""
        if self._transport is None:
            assert self.url is not None
            self._transport = HttpxTransport(self.url, timeout=self.timeout)
        return self._transport

    def close(self) -> None:
        """Close the transport when it was built here."""
        if self.own_transport and self._transport is not None:
            closer = getattr(self._transport, "close", None)
            if callable(closer):
                closer()

    def headers(self, *, gzip_body: bool = True) -> dict[str, str]:
        """Return the headers of a request to the control plane."""
        headers = {
            "X-API-Key": self.api_key or "",
            "User-Agent": f"llm-contracts-python/{__version__}",
            "Accept": "application/json",
        }
        if gzip_body:
            headers["Content-Type"] = "application/json"
            headers["Content-Encoding"] = "gzip"
        return headers

    def healthy(self) -> bool:
        """Return whether ``GET /api/v1/health`` answers 2xx."""
        try:
            code, _, _ = self.transport().send(HEALTH_PATH, None, self.headers(gzip_body=False))
        except Exception:
            return False
        return 200 <= code < 300

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Return the wait before retry ``attempt``: full jitter, at least ``retry_after``."""
        # Full jitter: a fleet of apps recovering together does not hit the server in step.
        delay = random.uniform(0, min(self.backoff_max, self.backoff * (2**attempt)))
        return max(delay, retry_after or 0.0)

    def post_once(self, path: str, body: bytes, stop: threading.Event) -> bytes:
        """POST ``body``; return the answer, or raise :class:`Transient` or :class:`Rejected`."""
        wait = self._not_before - time.monotonic()
        if wait > 0 and stop.wait(wait):
            raise Transient("reporter closing")
        try:
            status, headers, content = self.transport().send(path, body, self.headers())
        except Exception as exc:
            if not self._logged_network:
                self._logged_network = True
                log.warning(
                    "llm_contracts reporter cannot reach the control plane (%s: %s); "
                    "retrying in the background",
                    type(exc).__name__,
                    exc,
                )
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        headers = {k.lower(): v for k, v in headers.items()}
        if 200 <= status < 300:
            if not _is_answer(path, content):
                # A proxy, a captive portal or a wrong URL answered: nothing was stored.
                raise Transient(f"HTTP {status} with a body that is not the control plane's answer")
            return content
        retry_after = _retry_after(headers) if status in (429, 503) else None
        if retry_after is not None:
            self._not_before = time.monotonic() + retry_after
        if status in (408, 429) or status >= 500:
            raise Transient(f"HTTP {status}", retry_after, status if status in SPLIT_STATUSES else None)
        if status not in self._logged_statuses:
            self._logged_statuses.add(status)
            log.error(
                "llm_contracts control plane refused %s with HTTP %d (not retried): %s",
                path,
                status,
                content[:300].decode("utf-8", "replace"),
            )
        raise Rejected(f"HTTP {status}", status)

    def post(self, path: str, body: bytes, stop: threading.Event) -> bytes:
        """POST ``body``, retrying transient failures up to ``max_retries`` times."""
        attempt = 0
        while True:
            try:
                return self.post_once(path, body, stop)
            except Transient as exc:
                if attempt >= self.max_retries or stop.is_set():
                    raise
                self.retried += 1
                delay = self.delay(attempt, exc.retry_after)
                attempt += 1
                if stop.wait(delay):
                    raise

    def get(self, path: str, etag: str | None = None) -> TransportResponse:
        """GET ``path`` (``If-None-Match: etag`` when given); network failures raise."""
        headers = self.headers(gzip_body=False)
        if etag:
            headers["If-None-Match"] = etag
        return self.transport().send(path, None, headers)
