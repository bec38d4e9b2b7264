"""Edges of judging and re-asking: async contracts on the sync client, and tool-call re-asks."""

from __future__ import annotations

import asyncio
import json

import pytest

from llm_contracts import ContractViolationError, FunctionContract, get_report
from llm_contracts.contracts import Contract, ToolCallContract
from llm_contracts.testing import FakeReply

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer in JSON."}]
BAD = '{"answer": "a forbidden word"}'


def async_no_forbidden() -> FunctionContract:
    async def check(text: str) -> bool:
        await asyncio.sleep(0)
        return "forbidden" not in text

    return FunctionContract(check, name="async_no_forbidden")


class TestAsyncContractOnTheSyncClient:
    def test_it_runs_with_no_event_loop(self, make_client, fake):
        client = make_client(output_contracts=[async_no_forbidden()])
        fake.reply(BAD)

        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert caught.value.results[0].contract_name == "async_no_forbidden"
        assert not caught.value.results[0].error

    def test_it_runs_under_a_running_event_loop(self, make_client, fake):
        client = make_client(output_contracts=[async_no_forbidden()], contract_retries=1)
        fake.reply(BAD)

        async def app_code():
            # A sync client called from a coroutine: the thread has a running loop.
            return client.chat.completions.create(model=MODEL, messages=MESSAGES)

        reply = asyncio.run(app_code())

        report = get_report(reply)
        assert report.outcome == "repaired"
        first = report.attempts[0].results[0]
        assert first.contract_name == "async_no_forbidden"
        assert not first.is_valid and not first.error

    def test_an_async_member_of_a_composite_runs_under_a_running_loop(self, make_client, fake):
        composite = async_no_forbidden() & FunctionContract(lambda text: bool(text), name="not_empty")
        client = make_client(output_contracts=[composite])
        fake.reply(BAD)

        async def app_code():
            return client.chat.completions.create(model=MODEL, messages=MESSAGES)

        with pytest.raises(ContractViolationError) as caught:
            asyncio.run(app_code())

        assert not caught.value.results[0].error


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


class TestToolCallReask:
    def test_the_re_ask_quotes_the_bad_tool_call_as_data(self, make_client, fake):
        client = make_client(output_contracts=[ToolCallContract()], contract_retries=1)
        fake.reply(
            FakeReply(tool_calls=[("get_weather", {"city": 3})]),
            FakeReply(tool_calls=[("get_weather", {"city": "Paris"})]),
        )

        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=[WEATHER])

        assert get_report(reply).outcome == "repaired"
        feedback = fake.last_messages()[-1]["content"]
        quoted = feedback.rsplit("\n", 1)[-1]
        assert json.loads(quoted) == {"tool_calls": [{"name": "get_weather", "arguments": '{"city": 3}'}]}
        assert '""' not in feedback

    def test_text_and_tool_calls_are_quoted_together(self, make_client, fake):
        client = make_client(output_contracts=[ToolCallContract()], contract_retries=1)
        fake.reply(
            FakeReply("Let me check.", tool_calls=[("get_time", {})]),
            FakeReply(tool_calls=[("get_weather", {"city": "Paris"})]),
        )

        client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=[WEATHER])

        quoted = json.loads(fake.last_messages()[-1]["content"].rsplit("\n", 1)[-1])
        assert quoted == {"text": "Let me check.", "tool_calls": [{"name": "get_time", "arguments": "{}"}]}

    def test_a_responses_re_ask_quotes_the_bad_function_call(self, make_client, fake):
        client = make_client(output_contracts=[ToolCallContract()], contract_retries=1)
        fake.reply(
            FakeReply(tool_calls=[("get_weather", {"city": 3})]),
            FakeReply(tool_calls=[("get_weather", {"city": "Paris"})]),
        )
        tool = {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}

        client.responses.create(model=MODEL, input="Weather?", tools=[tool])

        quoted = json.loads(fake.last_messages()[-1]["content"].rsplit("\n", 1)[-1])
        assert quoted["tool_calls"][0]["name"] == "get_weather"


class AsyncOnly(Contract):
    """A contract that implements only the async verdict."""

    async def avalidate(self, value, context=None):
        await asyncio.sleep(0)
        return self.fail("forbidden") if "forbidden" in value.text else self.ok()


class TestAsyncOnlyContractOnTheSyncClient:
    def test_it_runs_with_no_event_loop(self, make_client, fake):
        client = make_client(output_contracts=[AsyncOnly()])
        fake.reply(BAD)

        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert not caught.value.results[0].error

    def test_it_runs_under_a_running_event_loop(self, make_client, fake):
        client = make_client(output_contracts=[AsyncOnly()])
        fake.reply(BAD)

        async def app_code():
            return client.chat.completions.create(model=MODEL, messages=MESSAGES)

        with pytest.raises(ContractViolationError) as caught:
            asyncio.run(app_code())

        assert not caught.value.results[0].error
