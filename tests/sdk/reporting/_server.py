"""A real local control plane for the reporter's tests: http.server in a thread, scripted answers."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key"


def free_port() -> int:
    """Return a port nobody listens on (connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ControlPlane:
    """Speak docs/protocol.md: dedupe events on event_id, answer 207, serve specs with ETags.

    ``mode`` scripts the answers to POSTs: ``ok``, ``500``, ``429`` (with ``retry_after``),
    ``400`` or ``hang`` (accept the request and never answer until stopped). ``script``
    holds one-shot modes used before falling back to ``mode``.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = "ok"
        self.script: list[str] = []
        self.retry_after = "1"
        self.received: Counter[str] = Counter()  # event_id -> times it arrived in an accepted batch
        self.events: list[dict[str, Any]] = []
        self.batches: list[dict[str, Any]] = []
        self.traces: list[dict[str, Any]] = []
        self.posts: list[tuple[float, str, str]] = []  # (time, path, answered mode)
        self.gets: list[tuple[str, str | None, int]] = []  # (path, If-None-Match, status)
        self.contracts: dict[str, Any] = {"contracts": []}
        self.breakpoints: dict[str, Any] = {"breakpoints": []}
        self.garbled: set[str] = set()  # GET paths answered with a body that is not JSON
        self.poison: set[str] = set()  # event ids that make any batch holding them a 500
        self.healthy = False  # whether GET /api/v1/health answers 200 (404 otherwise)
        self.hanging = 0
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        plane = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                plane._get(self)

            def do_POST(self) -> None:
                plane._post(self)

        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._release.clear()
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self) -> None:
        """Let hanging requests end (with a 503) and stop hanging."""
        self.mode = "ok"
        self._release.set()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())

    # -- answers ------------------------------------------------------------------------------

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        if h.path == "/api/v1/health" and self.healthy:
            return self._answer(h, 200, {"status": "ok", "database": "ok"})
        if h.headers.get("X-API-Key") != API_KEY:
            return self._answer(h, 401, {"detail": "bad key"})
        payload = {"/api/v1/contracts": self.contracts, "/api/v1/breakpoints": self.breakpoints}.get(h.path)
        if payload is None:
            return self._answer(h, 404, {"detail": "not found"})
        if h.path in self.garbled:
            h.send_response(200)
            h.send_header("Content-Length", "9")
            h.end_headers()
            h.wfile.write(b"<html>oop")
            return None
        etag = '"%x"' % (hash(json.dumps(payload, sort_keys=True)) & 0xFFFFFFFF)
        sent = h.headers.get("If-None-Match")
        status = 304 if sent == etag else 200
        with self._lock:
            self.gets.append((h.path, sent, status))
        if status == 304:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return None
        return self._answer(h, 200, payload, {"ETag": etag})

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self._lock:
            mode = self.script.pop(0) if self.script else self.mode
            self.posts.append((time.monotonic(), h.path, mode))
        if h.headers.get("X-API-Key") != API_KEY:
            return self._answer(h, 401, {"detail": "bad key"})
        if mode == "hang":
            with self._lock:
                self.hanging += 1
            self._release.wait(30)
            with self._lock:
                self.hanging -= 1
            return self._answer(h, 503, {"detail": "was hanging"})
        if mode == "500":
            return self._answer(h, 500, {"detail": "boom"})
        if mode == "429":
            return self._answer(h, 429, {"detail": "slow down"}, {"Retry-After": self.retry_after})
        if mode == "400":
            return self._answer(h, 400, {"detail": "bad batch"})
        if mode == "html200":
            # A proxy or captive portal answering in the control plane's place.
            h.send_response(200)
            h.send_header("Content-Length", "13")
            h.end_headers()
            h.wfile.write(b"<html>hi</html>"[:13])
            return None
        # The protocol allows gzip; this reporter always compresses, so insist on it.
        if h.headers.get("Content-Encoding") != "gzip":
            return self._answer(h, 415, {"detail": "expected gzip"})
        data = json.loads(gzip.decompress(raw))
        if h.path == "/api/v1/events" and any(e.get("event_id") in self.poison for e in data["events"]):
            return self._answer(h, 500, {"detail": "poisoned"})
        if h.path == "/api/v1/traces":
            with self._lock:
                self.traces.append(data)
            return self._answer(h, 201, {"trace_id": data["trace_id"]})
        results = []
        with self._lock:
            self.batches.append(data)
            for event in data["events"]:
                first = self.received[event["event_id"]] == 0
                self.received[event["event_id"]] += 1
                if first:
                    self.events.append(event)
                status = "accepted" if first else "duplicate"
                results.append({"event_id": event["event_id"], "status": status})
        accepted = sum(r["status"] == "accepted" for r in results)
        return self._answer(
            h,
            207,
            {"accepted": accepted, "duplicates": len(results) - accepted, "rejected": 0, "results": results},
        )
