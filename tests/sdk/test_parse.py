"""openai's parse helpers: an answer that does not fit ``response_format`` is a violation."""

from __future__ import annotations

import pydantic
import pytest
from openai.types.chat import ParsedChatCompletion
from openai.types.responses import ParsedResponse

from llm_contracts import ContractViolationError, ResponseFormatViolationError, get_report
from llm_contracts.contracts import PydanticContract

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer in JSON."}]
GOOD = '{"answer": "all clean here"}'
MISFIT = '{"reply": "the wrong field"}'


class Answer(pydantic.BaseModel):
    answer: str


def chat_parse(client):
    return client.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer)


def responses_parse(client):
    return client.responses.parse(model=MODEL, input="Answer in JSON.", text_format=Answer)


def parsed_of(reply):
    if isinstance(reply, ParsedResponse):
        return reply.output_parsed
    return reply.choices[0].message.parsed


PARSERS = [
    pytest.param(chat_parse, ParsedChatCompletion, id="chat"),
    pytest.param(responses_parse, ParsedResponse, id="responses"),
]


class TestSyncParse:
    @pytest.mark.parametrize(("call", "parsed_type"), PARSERS)
    @pytest.mark.parametrize("contracts", [[], [PydanticContract(Answer)]], ids=["no-contract", "pydantic"])
    def test_a_misfit_is_re_asked_and_the_parsed_answer_returned(
        self, make_client, fake, call, parsed_type, contracts
    ):
        client = make_client(output_contracts=contracts, contract_retries=1)
        fake.reply(MISFIT, GOOD)

        reply = call(client)

        assert isinstance(reply, parsed_type)
        assert parsed_of(reply) == Answer(answer="all clean here")
        report = get_report(reply)
        assert report.outcome == "repaired"
        assert client.last_report is report
        assert len(fake.requests) == 2
        first = report.attempts[0].results
        assert any(r.contract_name == "response_format" and not r.is_valid for r in first)
        # The re-ask quotes the misfit and names the missing field.
        feedback = fake.last_messages()[-1]["content"]
        assert "response_format" in feedback and "answer: Field required" in feedback
        assert '{\\"reply\\": \\"the wrong field\\"}' in feedback

    @pytest.mark.parametrize(("call", "parsed_type"), PARSERS)
    def test_with_no_retries_left_it_raises_a_contract_violation(self, make_client, fake, call, parsed_type):
        client = make_client(output_contracts=[], contract_retries=1)
        fake.reply(MISFIT, "not even JSON")

        with pytest.raises(ContractViolationError) as caught:
            call(client)

        # Our violation, with its report; and pydantic's error too, as openai raises for
        # such an answer, so `except ValidationError` written for openai still catches it.
        assert isinstance(caught.value, ResponseFormatViolationError)
        assert isinstance(caught.value, pydantic.ValidationError)
        assert caught.value.errors(include_url=False)[0]["type"] == "json_invalid"
        assert str(caught.value).startswith("response rejected by contract response_format")
        assert caught.value.stage == "output"
        assert caught.value.results[0].contract_name == "response_format"
        assert "Invalid JSON" in caught.value.results[0].message
        assert client.last_report is caught.value.report
        assert client.last_report.outcome == "violated"
        assert len(fake.requests) == 2

    def test_a_client_with_no_contracts_and_no_retries_raises_a_contract_violation(self, fake):
        from llm_contracts import ContractOpenAI

        client = ContractOpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0)
        fake.reply(MISFIT)

        with pytest.raises(ContractViolationError):
            chat_parse(client)

        assert client.last_report.outcome == "violated"

    def test_a_fitting_answer_passes_untouched(self, make_client, fake):
        client = make_client(output_contracts=[], contract_retries=1)

        reply = chat_parse(client)

        assert reply.choices[0].message.parsed == Answer(answer="all clean here")
        assert get_report(reply).outcome == "passed"
        assert len(fake.requests) == 1

    def test_the_raw_response_form_parses_to_the_repaired_answer(self, make_client, fake):
        client = make_client(output_contracts=[], contract_retries=1)
        fake.reply(MISFIT, GOOD)

        raw = client.chat.completions.with_raw_response.parse(
            model=MODEL, messages=MESSAGES, response_format=Answer
        )
        reply = raw.parse()

        assert reply.choices[0].message.parsed == Answer(answer="all clean here")
        assert get_report(reply).outcome == "repaired"

    def test_openai_s_own_errors_still_pass_through(self, make_client, fake):
        import openai

        from llm_contracts.testing import FakeReply

        client = make_client(output_contracts=[], contract_retries=1)
        fake.reply(FakeReply('{"answer": "cut', finish_reason="length"))

        with pytest.raises(openai.LengthFinishReasonError):
            chat_parse(client)


class TestAsyncParse:
    async def test_a_chat_misfit_is_re_asked(self, make_async_client, fake):
        client = make_async_client(output_contracts=[], contract_retries=1)
        fake.reply(MISFIT, GOOD)

        reply = await client.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer)

        assert isinstance(reply, ParsedChatCompletion)
        assert reply.choices[0].message.parsed == Answer(answer="all clean here")
        assert get_report(reply).outcome == "repaired"

    async def test_a_responses_misfit_is_re_asked(self, make_async_client, fake):
        client = make_async_client(output_contracts=[], contract_retries=1)
        fake.reply(MISFIT, GOOD)

        reply = await client.responses.parse(model=MODEL, input="Answer in JSON.", text_format=Answer)

        assert isinstance(reply, ParsedResponse)
        assert reply.output_parsed == Answer(answer="all clean here")
        assert get_report(reply).outcome == "repaired"

    async def test_with_no_retries_left_it_raises_a_contract_violation(self, make_async_client, fake):
        client = make_async_client(output_contracts=[], contract_retries=0)
        fake.reply(MISFIT)

        with pytest.raises(ContractViolationError) as caught:
            await client.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer)

        assert caught.value.results[0].contract_name == "response_format"
        assert client.last_report is caught.value.report


@pytest.mark.parametrize("answer", ["not json", '{"wrong": "field"}'])
def test_code_written_for_openai_catches_a_misfit_as_openai_raises_it(make_client, fake, answer):
    # openai's parse helpers raise pydantic's ValidationError for an answer that does not
    # fit; the drop-in raises an error that is one too, with the same details.
    fake.reply(answer)
    try:
        make_client().chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer)
    except pydantic.ValidationError as exc:
        caught = exc
    else:
        pytest.fail("no error")
    try:
        Answer.model_validate_json(answer)
    except pydantic.ValidationError as exc:
        expected = exc
    assert caught.title == expected.title
    details = [(e["type"], e["loc"]) for e in caught.errors()]
    assert details == [(e["type"], e["loc"]) for e in expected.errors()]
    assert caught.report is not None and caught.report.outcome == "violated"


def test_with_the_breaker_open_a_misfit_still_raises_a_contract_violation(make_client, fake):
    from llm_contracts import CircuitBreaker

    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=3600)
    # Every circuit open, the response format's included: the fit to response_format is
    # not a contract that can error, so no open circuit lets a misfit through.
    breaker.record(errored=True)
    breaker.record("response_format", errored=True)
    client = make_client(output_contracts=[], contract_retries=0, circuit_breaker=breaker)
    fake.reply(MISFIT)

    with pytest.raises(ContractViolationError) as caught:
        chat_parse(client)

    assert caught.value.results[0].contract_name == "response_format"
    assert breaker.state_of("response_format") == "open"  # a skipped call does not close it


class Weather(pydantic.BaseModel):
    city: str


def test_a_strict_tool_call_that_does_not_fit_its_model_is_re_asked(make_client, fake):
    import openai

    from llm_contracts.testing import FakeReply

    client = make_client(output_contracts=[], contract_retries=1)
    fake.reply(
        FakeReply(tool_calls=[("Weather", {"city": 3})]),
        FakeReply(tool_calls=[("Weather", {"city": "Paris"})]),
    )

    reply = client.chat.completions.parse(
        model=MODEL, messages=MESSAGES, tools=[openai.pydantic_function_tool(Weather)]
    )

    assert reply.choices[0].message.tool_calls[0].function.parsed_arguments == Weather(city="Paris")
    assert get_report(reply).outcome == "repaired"
    feedback = fake.last_messages()[-1]["content"]
    assert "city: Input should be a valid string" in feedback
    assert '"name": "Weather"' in feedback
