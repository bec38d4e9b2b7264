"""After a re-ask, ``response.usage`` is the sum over every attempt; the report keeps each one."""

from __future__ import annotations

import pytest

from llm_contracts import ContractViolationError, FunctionContract, get_report

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer in JSON."}]
BAD = '{"answer": "a forbidden word"}'
OOPS = '{"answer": "oops"}'  # a second, different violation, so re-asking goes on


def no_oops() -> FunctionContract:
    return FunctionContract(lambda text: "oops" not in text, name="no_oops")


def served_chat(fake):
    return [r["usage"] for r in fake.responses]


class TestChat:
    def test_the_reply_s_usage_is_the_sum_of_every_attempt(self, make_client, fake, no_forbidden):
        client = make_client(output_contracts=[no_forbidden(), no_oops()], contract_retries=2)
        fake.reply(BAD, OOPS, fake.default)

        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)

        served = served_chat(fake)
        assert len(served) == 3
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            assert getattr(reply.usage, name) == sum(u[name] for u in served)
        # Each attempt's own figures stay in the report.
        report = get_report(reply)
        for name in ("prompt_tokens", "completion_tokens"):
            assert [getattr(a.usage, name) for a in report.attempts] == [u[name] for u in served]
        assert report.total_usage.total_tokens == reply.usage.total_tokens

    def test_one_attempt_keeps_its_own_usage(self, make_client, fake):
        client = make_client(contract_retries=2)

        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert reply.usage.total_tokens == served_chat(fake)[0]["total_tokens"]

    def test_the_raw_response_form_parses_to_the_summed_usage(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
        reply = raw.parse()

        assert reply.usage.prompt_tokens == sum(u["prompt_tokens"] for u in served_chat(fake))
        # The HTTP body is the last attempt's, as the server sent it.
        assert raw.http_response.json()["usage"] == served_chat(fake)[-1]

    def test_a_fallback_answer_carries_the_summed_usage(self, make_client, fake):
        client = make_client(contract_retries=1, fallback="Sorry, no answer.")
        fake.reply(BAD, BAD + " ")

        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert get_report(reply).outcome == "fallback"
        assert reply.usage.completion_tokens == sum(u["completion_tokens"] for u in served_chat(fake))

    def test_the_rejected_answer_of_a_violation_carries_the_summed_usage(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply(BAD, BAD + " ")

        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert caught.value.response.usage.prompt_tokens == sum(u["prompt_tokens"] for u in served_chat(fake))

    async def test_the_async_client_sums_too(self, make_async_client, fake):
        client = make_async_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        reply = await client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert reply.usage.total_tokens == sum(u["total_tokens"] for u in served_chat(fake))


class TestResponses:
    def test_the_response_s_usage_is_the_sum_of_every_attempt(self, make_client, fake):
        client = make_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        response = client.responses.create(model=MODEL, input="Answer in JSON.")

        served = [r["usage"] for r in fake.responses]
        assert len(served) == 2
        for name in ("input_tokens", "output_tokens", "total_tokens"):
            assert getattr(response.usage, name) == sum(u[name] for u in served)
        assert response.usage.output_tokens_details.reasoning_tokens == 0
        report = get_report(response)
        assert [a.usage.completion_tokens for a in report.attempts] == [u["output_tokens"] for u in served]

    async def test_the_async_client_sums_too(self, make_async_client, fake):
        client = make_async_client(contract_retries=1)
        fake.reply(BAD, fake.default)

        response = await client.responses.create(model=MODEL, input="Answer in JSON.")

        assert response.usage.output_tokens == sum(r["usage"]["output_tokens"] for r in fake.responses)
