"""ToolCallContract: tool calls must name a declared tool and fit its parameters schema."""

from __future__ import annotations

from typing import Any

import pytest

from llm_contracts import ContractOpenAI, ContractViolationError, ToolCallContract, get_report
from llm_contracts.contracts import ValidationContext
from llm_contracts.contracts._tools import _validator
from llm_contracts.contracts._types import LLMRequest, LLMResponse, ToolCall, ToolSpec
from llm_contracts.enforcement._engine import ContractEngine
from llm_contracts.testing import FakeLLM, FakeReply

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {
    "type": "object",
    "required": ["city"],
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "additionalProperties": False,
}
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": WEATHER}]


def context(*specs: ToolSpec) -> ValidationContext:
    return ValidationContext(request=LLMRequest(model=MODEL, messages=[], tools=list(specs)))


def calls(*pairs: tuple[str, str]) -> LLMResponse:
    return LLMResponse(text="", tool_calls=[ToolCall(name, args) for name, args in pairs])


def client_for(fake: FakeLLM, *, retries: int = 0, **kwargs: Any) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="test",
        http_client=fake.http_client(),
        output_contracts=[ToolCallContract(**kwargs)],
        contract_retries=retries,
    )


class TestToolCallContract:
    def test_it_passes_calls_whose_arguments_fit_the_schema(self) -> None:
        result = ToolCallContract().validate(
            calls(("get_weather", '{"city": "Paris", "days": 3}')), context(ToolSpec("get_weather", WEATHER))
        )
        assert result.is_valid
        assert result.details == {"calls": 1}

    def test_it_passes_an_answer_without_tool_calls(self) -> None:
        assert ToolCallContract().validate(LLMResponse(text="Sunny."), context()).is_valid

    def test_it_names_the_tool_and_the_path_of_each_problem(self) -> None:
        result = ToolCallContract().validate(
            calls(("get_weather", '{"city": 3, "days": 9}')), context(ToolSpec("get_weather", WEATHER))
        )
        assert not result.is_valid
        assert "get_weather: $.city: 3 is not of type 'string'" in result.message
        assert "get_weather: $.days: 9 is greater than the maximum of 7" in result.message
        assert result.auto_fix_suggestion == (
            "Call the tools with arguments that match their parameters schemas."
        )

    def test_an_unknown_tool_is_a_violation(self) -> None:
        result = ToolCallContract().validate(
            calls(("get_time", "{}")), context(ToolSpec("get_weather", WEATHER))
        )
        assert not result.is_valid
        assert "get_time: no such tool (declared: get_weather)" in result.message
        assert result.details["unknown_tools"] == ["get_time"]

    def test_unknown_tools_may_be_allowed(self) -> None:
        contract = ToolCallContract(allow_unknown=True)
        assert contract.validate(calls(("get_time", "{}")), context()).is_valid
        assert not contract.validate(calls(("get_time", "[1]")), context()).is_valid

    def test_arguments_that_are_not_json_are_a_violation(self) -> None:
        result = ToolCallContract().validate(
            calls(("get_weather", '{"city": "Paris"')), context(ToolSpec("get_weather", WEATHER))
        )
        assert "get_weather: the arguments are not JSON" in result.message

    def test_arguments_must_be_an_object(self) -> None:
        result = ToolCallContract().validate(calls(("ping", '"now"')), context(ToolSpec("ping")))
        assert result.message == "invalid tool call: ping: the arguments must be a JSON object; got str"

    def test_a_tool_without_a_schema_takes_any_object(self) -> None:
        assert ToolCallContract().validate(calls(("ping", '{"x": 1}')), context(ToolSpec("ping"))).is_valid

    def test_every_call_of_a_parallel_turn_is_checked(self) -> None:
        result = ToolCallContract().validate(
            calls(("get_weather", '{"city": "Paris"}'), ("get_weather", '{"town": "Rome"}')),
            context(ToolSpec("get_weather", WEATHER)),
        )
        assert "$: 'city' is a required property" in result.message

    def test_a_compiled_schema_is_reused_across_calls(self) -> None:
        contract = ToolCallContract()
        _validator.cache_clear()
        for _ in range(3):
            # A fresh but equal schema dict each time, as each request parses its own body.
            contract.validate(
                calls(("get_weather", '{"city": "Paris"}')), context(ToolSpec("get_weather", dict(WEATHER)))
            )
        assert _validator.cache_info().misses == 1
        assert _validator.cache_info().hits == 2

    def test_a_broken_tool_schema_is_the_callers_error_not_a_violation(self) -> None:
        engine = ContractEngine(output_contracts=[ToolCallContract()])
        result = engine.run_one(
            engine.output_contracts[0], calls(("t", "{}")), context(ToolSpec("t", {"type": "objekt"}))
        )
        assert result.error
        assert result.is_valid  # fail-open: the caller's schema, not the model, is at fault
        assert "tool parameters schema is not a valid JSON Schema" in result.message


class TestThroughTheClient:
    def test_arguments_of_the_wrong_type_are_a_violation(self) -> None:
        fake = FakeLLM()
        fake.reply(FakeReply(tool_calls=[("get_weather", {"city": 3})]))
        with pytest.raises(ContractViolationError) as caught:
            client_for(fake).chat.completions.create(model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS)
        assert caught.value.stage == "output"
        assert "get_weather: $.city: 3 is not of type 'string'" in caught.value.message

    def test_a_call_to_an_undeclared_tool_is_a_violation(self) -> None:
        fake = FakeLLM()
        fake.reply(FakeReply(tool_calls=[("delete_everything", {})]))
        with pytest.raises(ContractViolationError, match="delete_everything: no such tool"):
            client_for(fake).chat.completions.create(model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS)

    def test_a_bad_call_is_re_asked_and_repaired(self) -> None:
        fake = FakeLLM()
        fake.reply(
            FakeReply(tool_calls=[("get_weather", {"city": 3})]),
            FakeReply(tool_calls=[("get_weather", {"city": "Paris"})]),
        )
        reply = client_for(fake, retries=1).chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=CHAT_TOOLS
        )
        assert get_report(reply).outcome == "repaired"
        assert reply.choices[0].message.tool_calls[0].function.arguments == '{"city": "Paris"}'
        assert "$.city: 3 is not of type 'string'" in fake.requests[1]["messages"][-1]["content"]

    def test_it_checks_calls_of_the_responses_api(self) -> None:
        fake = FakeLLM()
        fake.reply(FakeReply(tool_calls=[("get_weather", {"city": "Paris", "days": 0})]))
        with pytest.raises(ContractViolationError, match=r"\$\.days: 0 is less than the minimum of 1"):
            client_for(fake).responses.create(model=MODEL, input="Weather?", tools=RESPONSES_TOOLS)

    def test_a_good_call_passes_through_the_responses_api(self) -> None:
        fake = FakeLLM()
        fake.reply(FakeReply(tool_calls=[("get_weather", {"city": "Paris"})]))
        reply = client_for(fake).responses.create(model=MODEL, input="Weather?", tools=RESPONSES_TOOLS)
        assert get_report(reply).outcome == "passed"
