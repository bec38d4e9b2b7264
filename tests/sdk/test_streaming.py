"""Streamed answers: openai's own chunks, release policies, stops, closing and usage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from openai import AsyncStream, Stream
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseCompletedEvent, ResponseTextDeltaEvent

from llm_contracts import ContractViolationError, StreamPolicy, get_report
from llm_contracts.testing import FakeReply

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Tell me something."}]
CLEAN_TEXT = "The first sentence is fine. The second one is fine too. And a third one ends it."
BAD_TEXT = "The first sentence is fine. The second one says forbidden things here. And a third one."
STOP_TEXT = "one two three forbidden four five six seven eight nine ten"


def _delta(chunk: Any) -> str:
    if isinstance(chunk, ResponseTextDeltaEvent):
        return chunk.delta
    if isinstance(chunk, ChatCompletionChunk) and chunk.choices:
        return chunk.choices[0].delta.content or ""
    return ""


def _collect(stream: Any, got: list[Any]) -> None:
    """Append every chunk the caller receives to ``got``, even when the stream then raises."""
    for chunk in stream:
        got.append(chunk)


async def _acollect(stream: Any, got: list[Any]) -> None:
    async for chunk in stream:
        got.append(chunk)


def _text(got: list[Any]) -> str:
    return "".join(_delta(c) for c in got)


def test_chat_chunks_are_openais_chunk_objects(make_client, fake):
    client = make_client()
    fake.reply(CLEAN_TEXT)

    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    got: list[Any] = []
    _collect(stream, got)

    assert isinstance(stream, Stream)
    assert got and all(isinstance(c, ChatCompletionChunk) for c in got)
    assert _text(got) == CLEAN_TEXT


def test_responses_events_are_openais_event_objects(make_client, fake):
    client = make_client()
    fake.reply(CLEAN_TEXT)

    got: list[Any] = []
    _collect(client.responses.create(model=MODEL, input="Tell me something.", stream=True), got)

    assert any(isinstance(c, ResponseTextDeltaEvent) for c in got)
    assert isinstance(got[-1], ResponseCompletedEvent)
    assert _text(got) == CLEAN_TEXT


def test_legacy_completion_streams_are_validated_too(make_client, fake, no_forbidden):
    client = make_client(output_contracts=[no_forbidden(streaming=True, severity="critical")])
    fake.reply(STOP_TEXT)
    got: list[Any] = []

    with pytest.raises(ContractViolationError):
        for chunk in client.completions.create(model=MODEL, prompt="Count.", stream=True):
            got.append(chunk.choices[0].text)

    assert "".join(got) == "one two three"


class TestClosing:
    def test_leaving_the_context_manager_early_closes_the_response_and_reports_it(self, make_client, fake):
        reports: list[Any] = []
        client = make_client(on_report=reports.append)
        fake.reply(CLEAN_TEXT)

        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            next(stream)

        assert stream.response.is_closed
        assert reports == [get_report(stream)]
        assert "closed by caller" in reports[0].stop_reason

    def test_close_before_the_first_chunk_is_reported_too(self, make_client, fake):
        client = make_client()

        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        stream.close()

        assert stream.response.is_closed
        assert "closed by caller" in get_report(stream).stop_reason

    def test_a_stream_read_to_the_end_is_reported_once(self, make_client, fake):
        reports: list[Any] = []
        client = make_client(on_report=reports.append)

        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            list(stream)

        assert [r.outcome for r in reports] == ["passed"]
        assert reports[0].stop_reason is None

    async def test_async_leaving_the_context_manager_early_closes_the_response(self, make_async_client, fake):
        client = make_async_client()
        fake.reply(CLEAN_TEXT)

        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            await stream.__anext__()

        assert isinstance(stream, AsyncStream)
        assert stream.response.is_closed
        assert "closed by caller" in get_report(stream).stop_reason

    async def test_async_close_awaits_the_end_of_the_stream(self, make_async_client, fake):
        client = make_async_client()
        fake.reply(CLEAN_TEXT)

        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        await stream.__anext__()
        await stream.close()

        assert stream.response.is_closed
        assert "closed by caller" in get_report(stream).stop_reason
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()


class TestImmediatePolicy:
    @pytest.fixture
    def client(self, make_client, no_forbidden):
        return make_client(output_contracts=[no_forbidden(streaming=True, severity="critical")])

    def test_a_critical_violation_stops_the_stream_at_once_and_closes_the_response(self, client, fake):
        fake.reply(STOP_TEXT)
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        got: list[Any] = []

        with pytest.raises(ContractViolationError) as caught:
            _collect(stream, got)

        assert _text(got) == "one two three"
        assert caught.value.stage == "stream"
        assert caught.value.report is get_report(stream) is client.last_report
        assert stream.response.is_closed

    def test_a_clean_stream_is_delivered_whole(self, client, fake):
        fake.reply(STOP_TEXT.replace("forbidden", "allowed"))
        got: list[Any] = []

        _collect(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True), got)

        assert _text(got) == STOP_TEXT.replace("forbidden", "allowed")

    async def test_async_a_critical_violation_stops_the_stream_and_closes_the_response(
        self, make_async_client, fake, no_forbidden
    ):
        client = make_async_client(output_contracts=[no_forbidden(streaming=True, severity="critical")])
        fake.reply(STOP_TEXT)
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        got: list[Any] = []

        with pytest.raises(ContractViolationError):
            await _acollect(stream, got)

        assert _text(got) == "one two three"
        assert stream.response.is_closed

    def test_the_final_text_is_validated_when_the_stream_ends(self, make_client, fake, no_forbidden):
        # A contract that does not stream judges the whole answer, after the last chunk.
        client = make_client(output_contracts=[no_forbidden()])
        fake.reply(STOP_TEXT)
        got: list[Any] = []

        with pytest.raises(ContractViolationError) as caught:
            _collect(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True), got)

        assert _text(got) == STOP_TEXT
        assert "final" in caught.value.report.stop_reason


POLICIES = {
    "hold_back": StreamPolicy.hold_back(8),
    "sentence": StreamPolicy.sentence(),
    "buffer": StreamPolicy.buffer(),
}


@pytest.fixture(params=list(POLICIES))
def policy(request: pytest.FixtureRequest) -> StreamPolicy:
    return POLICIES[request.param]


@pytest.fixture(params=[4, 1], ids=["word-chunks", "split-word-chunks"])
def chunk_size(request: pytest.FixtureRequest) -> int:
    return request.param


STREAMS: dict[str, Callable[[Any], Any]] = {
    "chat": lambda c: c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True),
    "responses": lambda c: c.responses.create(model=MODEL, input="Tell me something.", stream=True),
}


@pytest.fixture(params=list(STREAMS))
def open_stream(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    return STREAMS[request.param]


class TestHeldPolicies:
    """With every policy but immediate, text a check rejects never reaches the caller."""

    @pytest.fixture
    def client(self, make_client, no_forbidden, policy):
        return make_client(output_contracts=[no_forbidden(streaming=True)], stream_policy=policy)

    def test_rejected_text_never_reaches_the_caller(self, client, fake, chunk_size, open_stream):
        fake.reply(FakeReply(BAD_TEXT, chunk_size=chunk_size))
        got: list[Any] = []

        with pytest.raises(ContractViolationError) as caught:
            _collect(open_stream(client), got)

        assert "forbidden" not in _text(got)
        assert caught.value.stage == "stream"
        assert caught.value.report.outcome == "violated"

    def test_clean_text_is_fully_delivered_in_order(self, client, fake, chunk_size, open_stream):
        fake.reply(FakeReply(CLEAN_TEXT, chunk_size=chunk_size))
        got: list[Any] = []

        _collect(open_stream(client), got)

        assert _text(got) == CLEAN_TEXT
        assert client.last_report.outcome == "passed"

    def test_the_sentence_policy_releases_whole_sentences_only(
        self, make_client, fake, no_forbidden, chunk_size
    ):
        client = make_client(output_contracts=[no_forbidden(streaming=True)], stream_policy="sentence")
        fake.reply(FakeReply(BAD_TEXT, chunk_size=chunk_size))
        got: list[Any] = []

        with pytest.raises(ContractViolationError):
            _collect(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True), got)

        assert _text(got) == "The first sentence is fine."

    def test_a_violation_of_the_final_text_holds_back_the_rest(self, make_client, fake, no_forbidden, policy):
        # Only the complete answer is judged here, so the held tail is what protects the caller.
        client = make_client(output_contracts=[no_forbidden()], stream_policy=policy)
        fake.reply("Everything before is fine. The end is forbidden")
        got: list[Any] = []

        with pytest.raises(ContractViolationError):
            _collect(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True), got)

        assert "forbidden" not in _text(got)

    async def test_async_rejected_text_never_reaches_the_caller(
        self, make_async_client, fake, no_forbidden, policy, chunk_size
    ):
        client = make_async_client(output_contracts=[no_forbidden(streaming=True)], stream_policy=policy)
        fake.reply(FakeReply(BAD_TEXT, chunk_size=chunk_size))
        got: list[Any] = []

        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(ContractViolationError):
            await _acollect(stream, got)

        assert "forbidden" not in _text(got)
        assert stream.response.is_closed


def test_a_delta_that_starts_the_next_sentence_waits_for_its_check(no_forbidden):
    from llm_contracts.contracts._base import ValidationContext
    from llm_contracts.enforcement import ContractEngine
    from llm_contracts.enforcement._report import ContractReport
    from llm_contracts.enforcement._streaming import StreamValidator

    validator = StreamValidator(
        engine=ContractEngine(output_contracts=[no_forbidden(streaming=True)]),
        policy=StreamPolicy.sentence(),
        report=ContractReport(),
        context=ValidationContext(),
        delta_text=lambda chunk: chunk,
        chunk_usage=lambda chunk: None,
        on_done=lambda report: None,
    )

    assert validator.feed("It is fine") == []
    assert validator.feed(". But for") == ["It is fine"]
    with pytest.raises(ContractViolationError):
        validator.feed("bidden")


class TestUsage:
    def test_usage_of_a_chat_stream_lands_in_the_report(self, make_client, fake):
        client = make_client()
        fake.reply(CLEAN_TEXT)

        stream = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        got = list(stream)

        usage = got[-1].usage
        report = get_report(stream)
        assert usage is not None and usage.completion_tokens > 0
        assert report.total_usage.prompt_tokens == usage.prompt_tokens
        assert report.total_usage.completion_tokens == usage.completion_tokens

    def test_usage_of_a_responses_stream_lands_in_the_report(self, make_client, fake):
        client = make_client()

        stream = client.responses.create(model=MODEL, input="Tell me something.", stream=True)
        got = list(stream)

        usage = got[-1].response.usage
        assert get_report(stream).total_usage.completion_tokens == usage.output_tokens


class TestIncrementalStreamChecks:
    def test_the_scan_window_starts_at_a_word_before_the_overlap(self):
        from llm_contracts.contracts._base import ValidationContext, stream_window

        text = "word " * 400
        context = ValidationContext(metadata={"stream_checked": 1000})
        start = stream_window(text, context, overlap=256)
        assert 0 < start <= 1000 - 256
        assert text[start - 1] == " "
        assert stream_window(text, ValidationContext(), overlap=256) == 0

    def test_a_forbidden_phrase_far_into_a_long_stream_is_still_caught_across_chunks(self):
        from llm_contracts import ContractOpenAI, ContractViolationError
        from llm_contracts.contracts import RegexContract
        from llm_contracts.testing import FakeLLM, FakeReply

        text = "All fine here. " * 400 + "Now the secret code is 12345 indeed."
        fake = FakeLLM().reply(FakeReply(text, chunk_size=2))
        client = ContractOpenAI(
            api_key="t",
            http_client=fake.http_client(),
            stream_policy="hold_back:6",
            output_contracts=[RegexContract(r"secret code is \d+", must_match=False, severity="critical")],
        )
        shown = []
        with pytest.raises(ContractViolationError):
            for chunk in client.chat.completions.create(
                model="gpt-4o", stream=True, messages=[{"role": "user", "content": "go"}]
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    shown.append(chunk.choices[0].delta.content)
        seen = "".join(shown)
        assert seen.startswith("All fine here.")
        assert "12345" not in seen
