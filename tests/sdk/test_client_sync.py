"""The sync drop-in client, driven through the real openai package against the fake server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import openai
import pydantic
import pytest
from openai import Stream
from openai._legacy_response import LegacyAPIResponse
from openai._response import APIResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ParsedChatCompletion
from openai.types.responses import ParsedResponse, Response

from llm_contracts import (
    ContractOpenAI,
    ContractViolationError,
    FunctionContract,
    StreamPolicy,
    get_report,
)
from llm_contracts.testing import FakeLLM, FakeReply, http_module

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer in JSON."}]
BAD = '{"answer": "a forbidden word"}'


class Answer(pydantic.BaseModel):
    answer: str


def _chat_text(completion: Any) -> str:
    return completion.choices[0].message.content


def _chunk_text(chunks: list[Any]) -> str:
    # Chat chunks carry choices[0].delta.content; Responses events carry .delta on text events.
    out = []
    for chunk in chunks:
        if getattr(chunk, "type", None) == "response.output_text.delta":
            out.append(chunk.delta)
        elif getattr(chunk, "choices", None):
            out.append(chunk.choices[0].delta.content or "")
    return "".join(out)


# Every way openai reaches a generation endpoint. Each entry calls the client, consumes
# what it returned, and gives back (what openai returned, the answer text, its final object).
# (openai has no responses.with_streaming_response.parse.)


def chat_create(c: ContractOpenAI) -> tuple[Any, str, Any]:
    r = c.chat.completions.create(model=MODEL, messages=MESSAGES)
    return r, _chat_text(r), r


def chat_create_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    s = c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    chunks = list(s)
    assert all(isinstance(ch, ChatCompletionChunk) for ch in chunks)
    return s, _chunk_text(chunks), s


def chat_parse(c: ContractOpenAI) -> tuple[Any, str, Any]:
    r = c.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer)
    assert isinstance(r.choices[0].message.parsed, Answer)
    return r, _chat_text(r), r


def chat_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    with c.chat.completions.stream(model=MODEL, messages=MESSAGES, response_format=Answer) as s:
        for _ in s:
            pass
        final = s.get_final_completion()
    return s, _chat_text(final), final


def responses_create(c: ContractOpenAI) -> tuple[Any, str, Any]:
    r = c.responses.create(model=MODEL, input="Answer in JSON.")
    return r, r.output_text, r


def responses_create_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    s = c.responses.create(model=MODEL, input="Answer in JSON.", stream=True)
    return s, _chunk_text(list(s)), s


def responses_parse(c: ContractOpenAI) -> tuple[Any, str, Any]:
    r = c.responses.parse(model=MODEL, input="Answer in JSON.", text_format=Answer)
    assert isinstance(r.output_parsed, Answer)
    return r, r.output_text, r


def responses_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    with c.responses.stream(model=MODEL, input="Answer in JSON.", text_format=Answer) as s:
        for _ in s:
            pass
        final = s.get_final_response()
    return s, final.output_text, final


def raw_chat_create(c: ContractOpenAI) -> tuple[Any, str, Any]:
    raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    return raw, _chat_text(raw.parse()), raw.parse()


def raw_chat_create_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    raw = c.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, stream=True)
    stream = raw.parse()
    assert isinstance(stream, Stream)
    return raw, _chunk_text(list(stream)), stream


def raw_chat_parse(c: ContractOpenAI) -> tuple[Any, str, Any]:
    raw = c.chat.completions.with_raw_response.parse(model=MODEL, messages=MESSAGES, response_format=Answer)
    return raw, _chat_text(raw.parse()), raw.parse()


def raw_responses_create(c: ContractOpenAI) -> tuple[Any, str, Any]:
    raw = c.responses.with_raw_response.create(model=MODEL, input="Answer in JSON.")
    return raw, raw.parse().output_text, raw.parse()


def raw_responses_create_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    raw = c.responses.with_raw_response.create(model=MODEL, input="Answer in JSON.", stream=True)
    stream = raw.parse()
    return raw, _chunk_text(list(stream)), stream


def raw_responses_parse(c: ContractOpenAI) -> tuple[Any, str, Any]:
    raw = c.responses.with_raw_response.parse(model=MODEL, input="Answer in JSON.", text_format=Answer)
    return raw, raw.parse().output_text, raw.parse()


def streaming_chat_create(c: ContractOpenAI) -> tuple[Any, str, Any]:
    with c.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES) as r:
        return r, _chat_text(r.parse()), r.parse()


def streaming_chat_create_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    with c.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES, stream=True) as r:
        stream = r.parse()
        assert isinstance(stream, Stream)
        return r, _chunk_text(list(stream)), stream


def streaming_chat_parse(c: ContractOpenAI) -> tuple[Any, str, Any]:
    with c.chat.completions.with_streaming_response.parse(
        model=MODEL, messages=MESSAGES, response_format=Answer
    ) as r:
        return r, _chat_text(r.parse()), r.parse()


def streaming_responses_create(c: ContractOpenAI) -> tuple[Any, str, Any]:
    with c.responses.with_streaming_response.create(model=MODEL, input="Answer in JSON.") as r:
        return r, r.parse().output_text, r.parse()


def streaming_responses_create_stream(c: ContractOpenAI) -> tuple[Any, str, Any]:
    with c.responses.with_streaming_response.create(model=MODEL, input="Answer in JSON.", stream=True) as r:
        stream = r.parse()
        return r, _chunk_text(list(stream)), stream


def post_chat(c: ContractOpenAI) -> tuple[Any, str, Any]:
    r = c.post("/chat/completions", cast_to=ChatCompletion, body={"model": MODEL, "messages": MESSAGES})
    return r, _chat_text(r), r


def post_chat_as_raw_http(c: ContractOpenAI) -> tuple[Any, str, Any]:
    # cast_to=httpx.Response: openai hands back the HTTP response untouched; the contracts
    # judge the JSON it carries.
    r = c.post(
        "/chat/completions", cast_to=http_module().Response, body={"model": MODEL, "messages": MESSAGES}
    )
    return r, r.json()["choices"][0]["message"]["content"], r


RAW = (LegacyAPIResponse,)
STREAMING = (APIResponse,)
PATHS: dict[str, tuple[Callable[[ContractOpenAI], tuple[Any, str, Any]], tuple[type, ...], type]] = {
    "chat.completions.create": (chat_create, (ChatCompletion,), ChatCompletion),
    "chat.completions.create(stream=True)": (chat_create_stream, (Stream,), Stream),
    "chat.completions.parse": (chat_parse, (ParsedChatCompletion,), ParsedChatCompletion),
    "chat.completions.stream": (chat_stream, (object,), ParsedChatCompletion),
    "responses.create": (responses_create, (Response,), Response),
    "responses.create(stream=True)": (responses_create_stream, (Stream,), Stream),
    "responses.parse": (responses_parse, (ParsedResponse,), ParsedResponse),
    "responses.stream": (responses_stream, (object,), ParsedResponse),
    "with_raw_response.chat.completions.create": (raw_chat_create, RAW, ChatCompletion),
    "with_raw_response.chat.completions.create(stream=True)": (raw_chat_create_stream, RAW, Stream),
    "with_raw_response.chat.completions.parse": (raw_chat_parse, RAW, ParsedChatCompletion),
    "with_raw_response.responses.create": (raw_responses_create, RAW, Response),
    "with_raw_response.responses.create(stream=True)": (raw_responses_create_stream, RAW, Stream),
    "with_raw_response.responses.parse": (raw_responses_parse, RAW, ParsedResponse),
    "with_streaming_response.chat.completions.create": (streaming_chat_create, STREAMING, ChatCompletion),
    "with_streaming_response.chat.completions.create(stream=True)": (
        streaming_chat_create_stream,
        STREAMING,
        Stream,
    ),
    "with_streaming_response.chat.completions.parse": (streaming_chat_parse, STREAMING, ParsedChatCompletion),
    "with_streaming_response.responses.create": (streaming_responses_create, STREAMING, Response),
    "with_streaming_response.responses.create(stream=True)": (
        streaming_responses_create_stream,
        STREAMING,
        Stream,
    ),
    "post(cast_to=ChatCompletion)": (post_chat, (ChatCompletion,), ChatCompletion),
    "post(cast_to=httpx.Response)": (
        post_chat_as_raw_http,
        (http_module().Response,),
        http_module().Response,
    ),
}


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> tuple[Callable[..., Any], tuple[type, ...], type]:
    return PATHS[request.param]


@pytest.fixture
def client(make_client: Callable[..., ContractOpenAI]) -> ContractOpenAI:
    return make_client()


class TestEveryPath:
    def test_a_passing_answer_comes_back_as_openais_own_type(self, client, fake, path):
        call, returned_types, final_type = path

        returned, text, final = call(client)

        assert isinstance(returned, returned_types)
        assert isinstance(final, final_type)
        assert text == fake.default
        report = client.last_report
        assert report is not None and report.outcome == "passed"
        assert get_report(returned) is report
        assert len(fake.requests) == 1

    def test_a_violating_answer_raises_on_every_path(self, client, fake, path):
        call, _, _ = path
        fake.reply(BAD)

        with pytest.raises(ContractViolationError) as caught:
            call(client)

        assert caught.value.report is not None
        assert caught.value.report is client.last_report
        assert caught.value.report.outcome == "violated"
        assert caught.value.results[0].contract_name == "no_forbidden"


class TestLegacyCompletions:
    def test_a_passing_completion_comes_back_as_openais_completion(self, client, fake):
        completion = client.completions.create(model=MODEL, prompt="Say something.")

        assert isinstance(completion, openai.types.Completion)
        assert completion.choices[0].text == fake.default
        assert get_report(completion).endpoint == "/completions"

    def test_a_violating_completion_raises(self, client, fake):
        fake.reply(BAD)

        with pytest.raises(ContractViolationError):
            client.completions.create(model=MODEL, prompt="Say something.")


def test_the_report_is_reachable_from_what_a_raw_response_parses_to(client):
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)

    assert get_report(raw.parse()) is get_report(raw) is client.last_report


def test_the_report_never_shows_up_in_the_response_data(client):
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert "report" not in completion.model_dump_json()
    assert get_report(completion) is not None


class TestReask:
    def test_the_second_request_carries_the_violation_feedback_and_the_first_answer(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert _chat_text(completion) == fake.default
        assert len(fake.requests) == 2
        *history, assistant, feedback = fake.requests[1]["messages"]
        assert history == MESSAGES
        assert assistant == {"role": "assistant", "content": BAD}
        assert feedback["role"] == "user"
        assert "no_forbidden" in feedback["content"]
        report = get_report(completion)
        assert report.outcome == "repaired"
        assert report.retries == 1
        assert report.attempts[1].feedback == feedback["content"]

    def test_responses_reask_with_the_first_answer_and_the_feedback_as_input_items(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        response = client.responses.create(model=MODEL, input="Answer in JSON.")

        assert response.output_text == fake.default
        items = fake.requests[1]["input"]
        assert items[0] == {"role": "user", "content": "Answer in JSON."}
        assert items[1] == {"role": "assistant", "content": BAD}
        assert items[2]["role"] == "user" and "no_forbidden" in items[2]["content"]

    def test_the_usage_of_every_attempt_is_summed(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)

        served = [r["usage"] for r in fake.responses]
        report = get_report(completion)
        assert len(served) == 2
        assert report.total_usage.prompt_tokens == sum(u["prompt_tokens"] for u in served)
        assert report.total_usage.completion_tokens == sum(u["completion_tokens"] for u in served)
        # The caller's own object carries the sum too; each attempt's figures stay in the report.
        assert completion.usage.prompt_tokens == report.total_usage.prompt_tokens
        assert report.attempts[1].usage.prompt_tokens == served[1]["prompt_tokens"]

    def test_the_same_violation_twice_stops_re_asking_early(self, make_client, fake):
        client = make_client(contract_retries=5)
        fake.reply(BAD, BAD, fake.default)

        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert len(fake.requests) == 2
        assert "same violation" in caught.value.report.stop_reason

    def test_a_spent_token_budget_stops_re_asking(self, make_client, fake):
        client = make_client(contract_retries=5, retry_budget_tokens=1)
        fake.reply(BAD, fake.default)

        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert len(fake.requests) == 1
        assert "budget" in caught.value.report.stop_reason

    def test_a_violating_answer_is_never_returned_in_place_of_a_passing_one(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply('{"answer": "forbidden one"}', '{"answer": "forbidden two"}', fake.default)

        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert len(fake.requests) == 2
        assert [a.text for a in caught.value.report.attempts] == [
            '{"answer": "forbidden one"}',
            '{"answer": "forbidden two"}',
        ]
        assert caught.value.report.outcome == "violated"

    def test_a_re_ask_drops_the_idempotency_key_so_it_is_a_new_request(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        client.chat.completions.create(
            model=MODEL, messages=MESSAGES, extra_headers={"Idempotency-Key": "k1"}
        )

        assert [h.get("idempotency-key") for h in fake.headers] == ["k1", None]


class TestEnforcementLevels:
    @pytest.fixture
    def run(self, make_client, fake, no_forbidden):
        def run(enforcement: str) -> tuple[ContractOpenAI, Any]:
            client = make_client(output_contracts=[no_forbidden(enforcement=enforcement)])
            fake.reply(BAD)
            return client, client.chat.completions.create(model=MODEL, messages=MESSAGES)

        return run

    def test_strict_raises(self, run):
        with pytest.raises(ContractViolationError):
            run("strict")

    def test_warn_logs_counts_and_returns_the_answer(self, run, caplog):
        with caplog.at_level(logging.WARNING, logger="llm_contracts"):
            client, completion = run("warn")

        assert _chat_text(completion) == BAD
        assert get_report(completion).outcome == "warned"
        assert any("no_forbidden" in r.getMessage() for r in caplog.records)
        assert client.get_health_report()["contracts"]["no_forbidden"]["violations"] == 1

    def test_monitor_only_counts(self, run, caplog):
        with caplog.at_level(logging.DEBUG, logger="llm_contracts"):
            client, completion = run("monitor")

        assert _chat_text(completion) == BAD
        assert [r for r in caplog.records if r.name.startswith("llm_contracts")] == []
        assert client.get_health_report()["contracts"]["no_forbidden"]["violations"] == 1


def _explode(text: str) -> bool:
    raise RuntimeError("contract bug")


class TestARaisingContract:
    def test_a_fail_open_contract_that_raises_lets_the_call_through_and_counts_an_error(
        self, make_client, fake
    ):
        client = make_client(output_contracts=[FunctionContract(_explode, name="buggy")])

        completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert _chat_text(completion) == fake.default
        result = get_report(completion).output_results[0]
        assert result.error and result.is_valid
        stats = client.get_health_report()["contracts"]["buggy"]
        assert stats["errors"] == 1 and stats["violations"] == 0

    def test_a_fail_closed_contract_that_raises_is_a_violation(self, make_client, fake):
        client = make_client(output_contracts=[FunctionContract(_explode, name="buggy", fail_open=False)])

        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert caught.value.results[0].error
        assert client.get_health_report()["contracts"]["buggy"]["errors"] == 1


class TestInputContracts:
    @pytest.fixture
    def client(self, make_client):
        return make_client(input_contracts=[FunctionContract(lambda t: "secret" not in t, name="no_secret")])

    def test_a_rejected_request_is_never_sent(self, client, fake):
        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "a secret"}])

        assert caught.value.stage == "input"
        assert caught.value.report is client.last_report
        assert fake.requests == []

    def test_an_accepted_request_is_sent_unchanged(self, client, fake):
        client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0.2)

        assert fake.requests == [{"model": MODEL, "messages": MESSAGES, "temperature": 0.2}]


class TestUntouchedResources:
    def test_models_embeddings_and_files_behave_as_openais_and_make_no_report(self, client, fake):
        plain = openai.OpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0)

        for c in (plain, client):
            models = c.models.list()
            embeddings = c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
            files = c.files.list()
            assert [m.id for m in models] == [MODEL]
            assert len(embeddings.data) == 2
            assert [f.id for f in files] == ["file-1"]
            assert get_report(models) is get_report(embeddings) is get_report(files) is None
        assert client.last_report is None

    @pytest.mark.parametrize(
        ("status", "error"),
        [(500, openai.InternalServerError), (429, openai.RateLimitError), (400, openai.BadRequestError)],
    )
    def test_openais_exceptions_pass_through_unchanged(self, client, fake, status, error):
        fake.reply(FakeReply(status=status))

        with pytest.raises(error) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert type(caught.value) is error
        assert caught.value.status_code == status


class TestCopies:
    @pytest.fixture
    def configured(self, make_client, no_forbidden):
        reports: list[Any] = []
        return make_client(
            output_contracts=[no_forbidden()],
            contract_retries=2,
            stream_policy="sentence",
            on_report=reports.append,
        ), reports

    @pytest.mark.parametrize(
        "make_copy",
        [lambda c: c.with_options(timeout=5), lambda c: c.copy(max_retries=1)],
        ids=["with_options", "copy"],
    )
    def test_a_copy_is_still_contracted_with_the_same_settings_and_listeners(
        self, configured, fake, make_copy
    ):
        client, reports = configured

        twin = make_copy(client)

        assert isinstance(twin, ContractOpenAI)
        assert twin.output_contracts == client.output_contracts
        assert twin.contract_retries == 2
        assert twin._contract_settings.stream_policy == StreamPolicy.sentence()
        fake.reply(BAD, BAD)
        with pytest.raises(ContractViolationError):
            twin.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert len(reports) == 1

    def test_a_copy_keeps_the_options_it_was_given(self, configured):
        client, _ = configured

        assert client.with_options(timeout=5).timeout == 5
        assert client.copy(max_retries=1).max_retries == 1

    def test_it_wraps_an_existing_client_sharing_its_http_client(self, fake, no_forbidden):
        http_client = fake.http_client()
        plain = openai.OpenAI(
            api_key="test-key", http_client=http_client, max_retries=0, base_url="http://fake.test/v1"
        )

        client = ContractOpenAI(client=plain, output_contracts=[no_forbidden()])

        assert client._client is plain._client
        assert client.base_url == plain.base_url
        assert client.api_key == "test-key"
        fake.reply(BAD)
        with pytest.raises(ContractViolationError):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert fake.paths == ["/v1/chat/completions"]

    def test_a_contracted_client_leaves_a_plain_openai_client_alone(self, make_client, fake):
        make_client()
        fake.reply(BAD)

        plain = openai.OpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0)
        completion = plain.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert _chat_text(completion) == BAD
        assert get_report(completion) is None
        assert openai.OpenAI.request is not ContractOpenAI.request


def test_a_breaker_given_to_a_client_is_the_one_it_uses(make_client):
    from llm_contracts import CircuitBreaker

    breaker = CircuitBreaker(failure_threshold=3)

    assert make_client(circuit_breaker=breaker).circuit_breaker is breaker


def test_fake_requests_record_what_was_sent(fake: FakeLLM, client):
    client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert fake.paths == ["/v1/chat/completions"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_call_with_nothing_to_check_has_one_vacuous_report(stream: bool) -> None:
    # The report of an unobserved call is built when first read; every reader gets the same one.
    client = ContractOpenAI(api_key="test", http_client=FakeLLM().reply("hi").http_client())
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=stream
    )
    if stream:
        list(reply)
    report = get_report(reply)
    assert report is not None
    assert report is get_report(reply) is client.last_report
    assert (report.outcome, report.stop_reason, report.results) == ("passed", "no contracts to check", [])
    assert (report.provider, report.endpoint, report.model, report.streamed) == (
        "openai",
        "/chat/completions",
        "gpt-4o-mini",
        stream,
    )
