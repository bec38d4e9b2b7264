"""The HTTP transport of the reporter: one method, so tests and apps can swap it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["HttpxTransport", "Transport", "TransportResponse"]

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
