"""Streamed tool calls are judged call by call, under every stream policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_contracts import (
    AsyncContractOpenAI,
    ContractOpenAI,
    ContractViolationError,
    ToolCallContract,
    get_report,
)
from llm_contracts.testing import FakeLLM, FakeReply

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {
    "type": "object",
    "required": ["city"],
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "additionalProperties": False,
}
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": WEATHER}]
GOOD = ("get_weather", {"city": "Paris", "days": 2})
WRONG_TYPES = ("get_weather", {"city": 3})
UNDECLARED = ("delete_everything", {"confirm": True})
POLICIES = ["immediate", "hold_back:8", "sentence", "buffer"]


@pytest.fixture(params=POLICIES)
def policy(request: pytest.FixtureRequest) -> str:
    return request.param


def client_for(fake: FakeLLM, policy: str) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="test",
        http_client=fake.http_client(),
        max_retries=0,
        output_contracts=[ToolCallContract()],
        stream_policy=policy,
    )


def chat_calls(got: list[Any]) -> dict[int, dict[str, str]]:
    """Return the tool calls the caller could assemble from the chunks it received."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in got:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or ():
                entry = calls.setdefault(tc.index, {"name": "", "arguments": ""})
                entry["name"] += tc.function.name or ""
                entry["arguments"] += tc.function.arguments or ""
    return calls


def finished(got: list[Any]) -> bool:
    return any(choice.finish_reason for chunk in got for choice in chunk.choices)


def collect(stream: Any, got: list[Any]) -> None:
    for chunk in stream:
        got.append(chunk)


class TestChatStreams:
    @pytest.mark.parametrize("bad", [WRONG_TYPES, UNDECLARED], ids=["wrong-types", "undeclared"])
    def test_a_rejected_call_stops_the_stream(self, policy, bad):
        fake = FakeLLM().reply(FakeReply(tool_calls=[bad], chunk_size=3))
        client = client_for(fake, policy)
        got: list[Any] = []

        with pytest.raises(ContractViolationError) as caught:
            collect(
                client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS, stream=True),
                got,
            )

        assert caught.value.stage == "stream"
        assert caught.value.results[0].contract_name == "ToolCallContract"
        assert caught.value.report.outcome == "violated"
        assert client.last_report is caught.value.report
        # Under every policy the stream ends before the chunk that finishes the answer.
        assert not finished(got)
        if policy != "immediate":
            assert chat_calls(got) == {}

    def test_a_valid_call_is_delivered_whole_and_passes(self, policy):
        fake = FakeLLM().reply(FakeReply(tool_calls=[GOOD], chunk_size=3))
        client = client_for(fake, policy)

        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS, stream=True)
        got = list(stream)

        assert chat_calls(got) == {0: {"name": "get_weather", "arguments": json.dumps(GOOD[1])}}
        assert finished(got)
        assert get_report(stream).outcome == "passed"
        assert get_report(stream).attempts[0].results[0].details == {"calls": 1}

    def test_a_good_call_is_released_before_a_later_call_is_rejected(self, policy):
        fake = FakeLLM().reply(FakeReply(tool_calls=[GOOD, UNDECLARED], chunk_size=3))
        client = client_for(fake, policy)
        got: list[Any] = []

        with pytest.raises(ContractViolationError) as caught:
            collect(
                client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS, stream=True),
                got,
            )

        assert "delete_everything" in caught.value.results[0].message
        seen = chat_calls(got)
        if policy == "buffer":
            assert seen == {}
        else:
            assert seen[0] == {"name": "get_weather", "arguments": json.dumps(GOOD[1])}
        if policy != "immediate":
            assert 1 not in seen

    def test_the_stream_helper_is_judged_too(self, policy):
        fake = FakeLLM().reply(FakeReply(tool_calls=[WRONG_TYPES], chunk_size=3))
        client = client_for(fake, policy)
        events: list[Any] = []

        with (
            pytest.raises(ContractViolationError),
            client.chat.completions.stream(model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS) as stream,
        ):
            for event in stream:
                events.append(event)

        kinds = {e.type for e in events}
        assert "tool_calls.function.arguments.done" not in kinds
        assert "content.done" not in kinds
        if policy != "immediate":
            assert not any(k.startswith("tool_calls") for k in kinds)

    async def test_async_a_rejected_call_never_reaches_the_caller(self, policy):
        fake = FakeLLM().reply(FakeReply(tool_calls=[UNDECLARED], chunk_size=3))
        client = AsyncContractOpenAI(
            api_key="test",
            http_client=fake.async_http_client(),
            max_retries=0,
            output_contracts=[ToolCallContract()],
            stream_policy=policy,
        )
        got: list[Any] = []

        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS, stream=True
        )
        with pytest.raises(ContractViolationError):
            async for chunk in stream:
                got.append(chunk)

        assert not finished(got)
        if policy != "immediate":
            assert chat_calls(got) == {}
        assert stream.response.is_closed


class TestResponsesStreams:
    @staticmethod
    def call_events(got: list[Any], output_index: int) -> list[Any]:
        return [e for e in got if getattr(e, "output_index", None) == output_index]

    def test_a_rejected_function_call_stops_the_stream(self, policy):
        fake = FakeLLM().reply(FakeReply(tool_calls=[WRONG_TYPES]))
        client = client_for(fake, policy)
        got: list[Any] = []

        with pytest.raises(ContractViolationError) as caught:
            collect(
                client.responses.create(model=MODEL, input="Weather?", tools=RESPONSES_TOOLS, stream=True),
                got,
            )

        assert "$.city" in caught.value.results[0].message
        assert not any(e.type == "response.completed" for e in got)
        assert not any(e.type == "response.output_item.done" for e in got)
        if policy != "immediate":
            assert self.call_events(got, 0) == []

    def test_a_valid_function_call_passes(self, policy):
        fake = FakeLLM().reply(FakeReply(tool_calls=[GOOD]))
        client = client_for(fake, policy)

        stream = client.responses.create(model=MODEL, input="Weather?", tools=RESPONSES_TOOLS, stream=True)
        got = list(stream)

        assert got[-1].type == "response.completed"
        assert get_report(stream).outcome == "passed"

    def test_the_responses_stream_helper_is_judged_too(self, policy):
        fake = FakeLLM().reply(FakeReply(tool_calls=[UNDECLARED]))
        client = client_for(fake, policy)
        events: list[Any] = []

        with (
            pytest.raises(ContractViolationError),
            client.responses.stream(model=MODEL, input="Weather?", tools=RESPONSES_TOOLS) as stream,
        ):
            for event in stream:
                events.append(event)

        assert not any(e.type == "response.completed" for e in events)
        if policy != "immediate":
            assert self.call_events(events, 0) == []
