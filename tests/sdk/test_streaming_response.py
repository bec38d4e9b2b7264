"""``with_streaming_response`` streams as openai's does, and its body is judged as it is read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from llm_contracts import AsyncContractOpenAI, ContractOpenAI, ContractViolationError, get_report
from llm_contracts.contracts import FunctionContract, JSONFormatContract, RegexContract
from llm_contracts.testing import http_module

http = http_module()
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Hello"}]
PIECE = 64 * 1024


def always_passes() -> FunctionContract:
    return FunctionContract(lambda text: True, name="always_passes")


def chat_body(text: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
            ],
        }
    ).encode()


def chat_sse(pieces: list[str]) -> bytes:
    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        chunk = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    events = [
        event({"role": "assistant", "content": ""}),
        *(event({"content": p}) for p in pieces),
        event({}, "stop"),
        "data: [DONE]\n\n",
    ]
    return "".join(events).encode()


class Pieces(http.SyncByteStream):
    """A body sent in fixed pieces, counting how many were read and whether it was closed."""

    def __init__(self, body: bytes, size: int = PIECE) -> None:
        self.parts = [body[i : i + size] for i in range(0, len(body), size)]
        self.read = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            self.read += 1
            yield part

    def close(self) -> None:
        self.closed = True


class AsyncPieces(http.AsyncByteStream):
    def __init__(self, body: bytes, size: int = PIECE) -> None:
        self.parts = [body[i : i + size] for i in range(0, len(body), size)]
        self.read = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            self.read += 1
            yield part

    async def aclose(self) -> None:
        self.closed = True


def respond(stream: Any, **headers: str) -> Any:
    return lambda request: http.Response(
        200, headers={"content-type": "application/json", **headers}, stream=stream
    )


def sync_client(stream: Any, contracted: bool, **kwargs: Any) -> Any:
    transport = http.MockTransport(respond(stream, **kwargs.pop("h", {})))
    options = {"api_key": "test", "max_retries": 0, "http_client": http.Client(transport=transport)}
    if not contracted:
        return openai.OpenAI(**options)
    kwargs.setdefault("output_contracts", [always_passes()])
    return ContractOpenAI(**options, **kwargs)


class TestItStreamsAsOpenaiDoes:
    def test_the_body_is_not_read_on_entering_and_arrives_in_the_same_pieces(self):
        body = chat_body("x" * (PIECE * 6))
        sizes = {}
        for contracted in (False, True):
            stream = Pieces(body)
            client = sync_client(stream, contracted)
            with client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES) as r:
                assert stream.read == 0
                sizes[contracted] = [len(chunk) for chunk in r.iter_bytes()]

        assert sizes[True] == sizes[False]
        assert max(sizes[True]) <= PIECE
        assert sum(sizes[True]) == len(body)

    def test_a_decoding_error_is_raised_while_iterating_and_closes_as_openais_does(self):
        closed = {}
        for contracted in (False, True):
            stream = Pieces(b"not a compressed stream")
            client = sync_client(stream, contracted, h={"content-encoding": "gzip"})

            with client.responses.with_streaming_response.create(model=MODEL, input="Hello") as r:
                with pytest.raises(http.DecodingError):
                    list(r.iter_bytes())
                closed[contracted] = (stream.closed, r.http_response.is_closed)

        assert closed[True] == closed[False]

    async def test_async_the_body_is_not_read_on_entering_and_decoding_errors_come_while_iterating(self):
        stream = AsyncPieces(chat_body("y" * (PIECE * 3)))
        client = AsyncContractOpenAI(
            api_key="test",
            max_retries=0,
            output_contracts=[always_passes()],
            http_client=http.AsyncClient(transport=http.MockTransport(respond(stream))),
        )
        create = client.chat.completions.with_streaming_response.create
        async with create(model=MODEL, messages=MESSAGES) as r:
            assert stream.read == 0
            sizes = [len(chunk) async for chunk in r.iter_bytes()]
        assert max(sizes) <= PIECE and len(sizes) > 1

        broken = AsyncPieces(b"not a compressed stream")
        client = AsyncContractOpenAI(
            api_key="test",
            max_retries=0,
            output_contracts=[always_passes()],
            http_client=http.AsyncClient(
                transport=http.MockTransport(respond(broken, **{"content-encoding": "gzip"}))
            ),
        )
        async with client.responses.with_streaming_response.create(model=MODEL, input="Hello") as r:
            with pytest.raises(http.DecodingError):
                _ = [chunk async for chunk in r.iter_bytes()]


class TestTheBodyIsJudgedAsItIsRead:
    def test_a_json_body_is_judged_when_complete_and_reported(self):
        client = sync_client(
            Pieces(chat_body('{"ok": true}'), size=5), True, output_contracts=[JSONFormatContract()]
        )

        with client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES) as r:
            completion = r.parse()

        assert completion.choices[0].message.content == '{"ok": true}'
        assert get_report(r).outcome == "passed" and get_report(completion) is get_report(r)
        assert get_report(r).streamed is False

    @pytest.mark.parametrize("policy", ["hold_back:3", "sentence", "buffer"])
    def test_a_holding_policy_releases_no_byte_of_a_rejected_json_body(self, policy):
        client = sync_client(
            Pieces(chat_body("not JSON at all, sorry"), size=7),
            True,
            output_contracts=[JSONFormatContract()],
            stream_policy=policy,
        )
        got: list[bytes] = []

        with client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES) as r:
            with pytest.raises(ContractViolationError) as caught:
                for chunk in r.iter_bytes():
                    got.append(chunk)
            assert r.http_response.is_closed

        assert got == []
        assert caught.value.report.outcome == "violated"

    def test_immediate_streams_a_json_body_and_raises_at_its_end(self):
        body = chat_body("not JSON at all, sorry")
        client = sync_client(Pieces(body, size=7), True, output_contracts=[JSONFormatContract()])
        got: list[bytes] = []

        with (
            client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES) as r,
            pytest.raises(ContractViolationError),
        ):
            for chunk in r.iter_bytes():
                got.append(chunk)

        assert b"".join(got) == body

    @pytest.mark.parametrize("policy", ["hold_back:1", "sentence", "buffer"])
    def test_an_sse_body_never_shows_a_forbidden_match(self, policy):
        text = "The code is hunter2, keep it."
        body = chat_sse(list(text))
        client = sync_client(
            Pieces(body, size=11),
            True,
            stream_policy=policy,
            output_contracts=[RegexContract("hunter2", must_match=False)],
            h={"content-type": "text/event-stream"},
        )
        lines: list[str] = []

        with (
            client.chat.completions.with_streaming_response.create(
                model=MODEL, messages=MESSAGES, stream=True
            ) as r,
            pytest.raises(ContractViolationError) as caught,
        ):
            for line in r.iter_lines():
                lines.append(line)

        seen = "".join(
            json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
            for line in lines
            if line.startswith("data: {")
        )
        assert text.startswith(seen) and len(seen) <= text.index("hunter2")
        assert caught.value.stage == "stream"

    @pytest.mark.parametrize(("size", "newline"), [(13, b"\n"), (1, b"\n"), (1, b"\r\n"), (5, b"\r")])
    def test_an_sse_body_parsed_into_a_stream_is_judged_once(self, size, newline):
        body = chat_sse(["All ", "fine ", "here."]).replace(b"\n", newline)
        seen: list[str] = []
        contract = FunctionContract(lambda text: seen.append(text) or True, name="records", streaming=True)
        client = sync_client(
            Pieces(body, size=size),
            True,
            output_contracts=[contract],
            h={"content-type": "text/event-stream"},
        )

        with client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=MESSAGES, stream=True
        ) as r:
            chunks = list(r.parse())

        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "All fine here."
        assert seen.count("All fine here.") == 2  # the last partial check and the final one
        assert get_report(r).outcome == "passed"
