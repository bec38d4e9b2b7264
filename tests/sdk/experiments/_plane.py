"""The reporter tests' local control plane, also serving ``GET /api/v1/experiments``."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.sdk.reporting._server import API_KEY, ControlPlane


class ExperimentPlane(ControlPlane):
    """A control plane whose ``experiments`` answer is set by the test, with an ETag."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.experiments: dict[str, Any] = {"experiments": []}

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        if h.path != "/api/v1/experiments":
            return super()._get(h)
        if h.headers.get("X-API-Key") != API_KEY:
            return self._answer(h, 401, {"detail": "bad key"})
        etag = '"%x"' % (hash(json.dumps(self.experiments, sort_keys=True)) & 0xFFFFFFFF)
        sent = h.headers.get("If-None-Match")
        status = 304 if sent == etag else 200
        with self._lock:
            self.gets.append((h.path, sent, status))
        if status == 304:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return None
        return self._answer(h, 200, self.experiments, {"ETag": etag})
