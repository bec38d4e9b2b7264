"""The built-in output contracts: JSON, pydantic, regex, length, refusal, performance."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pydantic
import pytest

from llm_contracts import (
    ContractConfigError,
    ContractOpenAI,
    ContractViolationError,
    JSONFormatContract,
    LengthContract,
    PydanticContract,
    RefusalContract,
    RegexContract,
    ResponseTimeContract,
    StreamPolicy,
    TokenBudgetContract,
    get_report,
)
from llm_contracts.contracts import ValidationContext, cost_usd, schema_from_file
from llm_contracts.contracts._json import extract_json, json_path
from llm_contracts.contracts._types import LLMRequest, LLMResponse, ToolCall, Usage
from llm_contracts.testing import FakeLLM, FakeReply

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Describe the person as JSON."}]

PERSON = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
    },
}
ORDER = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"price": {"type": "number", "minimum": 0}}},
        }
    },
}


class Person(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(default=0, ge=0)


def answer(text: str, **kwargs: Any) -> LLMResponse:
    return LLMResponse(text=text, **kwargs)


def client_for(fake: FakeLLM, *contracts: Any, retries: int = 0, **kwargs: Any) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="test",
        http_client=fake.http_client(),
        output_contracts=list(contracts),
        contract_retries=retries,
        **kwargs,
    )


# -- finding JSON ------------------------------------------------------------------------


class TestExtractJson:
    def test_it_reads_an_answer_that_is_only_json(self) -> None:
        assert extract_json('  {"name": "Ada"}\n') == ({"name": "Ada"}, "whole")

    def test_it_reads_json_in_a_json_code_fence(self) -> None:
        text = 'Here it is:\n```json\n{"name": "Ada"}\n```\nAnything else?'
        assert extract_json(text) == ({"name": "Ada"}, "code fence")

    def test_it_reads_json_in_a_bare_code_fence(self) -> None:
        assert extract_json("```\n[1, 2]\n```") == ([1, 2], "code fence")

    def test_it_skips_a_fence_of_another_language(self) -> None:
        text = '```bash\ncurl -s x\n```\nthen\n```json\n{"ok": true}\n```'
        assert extract_json(text) == ({"ok": True}, "code fence")

    def test_it_finds_the_first_balanced_object_in_prose(self) -> None:
        text = 'Sure! The record is {"name": "Ada", "tags": ["a", "b"]} and that is all.'
        assert extract_json(text) == ({"name": "Ada", "tags": ["a", "b"]}, "prose")

    def test_it_ignores_brackets_and_escaped_quotes_inside_strings(self) -> None:
        text = 'Result: {"note": "a } and a \\" and a [ inside", "n": 1} done }'
        assert extract_json(text) == ({"note": 'a } and a " and a [ inside', "n": 1}, "prose")

    def test_it_prefers_objects_when_told_so(self) -> None:
        text = 'See note [1]: {"name": "Ada"}'
        assert extract_json(text)[0] == [1]
        assert extract_json(text, prefer="{")[0] == {"name": "Ada"}

    def test_it_takes_leading_json_followed_by_prose(self) -> None:
        assert extract_json('{"a": 1}\n\nThis object has one key.') == ({"a": 1}, "prose")

    def test_it_does_not_pick_an_inner_object_of_a_cut_off_answer(self) -> None:
        with pytest.raises(ValueError, match="does not parse"):
            extract_json('{"person": {"name": "Ada"}, "tags": [')

    def test_it_does_not_pick_an_inner_object_of_malformed_json(self) -> None:
        with pytest.raises(ValueError, match="does not parse"):
            extract_json('{"a": {"b": 1}, }')

    def test_it_rejects_nan_which_is_not_json(self) -> None:
        with pytest.raises(ValueError):
            extract_json('{"x": NaN}')

    def test_it_says_when_there_is_no_json_at_all(self) -> None:
        with pytest.raises(ValueError, match="contains no JSON"):
            extract_json("I think the answer is forty-two.")

    def test_it_looks_only_at_the_whole_text_without_extraction(self) -> None:
        with pytest.raises(ValueError, match="is not JSON"):
            extract_json('The record: {"a": 1}', extract=False)

    def test_it_stays_linear_on_prose_full_of_stray_brackets(self) -> None:
        text = "{ [ " * 20_000 + '{"a": 1}'
        with pytest.raises(ValueError):
            extract_json(text)

    def test_json_paths_quote_keys_that_are_not_identifiers(self) -> None:
        assert json_path(["items", 2, "price"]) == "$.items[2].price"
        assert json_path(["a b", 0]) == '$["a b"][0]'
        assert json_path([]) == "$"


# -- JSONFormatContract -----------------------------------------------------------------


class TestJSONFormatContract:
    def test_it_passes_json_that_matches_the_schema(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer('{"name": "Ada", "age": 36}'))
        assert result.is_valid
        assert result.details == {"found_in": "whole", "parsed": {"name": "Ada", "age": 36}}

    def test_it_passes_any_json_without_a_schema(self) -> None:
        assert JSONFormatContract().validate(answer("[1, 2, 3]")).is_valid

    def test_it_passes_json_in_a_fence_and_in_prose(self) -> None:
        contract = JSONFormatContract(PERSON)
        assert contract.validate(answer('```json\n{"name": "Ada"}\n```')).is_valid
        assert contract.validate(answer('Here you go: {"name": "Ada"}. Bye!')).is_valid

    def test_it_names_the_json_path_of_each_problem(self) -> None:
        text = '{"items": [{"price": 1}, {"price": 2}, {"price": -1}]}'
        result = JSONFormatContract(ORDER).validate(answer(text))
        assert not result.is_valid
        assert "$.items[2].price: -1 is less than the minimum of 0" in result.message
        assert result.details["errors"] == ["$.items[2].price: -1 is less than the minimum of 0"]

    def test_it_reports_a_missing_property_at_its_object(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer('{"age": 3}'))
        assert "$: 'name' is a required property" in result.message

    def test_it_lists_at_most_five_problems(self) -> None:
        schema = {"type": "array", "items": {"type": "string"}}
        result = JSONFormatContract(schema).validate(answer(json.dumps(list(range(20)))))
        assert len(result.details["errors"]) == 6
        assert result.details["errors"][-1] == "..."

    def test_it_tells_the_model_the_schema_to_follow(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer('{"name": 1}'))
        assert result.auto_fix_suggestion is not None
        assert result.auto_fix_suggestion.startswith(
            "Answer with only a JSON object that matches this JSON Schema:"
        )
        assert '"required":["name"]' in result.auto_fix_suggestion

    def test_a_non_json_answer_is_a_violation_not_a_crash(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer("Ada is a mathematician."))
        assert not result.is_valid
        assert result.message == "the answer contains no JSON"
        assert result.auto_fix_suggestion

    def test_it_says_when_the_json_does_not_parse(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer('{"name": "Ada",}'))
        assert result.message.startswith("the answer's JSON does not parse: Expecting property name")

    def test_it_says_when_the_answer_was_cut_off(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer('{"name": "Ad', finish_reason="length"))
        assert "cut off" in result.message

    def test_it_says_when_the_model_refused(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer("", refusal="I can't help with that."))
        assert "refused" in result.message

    def test_it_skips_a_turn_that_only_calls_tools(self) -> None:
        result = JSONFormatContract(PERSON).validate(answer("", tool_calls=[ToolCall("f", "{}")]))
        assert result.is_valid
        assert result.details == {"skipped": "tool_calls"}

    def test_without_extraction_json_in_prose_is_a_violation(self) -> None:
        result = JSONFormatContract(PERSON, extract=False).validate(answer('Here: {"name": "Ada"}'))
        assert not result.is_valid

    def test_it_accepts_a_pydantic_model_as_the_schema(self) -> None:
        contract = JSONFormatContract(Person)
        assert contract.validate(answer('{"name": "Ada"}')).is_valid
        assert "$.age" in contract.validate(answer('{"name": "Ada", "age": -1}')).message

    def test_it_follows_the_draft_named_by_dollar_schema(self) -> None:
        # exclusiveMaximum is a boolean in draft 4 and a number later.
        schema = {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "number",
            "maximum": 5,
            "exclusiveMaximum": True,
        }
        contract = JSONFormatContract(schema)
        assert contract.validate(answer("4")).is_valid
        assert not contract.validate(answer("5")).is_valid

    def test_it_does_not_check_formats_unless_asked(self) -> None:
        schema = {"type": "string", "format": "email"}
        assert JSONFormatContract(schema).validate(answer('"not an email"')).is_valid
        assert not JSONFormatContract(schema, check_formats=True).validate(answer('"not an email"')).is_valid

    def test_a_malformed_schema_raises_at_construction_naming_the_problem(self) -> None:
        problem = r"not a valid JSON Schema: \$\.properties\.age\.minimum: 'zero' is not of type 'number'"
        with pytest.raises(ContractConfigError, match=problem):
            JSONFormatContract({"type": "object", "properties": {"age": {"minimum": "zero"}}})

    def test_an_unknown_schema_draft_raises_at_construction(self) -> None:
        with pytest.raises(ContractConfigError, match="unknown \\$schema"):
            JSONFormatContract({"$schema": "https://example.com/my-draft", "type": "object"})

    def test_a_schema_of_the_wrong_type_raises_at_construction(self) -> None:
        with pytest.raises(ContractConfigError, match="schema must be"):
            JSONFormatContract("object")  # type: ignore[arg-type]

    def test_parse_returns_the_value_or_raises(self) -> None:
        contract = JSONFormatContract(PERSON)
        assert contract.parse('```json\n{"name": "Ada"}\n```') == {"name": "Ada"}
        with pytest.raises(ValueError, match="required property"):
            contract.parse("{}")

    def test_it_keeps_large_parsed_values_out_of_the_details(self) -> None:
        big = json.dumps({"name": "x" * 2000})
        assert "parsed" not in JSONFormatContract(PERSON).validate(answer(big)).details

    def test_schema_from_file_reads_a_schema(self, tmp_path: Path) -> None:
        path = tmp_path / "person.json"
        path.write_text(json.dumps(PERSON))
        assert JSONFormatContract(schema_from_file(path)).validate(answer('{"name": "Ada"}')).is_valid
        (tmp_path / "bad.json").write_text("{nope")
        with pytest.raises(ContractConfigError, match="cannot read a JSON Schema"):
            schema_from_file(tmp_path / "bad.json")


class TestResponseFormat:
    def test_a_schema_that_fits_openai_strict_mode_is_sent_strict(self) -> None:
        schema = {
            "title": "Person record",
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        }
        assert JSONFormatContract(schema).response_format() == {
            "type": "json_schema",
            "json_schema": {"name": "Person_record", "schema": schema, "strict": True},
        }

    def test_a_schema_outside_strict_mode_is_sent_without_strict(self) -> None:
        assert JSONFormatContract(PERSON).response_format()["json_schema"]["strict"] is False

    def test_asking_for_strict_with_an_unfit_schema_raises(self) -> None:
        with pytest.raises(ContractConfigError, match="additionalProperties must be false"):
            JSONFormatContract(PERSON, strict=True)

    def test_without_a_schema_it_asks_for_json_mode(self) -> None:
        assert JSONFormatContract().response_format() == {"type": "json_object"}

    def test_a_pydantic_contract_sends_openais_strict_schema(self) -> None:
        fmt = PydanticContract(Person).response_format()
        assert fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"]["required"] == ["name", "age"]


# -- PydanticContract -------------------------------------------------------------------


class TestPydanticContract:
    def test_it_passes_json_the_model_accepts(self) -> None:
        assert PydanticContract(Person).validate(answer('{"name": "Ada", "age": 36}')).is_valid

    def test_it_finds_the_json_in_a_fence(self) -> None:
        assert PydanticContract(Person).validate(answer('Here:\n```json\n{"name": "Ada"}\n```')).is_valid

    def test_it_lists_pydantic_errors_with_their_paths(self) -> None:
        result = PydanticContract(Person).validate(answer('{"name": 7, "age": -1}'))
        assert not result.is_valid
        assert "$.name: Input should be a valid string" in result.message
        assert "$.age: Input should be greater than or equal to 0" in result.message

    def test_a_non_json_answer_is_a_violation(self) -> None:
        result = PydanticContract(Person).validate(answer("Ada Lovelace, 36"))
        assert result.message == "the answer contains no JSON"

    def test_broken_json_is_reported_as_such(self) -> None:
        result = PydanticContract(Person).validate(answer('{"name": "Ada"'))
        assert "does not parse" in result.message

    def test_parse_returns_a_model_instance(self) -> None:
        assert PydanticContract(Person).parse('{"name": "Ada"}') == Person(name="Ada")

    def test_it_needs_a_model_class(self) -> None:
        with pytest.raises(ContractConfigError, match="pydantic BaseModel class"):
            PydanticContract({"type": "object"})  # type: ignore[arg-type]


# -- text contracts ------------------------------------------------------------------------


class TestRegexContract:
    def test_a_required_pattern_passes_when_found_and_fails_when_missing(self) -> None:
        contract = RegexContract(r"TICKET-\d+")
        assert contract.validate(answer("Opened TICKET-42 for you.")).is_valid
        result = contract.validate(answer("Opened a ticket."))
        assert not result.is_valid
        assert "TICKET-" in result.message

    def test_fullmatch_needs_the_whole_answer_to_match(self) -> None:
        contract = RegexContract(r"(yes|no)", fullmatch=True, flags=re.IGNORECASE)
        assert contract.validate(answer(" Yes\n")).is_valid
        assert not contract.validate(answer("yes, definitely")).is_valid

    def test_a_forbidden_pattern_fails_and_quotes_the_match(self) -> None:
        result = RegexContract(r"\b\d{3}-\d{2}-\d{4}\b", must_match=False).validate(answer("SSN 123-45-6789"))
        assert not result.is_valid
        assert "'123-45-6789'" in result.message
        assert result.details["span"] == [4, 15]

    def test_a_custom_message_replaces_the_default(self) -> None:
        result = RegexContract("x", message="say x").validate(answer("y"))
        assert result.message == "say x"

    def test_flags_may_be_given_by_name(self) -> None:
        assert RegexContract("abc", flags="IGNORECASE").validate(answer("ABC")).is_valid

    def test_a_bad_pattern_raises_with_the_regex_error(self) -> None:
        with pytest.raises(ContractConfigError, match="missing \\), unterminated subpattern"):
            RegexContract("(abc")

    def test_flags_with_a_compiled_pattern_raise(self) -> None:
        with pytest.raises(ContractConfigError, match="flags"):
            RegexContract(re.compile("a"), flags=re.IGNORECASE)

    def test_only_a_forbidding_search_checks_streams(self) -> None:
        assert RegexContract("x", must_match=False).supports_streaming
        assert not RegexContract("x").supports_streaming
        assert not RegexContract("x", must_match=False, fullmatch=True).supports_streaming

    def test_a_streamed_match_is_judged_once_the_next_chunk_cannot_undo_it(self) -> None:
        forbidding = RegexContract(r"\bsecret\b", must_match=False)
        assert forbidding.validate_partial("the secr").is_valid
        # "secret" may yet become "secretary": undecided until more text arrives.
        assert forbidding.validate_partial("the secret").is_valid
        assert forbidding.validate_partial("the secretary").is_valid
        assert not forbidding.validate_partial("the secret is").is_valid
        assert not RegexContract(r"\d{3}\.", must_match=False).validate_partial("code 123.").is_valid


class TestLengthContract:
    def test_it_passes_within_bounds_and_fails_outside(self) -> None:
        contract = LengthContract(min_words=2, max_words=4)
        assert contract.validate(answer("three short words")).is_valid
        assert "fewer than the minimum of 2" in contract.validate(answer("one")).message
        assert "more than the maximum of 4" in contract.validate(answer("one two three four five")).message

    def test_it_counts_characters(self) -> None:
        contract = LengthContract(min_chars=3, max_chars=5)
        assert contract.validate(answer("  abcd \n")).is_valid
        result = contract.validate(answer("abcdef"))
        assert result.details == {"chars": 6}
        assert result.auto_fix_suggestion == "Shorten the answer to at most 5 characters."

    def test_a_maximum_below_the_minimum_raises(self) -> None:
        with pytest.raises(ContractConfigError, match=r"max_chars \(2\) must be >= min_chars \(5\)"):
            LengthContract(min_chars=5, max_chars=2)

    def test_it_needs_a_bound_and_sane_values(self) -> None:
        with pytest.raises(ContractConfigError, match="at least one"):
            LengthContract()
        with pytest.raises(ContractConfigError, match="max_words must be an int >= 0"):
            LengthContract(max_words=-1)

    def test_streamed_text_is_checked_against_maximums_only(self) -> None:
        contract = LengthContract(min_words=3, max_words=3)
        assert contract.supports_streaming
        assert contract.validate_partial("one two").is_valid
        assert not contract.validate_partial("one two three four").is_valid
        assert not LengthContract(min_chars=1).supports_streaming


class TestRefusalContract:
    @pytest.mark.parametrize(
        "text",
        [
            "I'm sorry, but I can't help with that.",
            "I\u2019m sorry, but I can\u2019t assist with this request.",
            "I cannot help with creating malware.",
            "As an AI language model, I do not have opinions.",
            "Sorry, I can't do that.",
            "I apologize, but I cannot provide that information.",
            "Thanks for asking. Unfortunately, I am unable to help here.",
            "I must decline this request.",
        ],
    )
    def test_it_detects_refusal_phrases_at_the_start(self, text: str) -> None:
        result = RefusalContract().validate(answer(text))
        assert not result.is_valid
        assert result.details == {"source": "phrase"}

    @pytest.mark.parametrize(
        "text",
        [
            "Sorry for the wait! Here is the summary you asked for.",
            'The log says "file missing", sorry, but I cannot reproduce it.',
            "I can't help but notice the bug is in line 3.",
            "As an AI researcher, Ada wrote the first program.",
            "Here is the list.\n" + "x" * 300 + " I'm sorry, but I can't continue.",
            "He said sorry, but I cannot remember why.",
        ],
    )
    def test_it_passes_answers_that_merely_mention_sorry(self, text: str) -> None:
        assert RefusalContract().validate(answer(text)).is_valid

    def test_it_trusts_the_providers_refusal_field(self) -> None:
        result = RefusalContract().validate(answer("", refusal="I can't assist with that."))
        assert not result.is_valid
        assert result.details == {"source": "provider"}

    def test_a_streamed_refusal_is_judged_once_the_phrase_is_complete(self) -> None:
        contract = RefusalContract()
        assert contract.supports_streaming
        assert contract.validate_partial("I can't help").is_valid
        assert contract.validate_partial("I can't help but notice").is_valid
        assert not contract.validate_partial("I can't help with").is_valid

    def test_extra_patterns_mark_more_refusals(self) -> None:
        contract = RefusalContract(extra_patterns=[r"ich kann (?:dabei )?nicht helfen"])
        assert not contract.validate(answer("Ich kann dabei nicht helfen.")).is_valid

    def test_a_bad_extra_pattern_raises(self) -> None:
        with pytest.raises(ContractConfigError, match="extra_patterns"):
            RefusalContract(extra_patterns=["("])


# -- performance ---------------------------------------------------------------------------


class TestResponseTimeContract:
    def test_it_fails_a_slow_answer_and_passes_a_fast_one(self) -> None:
        contract = ResponseTimeContract(2)
        assert contract.validate(answer("ok", latency_s=0.5)).is_valid
        result = contract.validate(answer("ok", latency_s=3.25))
        assert result.message == "the model took 3.25 s, more than the limit of 2.00 s"
        assert contract.category.value == "performance"

    def test_it_falls_back_to_the_measured_elapsed_time(self) -> None:
        result = ResponseTimeContract(1).validate(answer("ok"), ValidationContext(elapsed_s=1.5))
        assert not result.is_valid

    def test_it_warns_by_default_rather_than_re_asking(self) -> None:
        assert ResponseTimeContract(1).enforcement.value == "warn"
        assert ResponseTimeContract(1, enforcement="strict").enforcement.value == "strict"

    def test_a_non_positive_limit_raises(self) -> None:
        with pytest.raises(ContractConfigError, match="max_seconds"):
            ResponseTimeContract(0)


class TestTokenBudgetContract:
    def test_it_checks_total_and_completion_tokens(self) -> None:
        usage = Usage(prompt_tokens=100, completion_tokens=50)
        assert TokenBudgetContract(max_total_tokens=150).validate(answer("x", usage=usage)).is_valid
        over = TokenBudgetContract(max_total_tokens=149).validate(answer("x", usage=usage))
        assert over.message == "the call used 150 tokens, more than the budget of 149"
        result = TokenBudgetContract(max_completion_tokens=40).validate(answer("x", usage=usage))
        assert result.message == "the answer used 50 tokens, more than the budget of 40"

    def test_it_prices_the_call_with_the_response_model(self) -> None:
        usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
        contract = TokenBudgetContract(max_cost_usd=0.80)
        assert contract.validate(answer("x", usage=usage, model="gpt-4o-mini-2024-07-18")).is_valid
        result = contract.validate(answer("x", usage=usage, model="gpt-4o-2024-08-06"))
        assert not result.is_valid
        assert result.details["cost_usd"] == pytest.approx(12.5)

    def test_it_falls_back_to_the_request_model(self) -> None:
        context = ValidationContext(request=LLMRequest(model="gpt-4.1-nano", messages=[]))
        usage = Usage(prompt_tokens=1_000_000, completion_tokens=0)
        result = TokenBudgetContract(max_cost_usd=1).validate(answer("x", usage=usage), context)
        assert result.details["cost_usd"] == pytest.approx(0.10)

    def test_an_unpriced_model_passes_and_warns_once(self, caplog: pytest.LogCaptureFixture) -> None:
        contract = TokenBudgetContract(max_cost_usd=0.01)
        usage = Usage(10, 10)
        with caplog.at_level(logging.WARNING, logger="llm_contracts"):
            for _ in range(3):
                result = contract.validate(answer("x", usage=usage, model="my-local-llama"))
        assert result.is_valid
        assert result.details["unknown"] == "no price for model 'my-local-llama'"
        assert len(caplog.records) == 1

    def test_a_missing_usage_passes_as_unknown(self) -> None:
        assert TokenBudgetContract(max_total_tokens=1).validate(answer("x")).details == {
            "unknown": "the response reports no usage"
        }

    def test_user_prices_override_the_table(self) -> None:
        contract = TokenBudgetContract(max_cost_usd=1, model="house-model", prices={"house-model": (2, 4)})
        result = contract.validate(answer("x", usage=Usage(1_000_000, 0)))
        assert not result.is_valid

    def test_bad_configuration_raises_naming_the_parameter(self) -> None:
        with pytest.raises(ContractConfigError, match="at least one"):
            TokenBudgetContract()
        with pytest.raises(ContractConfigError, match="max_total_tokens must be an int > 0"):
            TokenBudgetContract(max_total_tokens=0)
        with pytest.raises(ContractConfigError, match="model: no price known for 'mystery'"):
            TokenBudgetContract(max_cost_usd=1, model="mystery")
        with pytest.raises(ContractConfigError, match="prices"):
            TokenBudgetContract(max_cost_usd=1, prices={"m": (1,)})


class TestPricing:
    def test_it_prices_known_models_and_their_dated_snapshots(self) -> None:
        usage = Usage(prompt_tokens=2_000_000, completion_tokens=1_000_000)
        assert cost_usd("gpt-4o", usage) == pytest.approx(15.0)
        assert cost_usd("gpt-4o-2024-08-06", usage) == pytest.approx(15.0)
        assert cost_usd("gpt-4o-2024-05-13", usage) == pytest.approx(25.0)
        assert cost_usd("gpt-3.5-turbo-0125", usage) == pytest.approx(2.5)
        assert cost_usd("gpt-5-nano", usage) == pytest.approx(0.5)

    def test_it_knows_nothing_of_unknown_or_merely_similar_models(self) -> None:
        assert cost_usd("o3-pro", Usage(1, 1)) is None
        assert cost_usd("llama-3", Usage(1, 1)) is None


# -- through the drop-in client --------------------------------------------------------------


class TestThroughTheClient:
    def test_a_non_json_answer_is_re_asked_with_the_problem_and_repaired(self) -> None:
        fake = FakeLLM()
        fake.reply("not json", '{"name": "Ada"}')
        client = client_for(fake, JSONFormatContract(schema=PERSON), retries=1)
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert reply.choices[0].message.content == '{"name": "Ada"}'
        assert get_report(reply).outcome == "repaired"
        feedback = fake.requests[1]["messages"][-1]["content"]
        assert "the answer contains no JSON" in feedback
        assert "matches this JSON Schema" in feedback

    def test_a_schema_violation_is_re_asked_with_its_json_path(self) -> None:
        fake = FakeLLM()
        fake.reply('{"name": "Ada", "age": -3}', '{"name": "Ada", "age": 3}')
        client = client_for(fake, JSONFormatContract(schema=PERSON), retries=1)
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert get_report(reply).outcome == "repaired"
        assert "$.age: -3 is less than the minimum of 0" in fake.requests[1]["messages"][-1]["content"]

    def test_without_retries_a_violation_raises(self) -> None:
        fake = FakeLLM()
        fake.reply("not json")
        client = client_for(fake, JSONFormatContract(schema=PERSON))
        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert caught.value.stage == "output"
        assert caught.value.results[0].contract_name == "JSONFormatContract"
        assert len(fake.requests) == 1

    def test_a_pydantic_contract_works_through_the_responses_api(self) -> None:
        fake = FakeLLM()
        fake.reply('{"name": 1}', '```json\n{"name": "Ada"}\n```')
        client = client_for(fake, PydanticContract(Person), retries=1)
        reply = client.responses.create(model=MODEL, input="Describe Ada as JSON.")
        assert get_report(reply).outcome == "repaired"
        assert "$.name: Input should be a valid string" in fake.requests[1]["input"][-1]["content"]

    def test_a_refusal_from_the_provider_field_is_a_violation(self) -> None:
        fake = FakeLLM()
        fake.reply(FakeReply("", refusal="I can't help with that."))
        with pytest.raises(ContractViolationError, match="refused"):
            client_for(fake, RefusalContract()).chat.completions.create(model=MODEL, messages=MESSAGES)

    def test_a_slow_answer_only_warns_by_default(self) -> None:
        fake = FakeLLM()
        client = client_for(fake, ResponseTimeContract(1e-9))
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert get_report(reply).outcome == "warned"

    def test_a_token_budget_reads_the_real_usage(self) -> None:
        fake = FakeLLM(default="word " * 40)
        client = client_for(fake, TokenBudgetContract(max_completion_tokens=5, enforcement="strict"))
        with pytest.raises(ContractViolationError, match="more than the budget of 5"):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def test_a_forbidden_pattern_stops_a_held_back_stream(self) -> None:
        fake = FakeLLM(default="The code is 1234-5678 as requested.")
        client = client_for(
            fake, RegexContract(r"\d{4}-\d{4}", must_match=False), stream_policy=StreamPolicy.hold_back(4)
        )
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        released: list[str] = []
        with pytest.raises(ContractViolationError) as caught:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    released.append(chunk.choices[0].delta.content)
        assert caught.value.stage == "stream"
        assert "1234-5678" not in "".join(released)

    def test_a_length_limit_stops_a_held_back_stream(self) -> None:
        fake = FakeLLM(default="one two three four five six seven eight nine ten")
        client = client_for(fake, LengthContract(max_words=5), stream_policy="hold_back:2")
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(ContractViolationError, match="more than the maximum of 5"):
            list(stream)


class TestNativeSchema:
    SCHEMA = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }

    def _client(self, fake, **kw):
        from llm_contracts import ContractOpenAI
        from llm_contracts.contracts import JSONFormatContract

        return ContractOpenAI(
            api_key="test",
            http_client=fake.http_client(),
            output_contracts=[JSONFormatContract(schema=self.SCHEMA)],
            **kw,
        )

    def test_native_schema_sends_a_strict_response_format_and_still_verifies(self):
        from llm_contracts import ContractViolationError
        from llm_contracts.testing import FakeLLM

        fake = FakeLLM(default='{"name": 1}')
        client = self._client(fake, native_schema=True)
        with pytest.raises(ContractViolationError):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        sent = fake.requests[-1]["response_format"]
        assert sent["type"] == "json_schema"
        assert sent["json_schema"]["schema"] == self.SCHEMA
        assert sent["json_schema"]["strict"] is True

    def test_native_schema_leaves_the_callers_own_format_alone(self):
        from llm_contracts.testing import FakeLLM

        fake = FakeLLM(default='{"name": "Ada"}')
        client = self._client(fake, native_schema=True)
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "JSON"}],
            response_format={"type": "json_object"},
        )
        assert fake.requests[-1]["response_format"] == {"type": "json_object"}

    def test_native_schema_reaches_the_responses_api_as_text_format(self):
        from llm_contracts.testing import FakeLLM

        fake = FakeLLM(default='{"name": "Ada"}')
        client = self._client(fake, native_schema=True).with_options(timeout=5)
        client.responses.create(model="gpt-4o", input="hi")
        fmt = fake.requests[-1]["text"]["format"]
        assert fmt["type"] == "json_schema" and fmt["schema"] == self.SCHEMA

    def test_without_native_schema_nothing_is_added(self):
        from llm_contracts.testing import FakeLLM

        fake = FakeLLM(default='{"name": "Ada"}')
        self._client(fake).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
        assert "response_format" not in fake.requests[-1]
