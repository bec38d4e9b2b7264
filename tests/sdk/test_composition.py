"""Contract composition: the resolver's conflicts and their resolution, alone and in the client."""

from __future__ import annotations

import logging
from typing import Any

import pydantic
import pytest

from llm_contracts import (
    ContractConfigError,
    ContractOpenAI,
    ContractViolationError,
    FunctionContract,
    JSONFormatContract,
    LengthContract,
    Not,
    PIIContract,
    PromptLengthContract,
    PydanticContract,
    RegexContract,
    TokenBudgetContract,
)
from llm_contracts.contracts import Contract, LLMResponse, ValidationContext, ValidationResult
from llm_contracts.contracts.composition import Conflict, ContractConflictError, conflict_key, resolve

MESSAGES = [{"role": "user", "content": "hi"}]


def names(contracts: list[Contract]) -> list[str]:
    return [c.name for c in contracts]


class Ticket(pydantic.BaseModel):
    id: int
    title: str


class MinTokens(Contract):
    """Require at least ``count`` tokens on ``measure`` (a stand-in for a compiled LLMCL bound)."""

    def __init__(self, count: int, measure: str = "input.tokens", **kwargs: Any) -> None:
        super().__init__(kwargs.pop("name", "min_tokens"), **kwargs)
        self.count = count
        self.measure = measure

    def _conflict_bounds(self) -> dict[str, tuple[float | None, float | None]]:
        return {self.measure: (self.count, None)}

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        return self.ok()


class TestFormatConflicts:
    def test_it_finds_a_regex_no_json_answer_can_match(self):
        json_c = JSONFormatContract({"type": "object"}, name="json")
        letters = RegexContract(r"^[A-Za-z]", name="starts_with_a_letter")

        resolution = resolve([json_c, letters])

        [conflict] = resolution.conflicts
        assert (conflict.kind, conflict.contracts, conflict.action, conflict.winner) == (
            "format",
            ("json", "starts_with_a_letter"),
            "skip",
            None,
        )
        assert "no JSON answer" in conflict.reason
        assert resolution.contracts == [json_c, letters]

    def test_a_pattern_a_json_field_can_meet_is_no_conflict(self):
        schema = {"type": "object", "properties": {"priority": {"enum": ["low", "high"]}}}
        json_c = JSONFormatContract(schema, name="json")
        field_pattern = RegexContract(r'"priority":\s*"(?:low|high)"', name="priority_field")

        assert resolve([json_c, field_pattern]).conflicts == []

    def test_the_higher_priority_format_overrides_the_other(self):
        json_c = JSONFormatContract(name="json")
        letters = RegexContract(r"^[A-Za-z]", name="prose", priority=5)

        resolution = resolve([json_c, letters])

        assert resolution.contracts == [letters]
        assert resolution.conflicts[0].action == "override"
        assert resolution.conflicts[0].winner == "prose"

    def test_a_regex_that_json_can_match_is_no_conflict(self):
        resolution = resolve([JSONFormatContract(), RegexContract(r'"answer"\s*:'), RegexContract(r"^\{")])

        assert resolution.conflicts == []

    def test_scalars_count_only_when_the_schema_allows_them(self):
        letters = RegexContract(r"^[a-z]+$", fullmatch=True)

        assert resolve([JSONFormatContract({"type": "object"}), letters]).conflicts
        assert not resolve([JSONFormatContract({"type": "boolean"}), letters]).conflicts

    def test_it_finds_a_forbidden_pattern_every_json_answer_contains(self):
        no_braces = RegexContract(r"[{}\[\]]", must_match=False, name="no_brackets")

        [conflict] = resolve([JSONFormatContract(name="json"), no_braces]).conflicts

        assert conflict.kind == "format"
        assert "every JSON answer" in conflict.reason

    def test_input_regexes_do_not_clash_with_the_answer_format(self):
        prompt_rule = RegexContract(r"^[A-Za-z]", category="input")

        assert resolve([JSONFormatContract(), prompt_rule]).conflicts == []


class TestSchemaConflicts:
    def test_two_different_schemas_conflict(self):
        a = JSONFormatContract({"type": "object", "required": ["id"]}, name="a")
        b = JSONFormatContract({"type": "object", "required": ["name"]}, name="b")

        [conflict] = resolve([a, b]).conflicts

        assert (conflict.kind, conflict.action) == ("schema", "skip")

    def test_a_pydantic_model_and_a_different_json_schema_conflict(self):
        model = PydanticContract(Ticket, name="ticket", priority=1)
        other = JSONFormatContract({"type": "array"}, name="list")

        resolution = resolve([other, model])

        assert resolution.contracts == [model]
        assert resolution.conflicts[0].kind == "schema"
        assert resolution.conflicts[0].winner == "ticket"

    def test_a_pydantic_model_and_its_own_json_schema_agree(self):
        assert resolve([PydanticContract(Ticket), JSONFormatContract(Ticket)]).conflicts == []

    def test_a_schema_and_plain_json_agree(self):
        assert resolve([JSONFormatContract({"type": "object"}), JSONFormatContract()]).conflicts == []


class TestBoundsConflicts:
    def test_it_finds_a_maximum_below_a_minimum_across_contracts(self):
        short = LengthContract(max_chars=100, name="short")
        long = LengthContract(min_chars=500, name="long")

        [conflict] = resolve([short, long]).conflicts

        assert (conflict.kind, conflict.action, conflict.winner) == ("bounds", "skip", None)
        assert "maximum output.chars (100) is below the minimum (500)" in conflict.reason

    def test_the_higher_priority_bound_wins(self):
        short = LengthContract(max_words=10, name="short")
        long = LengthContract(min_words=50, name="long", priority=2)

        resolution = resolve([short, long])

        assert resolution.contracts == [long]
        assert resolution.conflicts[0].action == "override"

    def test_overlapping_bounds_merge_into_the_tightest_ones(self):
        a = LengthContract(min_chars=5, max_chars=200, name="a")
        b = LengthContract(max_chars=50, max_words=8, name="b")

        resolution = resolve([a, b])

        [merged] = resolution.contracts
        assert isinstance(merged, LengthContract)
        assert (merged.min_chars, merged.max_chars, merged.max_words) == (5, 50, 8)
        assert merged.name == "a+b"
        assert resolution.conflicts[0].action == "merge"
        assert resolution.conflicts[0].winner == "a+b"
        # The merged contract judges every answer exactly as the two together did.
        for text in ["hey", "hello", "x" * 49, "x" * 51, "one two three four five six seven eight nine"]:
            both = a.validate(LLMResponse(text)).is_valid and b.validate(LLMResponse(text)).is_valid
            assert merged.validate(LLMResponse(text)).is_valid is both, text

    def test_the_originals_are_left_untouched_by_a_merge(self):
        a = LengthContract(max_chars=200)
        b = LengthContract(max_chars=50)

        resolve([a, b])

        assert (a.max_chars, b.max_chars) == (200, 50)

    def test_bounds_of_different_severities_are_not_merged(self):
        warn_early = LengthContract(max_chars=50, enforcement="warn")
        hard_limit = LengthContract(max_chars=500)

        resolution = resolve([warn_early, hard_limit])

        assert resolution.contracts == [warn_early, hard_limit]
        assert resolution.conflicts == []

    def test_prompt_token_limits_merge(self):
        resolution = resolve([PromptLengthContract(max_tokens=4000), PromptLengthContract(max_tokens=1000)])

        [merged] = resolution.contracts
        assert isinstance(merged, PromptLengthContract)
        assert merged.max_tokens == 1000

    def test_a_prompt_token_maximum_below_a_token_minimum_conflicts(self):
        [conflict] = resolve([PromptLengthContract(max_tokens=100), MinTokens(500)]).conflicts

        assert conflict.kind == "bounds"
        assert "input.tokens" in conflict.reason

    def test_a_completion_token_budget_below_a_token_minimum_conflicts(self):
        budget = TokenBudgetContract(max_completion_tokens=20, name="budget", priority=1)

        resolution = resolve([MinTokens(200, "output.tokens", name="long_answer"), budget])

        assert resolution.contracts == [budget]
        assert resolution.conflicts[0].winner == "budget"


class TestContradictions:
    def test_require_and_require_not_of_the_same_check_contradict(self):
        pii = PIIContract(name="pii")
        has_pii = Not(PIIContract(), name="must_have_pii")

        [conflict] = resolve([pii, has_pii]).conflicts

        assert (conflict.kind, conflict.action) == ("contradiction", "skip")
        assert conflict.contracts == ("pii", "must_have_pii")

    def test_a_regex_that_must_and_must_not_match_contradicts(self):
        must = RegexContract(r"TICKET-\d+", name="must", priority=3)
        must_not = RegexContract(r"TICKET-\d+", must_match=False, name="must_not")

        resolution = resolve([must_not, must])

        assert resolution.contracts == [must]
        assert resolution.conflicts[0].kind == "contradiction"

    def test_a_double_negation_is_the_check_itself(self):
        check = RegexContract("x")

        assert conflict_key(Not(Not(check))) == conflict_key(check)
        assert resolve([Not(check), Not(Not(RegexContract("x")))]).conflicts[0].kind == "contradiction"

    def test_checks_with_different_settings_do_not_contradict(self):
        assert resolve([RegexContract("x"), Not(RegexContract("y"))]).conflicts == []
        assert resolve([PIIContract(kinds=["email"]), Not(PIIContract(kinds=["phone"]))]).conflicts == []


class TestDuplicates:
    def test_equal_priority_duplicates_merge_at_the_stricter_severity(self):
        mild = PIIContract(name="pii", severity="warning", enforcement="warn")
        harsh = PIIContract(name="pii_again", severity="critical")

        resolution = resolve([mild, harsh])

        [merged] = resolution.contracts
        assert merged.name == "pii"
        assert (merged.severity.value, merged.enforcement.value) == ("critical", "strict")
        assert (mild.severity.value, mild.enforcement.value) == ("warning", "warn")
        [conflict] = resolution.conflicts
        assert (conflict.kind, conflict.action, conflict.winner) == ("duplicate", "merge", "pii")
        assert "different severities" in conflict.reason

    def test_the_higher_priority_duplicate_keeps_its_own_settings(self):
        low = PIIContract(name="low", severity="critical")
        high = PIIContract(name="high", severity="info", priority=9)

        resolution = resolve([low, high])

        assert resolution.contracts == [high]
        assert resolution.conflicts[0].action == "override"

    def test_the_same_object_twice_is_one_contract(self):
        check = FunctionContract(lambda text: True, name="check")

        resolution = resolve([check, check])

        assert names(resolution.contracts) == ["check"]
        assert resolution.conflicts[0].kind == "duplicate"

    def test_function_contracts_are_the_same_only_with_the_same_function(self):
        def polite(text: str) -> bool:
            return "please" in text

        twice = resolve([FunctionContract(polite), FunctionContract(polite, severity="critical")])
        distinct = resolve([FunctionContract(lambda t: True), FunctionContract(lambda t: True)])

        assert len(twice.contracts) == 1
        assert len(distinct.contracts) == 2

    def test_a_contract_of_your_own_takes_part_through_its_key(self):
        class Topic(Contract):
            def __init__(self, topic: str, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.topic = topic

            def _conflict_key(self) -> tuple[str, str]:
                return ("topic", self.topic)

            def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
                return self.ok()

        resolution = resolve([Topic("billing"), Topic("billing"), Topic("sales"), Not(Topic("sales"))])

        assert [c.kind for c in resolution.conflicts] == ["duplicate", "contradiction"]


class TestResolution:
    def test_contracts_come_back_in_priority_order_declaration_order_among_equals(self):
        a, b, c = (RegexContract(p, name=p) for p in ("a", "b", "c"))
        c.priority = 2

        assert names(resolve([a, b, c]).contracts) == ["c", "a", "b"]

    def test_the_report_says_what_was_resolved_and_why(self):
        resolution = resolve(
            [
                LengthContract(max_chars=10, name="short"),
                LengthContract(min_chars=99, name="long", priority=1),
            ]
        )

        text = str(resolution)
        assert text.startswith("1 of 2 contract(s) kept; 1 conflict(s):")
        assert "bounds: long vs short (long wins)" in text
        assert "short is dropped" in text
        assert resolution.report() == text
        assert resolution.to_dict()["conflicts"][0]["kind"] == "bounds"

    def test_a_clean_set_reports_no_conflicts(self):
        resolution = resolve([JSONFormatContract(), PIIContract()])

        assert str(resolution) == "2 of 2 contract(s) kept; 0 conflict(s)."
        assert resolution.unresolved == []

    def test_strict_mode_makes_any_conflict_an_error(self):
        with pytest.raises(ContractConflictError) as caught:
            resolve([PIIContract(), PIIContract(severity="critical")], strict=True)

        assert isinstance(caught.value, ContractConfigError)
        assert [c.kind for c in caught.value.conflicts] == ["duplicate"]
        assert "strict mode" in str(caught.value)

    def test_strict_mode_passes_a_clean_set(self):
        assert len(resolve([JSONFormatContract(), LengthContract(max_chars=9)], strict=True).contracts) == 2

    def test_it_names_what_is_not_a_contract(self):
        with pytest.raises(ContractConfigError, match=r"contracts\[1\] is str"):
            resolve([PIIContract(), "pii"])  # type: ignore[list-item]
        with pytest.raises(ContractConfigError, match="sequence of contracts"):
            resolve(PIIContract())  # type: ignore[arg-type]

    def test_conflicts_are_plain_data(self):
        conflict = Conflict("duplicate", ("a", "b"), "merge", "a", "twice")

        assert conflict.to_dict() == {
            "kind": "duplicate",
            "contracts": ["a", "b"],
            "action": "merge",
            "winner": "a",
            "reason": "twice",
        }


class TestTheClientResolvesItsContracts:
    def test_by_default_it_merges_duplicates_and_logs_the_conflict(self, make_client, fake, caplog):
        fake.reply("my mail is ann@example.com")
        warn = PIIContract(category="output", name="pii", enforcement="warn")
        strict = PIIContract(category="output", name="pii_strict")

        with caplog.at_level(logging.WARNING, logger="llm_contracts"):
            client = make_client(output_contracts=[warn, strict])

        assert names(client.output_contracts) == ["pii"]
        assert [c.kind for c in client.contract_conflicts] == ["duplicate"]
        assert any("contract conflict: duplicate" in r.getMessage() for r in caplog.records)
        # The merged contract is enforced at the stricter level: the call is rejected.
        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert caught.value.stage == "output"

    def test_a_conflict_of_equal_priority_keeps_both_contracts(self, make_client):
        client = make_client(output_contracts=[LengthContract(max_chars=5), LengthContract(min_chars=50)])

        assert len(client.output_contracts) == 2
        assert client.contract_conflicts[0].action == "skip"

    def test_strict_conflicts_stop_the_client_at_construction(self, make_client):
        with pytest.raises(ContractConflictError, match="format"):
            make_client(
                output_contracts=[JSONFormatContract(), RegexContract(r"^[A-Za-z]")], conflicts="strict"
            )

    def test_a_strict_client_refuses_a_conflicting_contract_added_later(self, make_client):
        client = make_client(output_contracts=[LengthContract(max_chars=5, name="short")], conflicts="strict")

        with pytest.raises(ContractConflictError):
            client.add_output_contract(LengthContract(min_chars=50))

        assert names(client.output_contracts) == ["short"]
        client.add_output_contract(RegexContract("x", name="x"))
        assert names(client.output_contracts) == ["short", "x"]

    def test_ignore_enforces_exactly_what_was_given(self, make_client):
        client = make_client(
            output_contracts=[PIIContract(category="output"), PIIContract(category="output")],
            conflicts="ignore",
        )

        assert len(client.output_contracts) == 2
        assert client.contract_conflicts == []

    def test_copies_keep_the_resolution(self, make_client):
        client = make_client(
            output_contracts=[PIIContract(category="output"), PIIContract(category="output")],
            conflicts="resolve",
        )
        twin = client.with_options(timeout=5)

        assert twin.contract_conflicts == client.contract_conflicts
        twin.add_output_contract(PIIContract(category="output", severity="critical"))
        assert len(twin.output_contracts) == 1
        assert len(client.contract_conflicts) == 1

    def test_it_rejects_an_unknown_conflict_mode(self, fake):
        with pytest.raises(ContractConfigError, match="conflicts must be one of resolve, strict, ignore"):
            ContractOpenAI(api_key="k", http_client=fake.http_client(), conflicts="loose")


class TestTheEngine:
    def test_a_list_assigned_from_outside_is_kept_when_a_contract_is_added(self):
        from llm_contracts.enforcement import ContractEngine

        engine = ContractEngine(output_contracts=[RegexContract("a", name="a")])
        engine.output_contracts = [RegexContract("b", name="b")]

        engine.add_output(RegexContract("c", name="c"))

        assert names(engine.output_contracts) == ["b", "c"]
        assert names(engine.copy().output_contracts) == ["b", "c"]
