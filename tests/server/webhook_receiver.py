"""A real HTTP receiver on loopback for webhook tests, and Celery run eagerly."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dashboard import celery_app


class Receiver:
    """Record what is posted to it; answer the queued statuses, then 200."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.hosts: list[str] = []
        self.statuses: list[int] = []
        self.delay_s = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append(json.loads(body))
                receiver.hosts.append(self.headers.get("Host", ""))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Serve a webhook receiver on 127.0.0.1 for the test."""
    serving = Receiver()
    try:
        yield serving
    finally:
        serving.close()


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks in the calling process (retries included), as a worker would."""
    conf = celery_app.conf
    before = conf.task_always_eager, conf.task_eager_propagates
    # Not propagating: an eager retry is carried out only when the Retry is not re-raised.
    conf.task_always_eager, conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        conf.task_always_eager, conf.task_eager_propagates = before
