"""A fake Anthropic Messages API over httpx2's MockTransport, for the real ``anthropic`` client."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx2

MODEL = "claude-sonnet-4-5"


@dataclass
class Turn:
    """One answer: text pieces (streamed one event each), tool calls, thinking, a stop reason."""

    pieces: list[str] = field(default_factory=list)
    tools: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (id, name, input)
    thinking: str | None = None
    stop_reason: str | None = None
    input_tokens: int = 10
    output_tokens: int = 5
    status: int = 200
    error: str = ""

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def text(*pieces: str, **kw: Any) -> Turn:
    return Turn(list(pieces), **kw)


class FakeAnthropic:
    """Answer each /v1/messages call with the next queued turn; record every request."""

    def __init__(self, *turns: Turn) -> None:
        self.turns: deque[Turn] = deque(turns)
        self.requests: list[httpx2.Request] = []
        # Stream each SSE event as its own piece of the body (sync clients only).
        self.chunked = False
        # The line that ends each SSE event, and JSON with raw (unescaped) non-ASCII text.
        self.blank = "\n"
        self.raw_unicode = False

    def queue(self, *turns: Turn) -> FakeAnthropic:
        self.turns.extend(turns)
        return self

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        if request.url.path.endswith("/count_tokens"):
            return httpx2.Response(200, json={"input_tokens": 42})
        turn = self.turns.popleft() if self.turns else text("All clean here.")
        if turn.status != 200:
            return httpx2.Response(
                turn.status,
                json={
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": turn.error or "bad request"},
                },
            )
        if body.get("stream"):
            events = self._sse(turn, body["model"])
            content = iter(events) if self.chunked else b"".join(events)
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=content)
        return httpx2.Response(200, json=self._message(turn, body["model"]))

    def _blocks(self, turn: Turn) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if turn.thinking is not None:
            blocks.append({"type": "thinking", "thinking": turn.thinking, "signature": "sig"})
        if turn.pieces:
            blocks.append({"type": "text", "text": turn.text, "citations": None})
        blocks += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in turn.tools]
        return blocks

    def _stop(self, turn: Turn) -> str:
        return turn.stop_reason or ("tool_use" if turn.tools else "end_turn")

    def _message(self, turn: Turn, model: str) -> dict[str, Any]:
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": self._blocks(turn),
            "stop_reason": self._stop(turn),
            "stop_sequence": None,
            "usage": {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
        }

    def _sse(self, turn: Turn, model: str) -> list[bytes]:
        events: list[tuple[str, dict[str, Any]]] = []
        start = {
            **self._message(turn, model),
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": turn.input_tokens, "output_tokens": 1},
        }
        events.append(("message_start", {"message": start}))
        index = 0
        if turn.thinking is not None:
            events.append(
                (
                    "content_block_start",
                    {"index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
                )
            )
            events.append(
                (
                    "content_block_delta",
                    {"index": index, "delta": {"type": "thinking_delta", "thinking": turn.thinking}},
                )
            )
            events.append(
                (
                    "content_block_delta",
                    {"index": index, "delta": {"type": "signature_delta", "signature": "sig"}},
                )
            )
            events.append(("content_block_stop", {"index": index}))
            index += 1
        if turn.pieces:
            events.append(
                (
                    "content_block_start",
                    {"index": index, "content_block": {"type": "text", "text": "", "citations": None}},
                )
            )
            events.append(("ping", {}))
            for piece in turn.pieces:
                events.append(
                    ("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}})
                )
            events.append(("content_block_stop", {"index": index}))
            index += 1
        for call_id, name, arguments in turn.tools:
            events.append(
                (
                    "content_block_start",
                    {
                        "index": index,
                        "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                    },
                )
            )
            raw = json.dumps(arguments)
            for cut in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                events.append(
                    (
                        "content_block_delta",
                        {"index": index, "delta": {"type": "input_json_delta", "partial_json": cut}},
                    )
                )
            events.append(("content_block_stop", {"index": index}))
            index += 1
        events.append(
            (
                "message_delta",
                {
                    "delta": {"stop_reason": self._stop(turn), "stop_sequence": None},
                    "usage": {"output_tokens": turn.output_tokens},
                },
            )
        )
        events.append(("message_stop", {}))
        return [
            f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, ensure_ascii=not self.raw_unicode)}\n"
            f"{self.blank}".encode()
            for kind, data in events
        ]

    def http_client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handler))

    def async_http_client(self) -> httpx2.AsyncClient:
        async def handler(request: httpx2.Request) -> httpx2.Response:
            await request.aread()
            return self.handler(request)

        return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
