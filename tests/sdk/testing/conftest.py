"""A fake model behind a real HTTP server on the loopback address, for recording from the network."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from llm_contracts.testing import FakeLLM, http_module


class ModelServer:
    """Serve a ``FakeLLM`` over HTTP; ``headers`` keeps the headers of every request received."""

    def __init__(self, fake: FakeLLM) -> None:
        self.fake = fake
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                request = http_module().Request(
                    "POST", f"http://testserver{self.path}", headers=dict(self.headers.items()), content=body
                )
                response = server.fake.handler(request)
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(response.content)))
                self.send_header("x-request-id", "req_123")
                self.send_header("set-cookie", "session=secret-cookie")
                self.end_headers()
                self.wfile.write(response.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> int:
        return len(self.headers)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer(FakeLLM(default="Recorded answer."))
    yield server
    server.close()
