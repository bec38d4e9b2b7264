"""OpenAI-compatible servers (vLLM, Ollama, LM Studio, Groq...) through ``ContractOpenAI(base_url=...)``.

A real HTTP server on loopback speaks the dialect those servers do: model names openai has
never heard of, no ``usage`` in streams (even when ``stream_options.include_usage`` asks
for it), sometimes no ``usage`` at all, no ``system_fingerprint``, SSE events split across
network writes, and an empty ``choices`` list in a keep-alive chunk.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from llm_contracts import (
    AsyncContractOpenAI,
    ContractOpenAI,
    ContractViolationError,
    JSONFormatContract,
    RegexContract,
    get_report,
)

MODEL = "llama3.1:8b-instruct-q4_K_M"


class Dialect:
    """Scripted answers, and what the server saw."""

    def __init__(self) -> None:
        self.answers: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.usage = True

    def next_answer(self) -> str:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(dialect: Dialect) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            dialect.bodies.append(body)
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            answer = dialect.next_answer()
            if body.get("stream"):
                self._stream(answer)
                return
            reply: dict[str, Any] = {
                "id": "chatcmpl-local",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                ],
            }
            if dialect.usage:
                reply["usage"] = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
            self._send(200, reply)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, answer: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def chunk(delta: dict[str, Any], finish: str | None = None, choices: bool = True) -> bytes:
                event = {
                    "id": "chatcmpl-local",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": MODEL,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else [],
                }
                return f"data: {json.dumps(event)}\n\n".encode()

            events = [chunk({"role": "assistant", "content": ""}), chunk({}, choices=False)]
            events += [chunk({"content": answer[i : i + 3]}) for i in range(0, len(answer), 3)]
            events += [chunk({}, "stop"), b"data: [DONE]\n\n"]
            wire = b"".join(events)
            # Network writes that cut events (and a multi-byte character) anywhere.
            for i in range(0, len(wire), 37):
                piece = wire[i : i + 37]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Dialect]]:
    dialect = Dialect()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(dialect))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", dialect
    finally:
        httpd.shutdown()
        httpd.server_close()


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def test_an_off_schema_answer_from_a_local_model_is_repaired_by_a_reask(server: tuple[str, Dialect]) -> None:
    url, dialect = server
    dialect.answers = ["Sure! The answer is 4.", '{"answer": "4"}']
    client = ContractOpenAI(
        base_url=url,
        api_key="unused",
        max_retries=0,
        contract_retries=1,
        output_contracts=[JSONFormatContract(schema=SCHEMA)],
    )
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "2+2?"}])
    assert reply.choices[0].message.content == '{"answer": "4"}'
    assert reply.model == MODEL
    report = get_report(reply)
    assert report is not None and report.outcome == "repaired" and report.model == MODEL
    assert (report.total_usage.prompt_tokens, report.total_usage.completion_tokens) == (
        22,
        14,
    )  # both attempts
    # The re-ask went to the same server, with the rejected answer quoted back.
    assert len(dialect.bodies) == 2 and "Sure! The answer is 4." in json.dumps(dialect.bodies[1]["messages"])


def test_a_server_that_reports_no_usage_is_judged_and_its_usage_left_unknown(
    server: tuple[str, Dialect],
) -> None:
    url, dialect = server
    dialect.usage = False
    dialect.answers = ['{"answer": "fine"}']
    client = ContractOpenAI(
        base_url=url, api_key="unused", max_retries=0, output_contracts=[JSONFormatContract(schema=SCHEMA)]
    )
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    report = get_report(reply)
    assert report is not None and report.outcome == "passed" and reply.usage is None


@pytest.mark.parametrize("policy", ["buffer", "sentence", "hold_back"])
def test_a_stream_without_usage_and_cut_anywhere_holds_back_a_forbidden_answer(
    server: tuple[str, Dialect], policy: str
) -> None:
    url, dialect = server
    dialect.answers = ["Héllo — the secret code is 12345. Bye."]
    client = ContractOpenAI(
        base_url=url,
        api_key="unused",
        max_retries=0,
        stream_policy=policy if policy != "hold_back" else "hold_back:16",
        output_contracts=[RegexContract(r"secret code", must_match=False, name="no_code")],
    )
    seen: list[str] = []
    with pytest.raises(ContractViolationError) as raised:
        for chunk in client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "code?"}],
            stream=True,
            stream_options={"include_usage": True},
        ):
            seen.extend(c.delta.content or "" for c in chunk.choices)
    assert "secret code" not in "".join(seen)
    assert raised.value.report is not None and raised.value.report.model == MODEL


def test_a_clean_stream_arrives_whole_and_passes(server: tuple[str, Dialect]) -> None:
    url, dialect = server
    dialect.answers = ["Héllo — nothing to hide here. Bye."]
    client = ContractOpenAI(
        base_url=url,
        api_key="unused",
        max_retries=0,
        stream_policy="sentence",
        output_contracts=[RegexContract(r"secret code", must_match=False, name="no_code")],
    )
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.delta.content or "" for chunk in stream for c in chunk.choices)
    assert text == "Héllo — nothing to hide here. Bye."
    report = get_report(stream)
    assert report is not None and report.outcome == "passed"


async def test_the_async_client_talks_to_the_same_server(server: tuple[str, Dialect]) -> None:
    url, dialect = server
    dialect.answers = ["no json here", '{"answer": "ok"}']
    client = AsyncContractOpenAI(
        base_url=url,
        api_key="unused",
        max_retries=0,
        contract_retries=1,
        output_contracts=[JSONFormatContract(schema=SCHEMA)],
    )
    reply = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    report = get_report(reply)
    assert report is not None and report.outcome == "repaired"
    await client.close()
