"""The async drop-in client, driven through the real openai package against the fake server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import openai
import pydantic
import pytest
from openai import AsyncStream
from openai._legacy_response import LegacyAPIResponse
from openai._response import AsyncAPIResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ParsedChatCompletion
from openai.types.responses import ParsedResponse, Response

from llm_contracts import AsyncContractOpenAI, ContractViolationError, FunctionContract, get_report
from llm_contracts.testing import FakeReply, http_module

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer in JSON."}]
BAD = '{"answer": "a forbidden word"}'


class Answer(pydantic.BaseModel):
    answer: str


def _chat_text(completion: Any) -> str:
    return completion.choices[0].message.content


async def _drain(stream: Any) -> str:
    out = []
    async for chunk in stream:
        if getattr(chunk, "type", None) == "response.output_text.delta":
            out.append(chunk.delta)
        elif getattr(chunk, "choices", None):
            assert isinstance(chunk, ChatCompletionChunk)
            out.append(chunk.choices[0].delta.content or "")
    return "".join(out)


Path = Callable[[AsyncContractOpenAI], Awaitable[tuple[Any, str, Any]]]


async def chat_create(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    r = await c.chat.completions.create(model=MODEL, messages=MESSAGES)
    return r, _chat_text(r), r


async def chat_create_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    s = await c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    return s, await _drain(s), s


async def chat_parse(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    r = await c.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer)
    assert isinstance(r.choices[0].message.parsed, Answer)
    return r, _chat_text(r), r


async def chat_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    async with c.chat.completions.stream(model=MODEL, messages=MESSAGES, response_format=Answer) as s:
        async for _ in s:
            pass
        final = await s.get_final_completion()
    return s, _chat_text(final), final


async def responses_create(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    r = await c.responses.create(model=MODEL, input="Answer in JSON.")
    return r, r.output_text, r


async def responses_create_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    s = await c.responses.create(model=MODEL, input="Answer in JSON.", stream=True)
    return s, await _drain(s), s


async def responses_parse(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    r = await c.responses.parse(model=MODEL, input="Answer in JSON.", text_format=Answer)
    return r, r.output_text, r


async def responses_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    async with c.responses.stream(model=MODEL, input="Answer in JSON.", text_format=Answer) as s:
        async for _ in s:
            pass
        final = await s.get_final_response()
    return s, final.output_text, final


async def raw_chat_create(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    raw = await c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    return raw, _chat_text(raw.parse()), raw.parse()


async def raw_chat_create_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    raw = await c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, stream=True)
    stream = raw.parse()
    return raw, await _drain(stream), stream


async def raw_chat_parse(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    raw = await c.chat.completions.with_raw_response.parse(
        model=MODEL, messages=MESSAGES, response_format=Answer
    )
    return raw, _chat_text(raw.parse()), raw.parse()


async def raw_responses_create(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    raw = await c.responses.with_raw_response.create(model=MODEL, input="Answer in JSON.")
    return raw, raw.parse().output_text, raw.parse()


async def raw_responses_create_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    raw = await c.responses.with_raw_response.create(model=MODEL, input="Answer in JSON.", stream=True)
    stream = raw.parse()
    return raw, await _drain(stream), stream


async def raw_responses_parse(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    raw = await c.responses.with_raw_response.parse(model=MODEL, input="Answer in JSON.", text_format=Answer)
    return raw, raw.parse().output_text, raw.parse()


async def streaming_chat_create(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    async with c.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES) as r:
        parsed = await r.parse()
        return r, _chat_text(parsed), parsed


async def streaming_chat_create_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    async with c.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    ) as r:
        stream = await r.parse()
        return r, await _drain(stream), stream


async def streaming_chat_parse(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    async with c.chat.completions.with_streaming_response.parse(
        model=MODEL, messages=MESSAGES, response_format=Answer
    ) as r:
        parsed = await r.parse()
        return r, _chat_text(parsed), parsed


async def streaming_responses_create(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    async with c.responses.with_streaming_response.create(model=MODEL, input="Answer in JSON.") as r:
        parsed = await r.parse()
        return r, parsed.output_text, parsed


async def streaming_responses_create_stream(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    async with c.responses.with_streaming_response.create(
        model=MODEL, input="Answer in JSON.", stream=True
    ) as r:
        stream = await r.parse()
        return r, await _drain(stream), stream


async def post_chat(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    r = await c.post("/chat/completions", cast_to=ChatCompletion, body={"model": MODEL, "messages": MESSAGES})
    return r, _chat_text(r), r


async def post_chat_as_raw_http(c: AsyncContractOpenAI) -> tuple[Any, str, Any]:
    r = await c.post(
        "/chat/completions", cast_to=http_module().Response, body={"model": MODEL, "messages": MESSAGES}
    )
    return r, r.json()["choices"][0]["message"]["content"], r


RAW = (LegacyAPIResponse,)
STREAMING = (AsyncAPIResponse,)
PATHS: dict[str, tuple[Path, tuple[type, ...], type]] = {
    "chat.completions.create": (chat_create, (ChatCompletion,), ChatCompletion),
    "chat.completions.create(stream=True)": (chat_create_stream, (AsyncStream,), AsyncStream),
    "chat.completions.parse": (chat_parse, (ParsedChatCompletion,), ParsedChatCompletion),
    "chat.completions.stream": (chat_stream, (object,), ParsedChatCompletion),
    "responses.create": (responses_create, (Response,), Response),
    "responses.create(stream=True)": (responses_create_stream, (AsyncStream,), AsyncStream),
    "responses.parse": (responses_parse, (ParsedResponse,), ParsedResponse),
    "responses.stream": (responses_stream, (object,), ParsedResponse),
    "with_raw_response.chat.completions.create": (raw_chat_create, RAW, ChatCompletion),
    "with_raw_response.chat.completions.create(stream=True)": (raw_chat_create_stream, RAW, AsyncStream),
    "with_raw_response.chat.completions.parse": (raw_chat_parse, RAW, ParsedChatCompletion),
    "with_raw_response.responses.create": (raw_responses_create, RAW, Response),
    "with_raw_response.responses.create(stream=True)": (raw_responses_create_stream, RAW, AsyncStream),
    "with_raw_response.responses.parse": (raw_responses_parse, RAW, ParsedResponse),
    "with_streaming_response.chat.completions.create": (streaming_chat_create, STREAMING, ChatCompletion),
    "with_streaming_response.chat.completions.create(stream=True)": (
        streaming_chat_create_stream,
        STREAMING,
        AsyncStream,
    ),
    "with_streaming_response.chat.completions.parse": (streaming_chat_parse, STREAMING, ParsedChatCompletion),
    "with_streaming_response.responses.create": (streaming_responses_create, STREAMING, Response),
    "with_streaming_response.responses.create(stream=True)": (
        streaming_responses_create_stream,
        STREAMING,
        AsyncStream,
    ),
    "post(cast_to=ChatCompletion)": (post_chat, (ChatCompletion,), ChatCompletion),
    "post(cast_to=httpx.Response)": (
        post_chat_as_raw_http,
        (http_module().Response,),
        http_module().Response,
    ),
}


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> tuple[Path, tuple[type, ...], type]:
    return PATHS[request.param]


@pytest.fixture
def client(make_async_client: Callable[..., AsyncContractOpenAI]) -> AsyncContractOpenAI:
    return make_async_client()


class TestEveryPath:
    async def test_a_passing_answer_comes_back_as_openais_own_type(self, client, fake, path):
        call, returned_types, final_type = path

        returned, text, final = await call(client)

        assert isinstance(returned, returned_types)
        assert isinstance(final, final_type)
        assert text == fake.default
        report = client.last_report
        assert report is not None and report.outcome == "passed"
        assert get_report(returned) is report
        assert len(fake.requests) == 1

    async def test_a_violating_answer_raises_on_every_path(self, client, fake, path):
        call, _, _ = path
        fake.reply(BAD)

        with pytest.raises(ContractViolationError) as caught:
            await call(client)

        assert caught.value.report is not None
        assert caught.value.report is client.last_report
        assert caught.value.report.outcome == "violated"
        assert caught.value.results[0].contract_name == "no_forbidden"


class TestReask:
    async def test_the_second_request_carries_the_violation_feedback_and_the_first_answer(
        self, make_async_client, fake
    ):
        client = make_async_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        completion = await client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert _chat_text(completion) == fake.default
        *history, assistant, feedback = fake.requests[1]["messages"]
        assert history == MESSAGES
        assert assistant == {"role": "assistant", "content": BAD}
        assert feedback["role"] == "user" and "no_forbidden" in feedback["content"]
        report = get_report(completion)
        assert report.outcome == "repaired"
        served = [r["usage"] for r in fake.responses]
        assert report.total_usage.completion_tokens == sum(u["completion_tokens"] for u in served)

    async def test_the_same_violation_twice_stops_re_asking_early(self, make_async_client, fake):
        client = make_async_client(contract_retries=5)
        fake.reply(BAD, BAD, fake.default)

        with pytest.raises(ContractViolationError) as caught:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert len(fake.requests) == 2
        assert "same violation" in caught.value.report.stop_reason


class TestContracts:
    async def test_async_checks_of_one_call_run_concurrently(self, make_async_client):
        started: list[str] = []
        both_started = asyncio.Event()

        def check(name: str) -> Callable[[str], Awaitable[bool]]:
            async def run(text: str) -> bool:
                started.append(name)
                if len(started) == 2:
                    both_started.set()
                # Each check waits for the other: run one after the other, they would time out.
                await asyncio.wait_for(both_started.wait(), 1)
                return True

            return run

        client = make_async_client(
            output_contracts=[FunctionContract(check("a"), name="a"), FunctionContract(check("b"), name="b")]
        )

        completion = await client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert get_report(completion).outcome == "passed"
        assert sorted(started) == ["a", "b"]

    async def test_a_fail_open_contract_that_raises_is_contained_and_counted(self, make_async_client, fake):
        def explode(text: str) -> bool:
            raise RuntimeError("contract bug")

        client = make_async_client(output_contracts=[FunctionContract(explode, name="buggy")])

        completion = await client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert _chat_text(completion) == fake.default
        assert client.get_health_report()["contracts"]["buggy"]["errors"] == 1


class TestUntouched:
    async def test_models_embeddings_and_files_make_no_report(self, client):
        models = await client.models.list()
        embeddings = await client.embeddings.create(model="text-embedding-3-small", input="a")
        files = await client.files.list()

        assert [m.id async for m in models] == [MODEL]
        assert len(embeddings.data) == 1
        assert [f.id async for f in files] == ["file-1"]
        assert client.last_report is None

    @pytest.mark.parametrize(
        ("status", "error"),
        [(500, openai.InternalServerError), (429, openai.RateLimitError), (400, openai.BadRequestError)],
    )
    async def test_openais_exceptions_pass_through_unchanged(self, client, fake, status, error):
        fake.reply(FakeReply(status=status))

        with pytest.raises(error) as caught:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert type(caught.value) is error


class TestCopies:
    @pytest.mark.parametrize(
        "make_copy",
        [lambda c: c.with_options(timeout=5), lambda c: c.copy(max_retries=1)],
        ids=["with_options", "copy"],
    )
    async def test_a_copy_is_still_contracted(self, make_async_client, fake, make_copy):
        reports: list[Any] = []
        client = make_async_client(contract_retries=1, on_report=reports.append)

        twin = make_copy(client)

        assert isinstance(twin, AsyncContractOpenAI)
        assert twin.output_contracts == client.output_contracts
        assert twin.contract_retries == 1
        fake.reply(BAD, BAD)
        with pytest.raises(ContractViolationError):
            await twin.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert len(reports) == 1

    async def test_it_wraps_an_existing_async_client_sharing_its_http_client(self, fake, no_forbidden):
        plain = openai.AsyncOpenAI(api_key="test-key", http_client=fake.async_http_client(), max_retries=0)

        client = AsyncContractOpenAI(client=plain, output_contracts=[no_forbidden()])

        assert client._client is plain._client
        fake.reply(BAD)
        with pytest.raises(ContractViolationError):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)

    async def test_a_contracted_client_leaves_a_plain_async_client_alone(self, make_async_client, fake):
        make_async_client()
        fake.reply(BAD)

        plain = openai.AsyncOpenAI(api_key="test-key", http_client=fake.async_http_client(), max_retries=0)
        completion = await plain.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert _chat_text(completion) == BAD
        assert get_report(completion) is None
