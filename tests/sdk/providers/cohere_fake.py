"""A fake Cohere v2 Chat API over httpx's MockTransport, for the real ``cohere`` client."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

MODEL = "command-a-03-2025"


@dataclass
class Turn:
    """One answer: text pieces (streamed one event each), tool calls, a finish reason."""

    pieces: list[str] = field(default_factory=list)
    tools: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (id, name, arguments)
    finish_reason: str | None = None
    thinking: str | None = None
    input_tokens: int = 10
    output_tokens: int = 5
    status: int = 200
    error: str = ""
    # The wire framing of a streamed answer: the end of each field line, the blank line that
    # ends an event, JSON with raw (unescaped) non-ASCII text, and the body cut into pieces
    # of this many bytes (multi-byte characters and line ends split across pieces).
    eol: str = "\n"
    blank: str = "\n"
    raw_unicode: bool = False
    piece_size: int | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def usage(self) -> dict[str, Any]:
        return {
            "billed_units": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            "tokens": {"input_tokens": self.input_tokens + 2, "output_tokens": self.output_tokens},
        }

    def finish(self) -> str:
        return self.finish_reason or ("TOOL_CALL" if self.tools else "COMPLETE")


def text(*pieces: str, **kw: Any) -> Turn:
    return Turn(list(pieces), **kw)


def _sse(event: dict[str, Any], turn: Turn) -> bytes:
    data = json.dumps(event, ensure_ascii=not turn.raw_unicode)
    return f"event: {event['type']}{turn.eol}data: {data}{turn.eol}{turn.blank}".encode()


def _pieces(body: list[bytes], size: int | None) -> list[bytes]:
    if size is None:
        return body
    whole = b"".join(body)
    return [whole[i : i + size] for i in range(0, len(whole), size)]


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent one piece at a time, as a network would."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


class FakeCohere:
    """Answer each /v2/chat call with the next queued turn; record every request."""

    def __init__(self, *turns: Turn) -> None:
        self.turns: deque[Turn] = deque(turns)
        self.requests: list[httpx.Request] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        turn = self.turns.popleft() if self.turns else text("All clean here.")
        if turn.status != 200:
            # A short retry-after-ms: cohere's own HTTP retries wait that long, not seconds.
            return httpx.Response(
                turn.status, headers={"retry-after-ms": "1"}, json={"message": turn.error or "error"}
            )
        if body.get("stream"):
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=_Body(self.events(turn))
            )
        message: dict[str, Any] = {"role": "assistant"}
        content = [{"type": "thinking", "thinking": turn.thinking}] if turn.thinking else []
        if turn.pieces:
            content.append({"type": "text", "text": turn.text})
        if content:
            message["content"] = content
        if turn.tools:
            message["tool_plan"] = "I will call the tool."
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                for cid, name, args in turn.tools
            ]
        return httpx.Response(
            200,
            json={"id": "chat-1", "finish_reason": turn.finish(), "message": message, "usage": turn.usage()},
        )

    def events(self, turn: Turn) -> list[bytes]:
        events: list[dict[str, Any]] = [
            {
                "type": "message-start",
                "id": "chat-1",
                "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}},
            }
        ]
        if turn.thinking:
            thought = {"message": {"content": {"thinking": turn.thinking}}}
            events.append({"type": "content-delta", "index": 0, "delta": thought})
        if turn.pieces:
            events.append(
                {
                    "type": "content-start",
                    "index": 0,
                    "delta": {"message": {"content": {"type": "text", "text": ""}}},
                }
            )
            events.extend(
                {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}}
                for piece in turn.pieces
            )
            events.append({"type": "content-end", "index": 0})
        for i, (cid, name, args) in enumerate(turn.tools):
            arguments = json.dumps(args)
            half = len(arguments) // 2
            events.append(
                {
                    "type": "tool-call-start",
                    "index": i,
                    "delta": {
                        "message": {
                            "tool_calls": {
                                "id": cid,
                                "type": "function",
                                "function": {"name": name, "arguments": arguments[:half]},
                            }
                        }
                    },
                }
            )
            events.append(
                {
                    "type": "tool-call-delta",
                    "index": i,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": arguments[half:]}}}},
                }
            )
            events.append({"type": "tool-call-end", "index": i})
        events.append(
            {"type": "message-end", "delta": {"finish_reason": turn.finish(), "usage": turn.usage()}}
        )
        return _pieces([_sse(e, turn) for e in events], turn.piece_size)

    def http_client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    def async_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
