"""A fake OpenAI-compatible model behind a mock HTTP transport, for tests and demos.

It speaks the real wire format (JSON and server-sent events), so the real
``openai`` package parses its answers exactly as it parses OpenAI's.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeLLM", "FakeReply", "http_module"]


def http_module() -> Any:
    """Return the HTTP library the installed openai talks through (httpx2 for 3.x, httpx before)."""
    import openai

    if int(openai.__version__.split(".")[0]) >= 3:
        import httpx2

        return httpx2
    import httpx

    return httpx


_NETWORK_ERRORS = {"timeout": "ReadTimeout", "connection": "ConnectError"}


@dataclass
class FakeReply:
    """One scripted answer: text, tool calls, an HTTP error, or a network failure.

    ``raises`` is ``"timeout"`` or ``"connection"`` (the HTTP library's own exception,
    whichever library openai uses) or an exception to raise from the transport.
    ``headers`` go on the HTTP response (``Retry-After`` on a 429, say).
    """

    text: str = ""
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200
    error: dict[str, Any] | None = None
    finish_reason: str = "stop"
    chunk_size: int = 4
    refusal: str | None = None
    # The exact pieces a streamed answer arrives in (they must join to ``text``).
    chunks: list[str] | None = None
    raises: str | BaseException | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str = "fake error",
        *,
        type: str = "server_error",
        headers: dict[str, str] | None = None,
    ) -> FakeReply:
        """Return an HTTP error answer, shaped as OpenAI's error bodies."""
        return cls(
            status=status, error={"message": message, "type": type, "code": None}, headers=headers or {}
        )

    @classmethod
    def rate_limited(cls, retry_after: float = 1) -> FakeReply:
        """Return a 429 answer with ``Retry-After``."""
        return cls.http_error(
            429, "Rate limit reached", type="rate_limit_error", headers={"retry-after": str(retry_after)}
        )

    @classmethod
    def timeout(cls) -> FakeReply:
        """Return a reply that times out (openai raises ``APITimeoutError``)."""
        return cls(raises="timeout")

    @classmethod
    def connection_error(cls) -> FakeReply:
        """Return a reply that cannot connect (openai raises ``APIConnectionError``)."""
        return cls(raises="connection")


Reply = str | FakeReply | Callable[[dict[str, Any]], "str | FakeReply"]


def _words(text: str, size: int) -> list[str]:
    # Split into small pieces that end on word boundaries where possible, like tokens.
    pieces = re.findall(r"\s*\S+|\s+", text)
    out: list[str] = []
    for piece in pieces:
        while len(piece) > size * 3:
            out.append(piece[: size * 3])
            piece = piece[size * 3 :]
        out.append(piece)
    return out or [""]


def _pieces(reply: FakeReply) -> list[str]:
    if reply.chunks is None:
        return _words(reply.text, reply.chunk_size)
    if "".join(reply.chunks) != reply.text:
        raise ValueError("FakeReply.chunks must join to FakeReply.text")
    return list(reply.chunks)


class FakeLLM:
    """A scripted model. Queue answers with :meth:`reply`; unqueued calls get ``default``.

    Example::

        fake = FakeLLM(default='{"ok": true}')
        client = ContractOpenAI(api_key="test", http_client=fake.http_client())
    """

    def __init__(self, default: Reply = "OK", *, model: str = "gpt-4o-mini") -> None:
        self.default = default
        self.model = model
        self.queue: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        # The answer bodies served to generation calls (streamed ones included), in order.
        self.responses: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def reply(self, *replies: Reply) -> FakeLLM:
        """Queue answers, served in order before the default."""
        self.queue.extend(replies)
        return self

    # -- transport -----------------------------------------------------------------

    def handler(self, request: Any) -> Any:
        http = http_module()
        path = request.url.path
        body = json.loads(request.content or b"{}") if request.method == "POST" and request.content else {}
        with self._lock:
            self.paths.append(path)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            self.requests.append(body)
        if path.endswith("/models"):
            return http.Response(
                200,
                json={
                    "object": "list",
                    "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}],
                },
            )
        if path.endswith("/embeddings"):
            inputs = body.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            return http.Response(
                200,
                json={
                    "object": "list",
                    "model": body.get("model", ""),
                    "data": [
                        {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                        for i in range(count)
                    ],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                },
            )
        if path.endswith("/files") and request.method == "GET":
            return http.Response(
                200,
                json={
                    "object": "list",
                    "has_more": False,
                    "first_id": "file-1",
                    "last_id": "file-1",
                    "data": [
                        {
                            "id": "file-1",
                            "object": "file",
                            "bytes": 3,
                            "created_at": 0,
                            "filename": "a.jsonl",
                            "purpose": "fine-tune",
                            "status": "processed",
                        }
                    ],
                },
            )
        if not (
            path.endswith("/chat/completions") or path.endswith("/responses") or path.endswith("/completions")
        ):
            return http.Response(404, json={"error": {"message": f"no route {path}", "type": "not_found"}})
        with self._lock:
            reply = self.queue.popleft() if self.queue else self.default
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, str):
            reply = FakeReply(reply)
        if isinstance(reply.raises, str):
            if reply.raises not in _NETWORK_ERRORS:
                raise ValueError(
                    f"FakeReply.raises must be one of {', '.join(_NETWORK_ERRORS)} "
                    "or an exception; "
                    f"got {reply.raises!r}"
                )
            raise getattr(http, _NETWORK_ERRORS[reply.raises])(f"fake {reply.raises} error", request=request)
        if reply.raises is not None:
            raise reply.raises
        if reply.status >= 400:
            return http.Response(
                reply.status,
                headers=reply.headers,
                json={
                    "error": reply.error or {"message": "fake error", "type": "server_error", "code": None}
                },
            )
        n = next(self._ids)
        model = body.get("model", self.model)
        streaming = bool(body.get("stream"))
        if path.endswith("/responses"):
            payload = self._responses(reply, model, n)
            self.responses.append(payload)
            if streaming:
                return http.Response(
                    200,
                    headers={"content-type": "text/event-stream", **reply.headers},
                    content=self._responses_sse(reply, payload),
                )
            return http.Response(200, headers=reply.headers, json=payload)
        if path.endswith("/chat/completions"):
            self.responses.append(self._chat(reply, model, n, body))
            if streaming:
                return http.Response(
                    200,
                    headers={"content-type": "text/event-stream", **reply.headers},
                    content=self._chat_sse(reply, model, n, body),
                )
            return http.Response(200, headers=reply.headers, json=self.responses[-1])
        payload = {
            "id": f"cmpl-{n}",
            "object": "text_completion",
            "created": 0,
            "model": model,
            "choices": [
                {"index": 0, "text": reply.text, "finish_reason": reply.finish_reason, "logprobs": None}
            ],
            "usage": self._usage(body, reply),
        }
        self.responses.append(payload)
        if streaming:
            return http.Response(
                200,
                headers={"content-type": "text/event-stream", **reply.headers},
                content=self._completions_sse(reply, payload),
            )
        return http.Response(200, headers=reply.headers, json=payload)

    @staticmethod
    def _usage(body: dict[str, Any], reply: FakeReply) -> dict[str, int]:
        prompt = max(1, len(json.dumps(body.get("messages") or body.get("input") or "")) // 4)
        completion = max(1, len(reply.text) // 4)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _chat(self, reply: FakeReply, model: str, n: int, body: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text or None,
            "refusal": reply.refusal,
        }
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{n}_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for i, (name, args) in enumerate(reply.tool_calls)
            ]
        finish = "tool_calls" if reply.tool_calls else reply.finish_reason
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": self._usage(body, reply),
        }

    def _chat_sse(self, reply: FakeReply, model: str, n: int, body: dict[str, Any]) -> bytes:
        def event(delta: dict[str, Any], finish: str | None = None) -> str:
            chunk = {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk)}\n\n"

        parts = [event({"role": "assistant", "content": ""})]
        parts += [event({"content": piece}) for piece in _pieces(reply)]
        # Tool calls stream one after another: the name first, then the arguments in pieces.
        for i, (name, args) in enumerate(reply.tool_calls):
            text = args if isinstance(args, str) else json.dumps(args)
            parts.append(
                event(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": f"call_{n}_{i}",
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            step = max(1, reply.chunk_size)
            parts += [
                event({"tool_calls": [{"index": i, "function": {"arguments": text[k : k + step]}}]})
                for k in range(0, len(text), step)
            ]
        parts.append(event({}, "tool_calls" if reply.tool_calls else reply.finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            parts.append(
                "data: "
                + json.dumps(
                    {
                        "id": f"chatcmpl-{n}",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [],
                        "usage": self._usage(body, reply),
                    }
                )
                + "\n\n"
            )
        parts.append("data: [DONE]\n\n")
        return "".join(parts).encode()

    @staticmethod
    def _completions_sse(reply: FakeReply, payload: dict[str, Any]) -> bytes:
        def event(text: str, finish: str | None) -> str:
            chunk = {
                **payload,
                "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
            }
            chunk.pop("usage")
            return f"data: {json.dumps(chunk)}\n\n"

        parts = [event(piece, None) for piece in _pieces(reply)]
        parts.append(event("", reply.finish_reason))
        parts.append("data: [DONE]\n\n")
        return "".join(parts).encode()

    def _responses(self, reply: FakeReply, model: str, n: int) -> dict[str, Any]:
        output: list[dict[str, Any]] = []
        if reply.text:
            output.append(
                {
                    "type": "message",
                    "id": f"msg_{n}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
                }
            )
        for i, (name, args) in enumerate(reply.tool_calls):
            output.append(
                {
                    "type": "function_call",
                    "id": f"fc_{n}_{i}",
                    "call_id": f"call_{n}_{i}",
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                    "status": "completed",
                }
            )
        usage = max(1, len(reply.text) // 4)
        return {
            "id": f"resp_{n}",
            "object": "response",
            "created_at": 0,
            "model": model,
            "status": "completed",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "usage": {
                "input_tokens": 10,
                "output_tokens": usage,
                "total_tokens": 10 + usage,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }

    def _responses_sse(self, reply: FakeReply, payload: dict[str, Any]) -> bytes:
        seq = itertools.count()

        def event(kind: str, data: dict[str, Any]) -> str:
            data = {"type": kind, "sequence_number": next(seq), **data}
            return f"event: {kind}\ndata: {json.dumps(data)}\n\n"

        # As OpenAI's: usage arrives with response.completed only (clients that add up the
        # usage of every event would otherwise count it twice).
        created = {**payload, "status": "in_progress", "output": [], "usage": None}
        parts = [
            event("response.created", {"response": created}),
            event("response.in_progress", {"response": created}),
        ]
        # The full sequence openai's stream helpers accumulate from: item, part, deltas, done.
        for index, item in enumerate(payload["output"]):
            if item["type"] == "message":
                opened = {**item, "status": "in_progress", "content": []}
                parts.append(event("response.output_item.added", {"output_index": index, "item": opened}))
                part = {"type": "output_text", "text": "", "annotations": []}
                parts.append(
                    event(
                        "response.content_part.added",
                        {"item_id": item["id"], "output_index": index, "content_index": 0, "part": part},
                    )
                )
                for piece in _pieces(reply):
                    parts.append(
                        event(
                            "response.output_text.delta",
                            {
                                "item_id": item["id"],
                                "output_index": index,
                                "content_index": 0,
                                "delta": piece,
                                "logprobs": [],
                            },
                        )
                    )
                parts.append(
                    event(
                        "response.output_text.done",
                        {
                            "item_id": item["id"],
                            "output_index": index,
                            "content_index": 0,
                            "text": reply.text,
                            "logprobs": [],
                        },
                    )
                )
                parts.append(
                    event(
                        "response.content_part.done",
                        {
                            "item_id": item["id"],
                            "output_index": index,
                            "content_index": 0,
                            "part": item["content"][0],
                        },
                    )
                )
            else:
                opened = {**item, "status": "in_progress", "arguments": ""}
                parts.append(event("response.output_item.added", {"output_index": index, "item": opened}))
                parts.append(
                    event(
                        "response.function_call_arguments.delta",
                        {"item_id": item["id"], "output_index": index, "delta": item["arguments"]},
                    )
                )
                parts.append(
                    event(
                        "response.function_call_arguments.done",
                        {
                            "item_id": item["id"],
                            "output_index": index,
                            "arguments": item["arguments"],
                            "name": item["name"],
                        },
                    )
                )
            parts.append(event("response.output_item.done", {"output_index": index, "item": item}))
        parts.append(event("response.completed", {"response": payload}))
        return "".join(parts).encode()

    # -- clients -------------------------------------------------------------------

    def transport(self) -> Any:
        return http_module().MockTransport(self.handler)

    def http_client(self) -> Any:
        """Return a sync HTTP client of the library openai uses, served by this fake."""
        return http_module().Client(transport=self.transport())

    def async_http_client(self) -> Any:
        """Return an async HTTP client of the library openai uses, served by this fake."""
        http = http_module()

        async def handler(request: Any) -> Any:
            await request.aread()
            return self.handler(request)

        return http.AsyncClient(transport=http.MockTransport(handler))

    def last_messages(self) -> list[dict[str, Any]]:
        """Return the messages (or input items) of the last request the fake received."""
        body = self.requests[-1]
        return list(body.get("messages") or body.get("input") or [])


def texts(replies: Iterable[str]) -> list[FakeReply]:
    """Return fake replies for plain texts."""
    return [FakeReply(t) for t in replies]
