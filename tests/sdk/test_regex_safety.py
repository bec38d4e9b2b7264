"""Patterns from contracts and data run on a linear-time engine, or bounded; user text is no pattern."""

from __future__ import annotations

import json

import pytest

from llm_contracts import ContractConfigError, ContractViolationError, get_report
from llm_contracts.contracts import JSONFormatContract, LLMResponse, RegexContract
from llm_contracts.llmcl import LLMCLError, load_source

MODEL = "gpt-4o-mini"
# Python's re needs about 2**n steps for (a+)+$ on n a's and one other character.
CATASTROPHIC = "a" * 40 + "!"


def ask(client, text: str = "Answer."):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}])


class TestRegexContract:
    def test_a_catastrophic_pattern_runs_on_re2_and_gives_the_right_verdict(self, make_client, fake):
        contract = RegexContract(r"^(a+)+$")
        fake.reply(CATASTROPHIC)
        client = make_client(output_contracts=[contract])

        with pytest.raises(ContractViolationError, match=r"does not match the pattern"):
            ask(client)

        assert contract.regex.engine == "re2"

    def test_a_forbidding_catastrophic_pattern_checks_streams_on_re2(self, make_client, fake):
        contract = RegexContract(r"(x+x+)+y", must_match=False)
        fake.reply("x" * 60)
        client = make_client(output_contracts=[contract], stream_policy="hold_back:2")

        chunks = list(
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True
            )
        )

        assert chunks and contract.regex.engine == "re2"

    def test_digits_and_words_are_ascii_as_in_re2(self):
        # The engine's documented semantics: \d is [0-9], unlike Python's Unicode \d.
        assert not RegexContract(r"^\d+$", fullmatch=True).validate(LLMResponse("٣٤")).is_valid
        assert RegexContract(r"^\d+$", fullmatch=True).validate(LLMResponse("34")).is_valid

    def test_a_match_in_text_beyond_ascii_is_placed_in_characters(self):
        contract = RegexContract(r"s\w+t", must_match=False)

        result = contract.validate(LLMResponse("héllo wörld, a sécret secret"))  # \w is ASCII: not sécret

        assert result.details["span"] == [22, 28]
        assert "'secret'" in result.message

    def test_python_syntax_and_flags_still_work(self):
        assert (
            RegexContract(r"(?x) ^ ticket - \d+ # the id\n", flags="IGNORECASE")
            .validate(LLMResponse("TICKET-12"))
            .is_valid
        )
        assert RegexContract(r"done\Z").validate(LLMResponse("all done")).is_valid
        assert not RegexContract(r"done\Z").validate(LLMResponse("done, not")).is_valid

    def test_a_backreference_runs_bounded_and_a_runaway_match_is_the_contracts_error(self, make_client, fake):
        contract = RegexContract(r"^(a|aa)+\1$")
        assert contract.regex.engine == "regex"
        assert contract.validate(LLMResponse("abab".replace("b", "a"))).is_valid
        fake.reply("a" * 5000 + "!")
        client = make_client(output_contracts=[contract])

        reply = ask(client)  # fail-open by default: the runaway match is an error, not a hang

        (result,) = get_report(reply).output_results
        assert result.error and "too expensive" in result.message
        assert client.get_health_report()["contracts"][contract.name]["errors"] == 1


class TestJSONSchemaPatterns:
    SCHEMA = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}},
        "patternProperties": {"^x(y+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }

    def test_pattern_keywords_run_on_re2(self):
        contract = JSONFormatContract(self.SCHEMA)

        answer = {"code": CATASTROPHIC, "x" + "y" * 40 + "z": 1}

        result = contract.validate(LLMResponse(json.dumps(answer)))

        assert not result.is_valid
        assert "does not match '^(a+)+$'" in result.message
        assert "does not match any of the regexes" in result.message

    def test_a_schema_pattern_re2_cannot_run_is_bounded_in_python_refused_in_llmcl(self, make_client, fake):
        schema = {"type": "string", "pattern": "^(a|aa)+\\1$"}
        fake.reply('"' + "a" * 5000 + '!"')
        client = make_client(output_contracts=[JSONFormatContract(schema)])

        (result,) = get_report(ask(client)).output_results

        assert result.error and "too expensive" in result.message
        refused = r"unsupported regular expression in the JSON Schema at \$\.pattern"
        with pytest.raises(LLMCLError, match=refused):
            load_source("contract A {\n  ensure json(output) conforms " + json.dumps(schema) + "\n}\n")

    def test_a_schema_pattern_has_the_ecma_ascii_digits(self):
        contract = JSONFormatContract({"type": "string", "pattern": r"^\d+$"})

        assert not contract.validate(LLMResponse('"٣٤"')).is_valid
        assert contract.validate(LLMResponse('"34"')).is_valid


class TestLLMCL:
    def test_matches_with_the_prompt_as_pattern_is_refused_where_it_is_written(self):
        with pytest.raises(LLMCLError) as caught:
            load_source("contract A {\n  ensure matches(output, input)\n}\n")

        error = caught.value.errors[0]
        assert (error.line, error.column) == (2, 26)
        assert "never compiled as a regular expression" in error.message
        assert "contains(output, input)" in (error.hint or "")

    def test_not_matches_with_the_prompt_is_an_llmcl_error_not_a_key_error(self):
        with pytest.raises(LLMCLError) as caught:
            load_source("contract A {\n  ensure not matches(output, input)\n}\n")

        assert (caught.value.errors[0].line, caught.value.errors[0].column) == (2, 30)

    @pytest.mark.parametrize(
        ("pattern", "words"),
        [
            (r"(\w+)\1", "unsupported regular expression"),
            (r"(?<!x)a", "unsupported regular expression"),
            (r"a{2000}", "regular expression too expensive"),
            (r"(a", "invalid regular expression"),
        ],
    )
    def test_a_pattern_re2_cannot_run_is_an_error_at_its_line_and_column(self, pattern, words):
        source = "contract A {\n  ensure len(output) < 9\n  ensure matches(output, /" + pattern + "/)\n}\n"

        with pytest.raises(LLMCLError) as caught:
            load_source(source)

        error = caught.value.errors[0]
        assert (error.line, error.column) == (3, 26)
        assert error.message.startswith(words)

    def test_a_catastrophic_literal_gives_the_right_verdict_through_the_client(self, make_client, fake):
        contracts = load_source("contract A {\n  ensure not matches(output, /(a+)+$/)\n}\n")
        fake.reply("a" * 5000)
        client = make_client(output_contracts=[], contracts=contracts)

        with pytest.raises(ContractViolationError, match="forbidden text"):
            ask(client)

        (built,) = client.output_contracts
        assert built.regex.engine == "re2"

    def test_a_string_pattern_in_an_expression_runs_on_re2(self, make_client, fake):
        contracts = load_source('contract A {\n  ensure matches(output, "^(a+)+$") or len(output) < 3\n}\n')
        fake.reply(CATASTROPHIC)
        client = make_client(output_contracts=[], contracts=contracts)

        with pytest.raises(ContractViolationError):
            ask(client)

    def test_a_pattern_the_application_passes_in_the_context_runs_on_re2(self):
        (contract,) = load_source("contract A {\n  ensure matches(output, context.pattern)\n}\n").output

        from llm_contracts.contracts import ValidationContext

        context = ValidationContext(metadata={"pattern": "^(a+)+$"})
        assert not contract.validate(LLMResponse(CATASTROPHIC), context).is_valid
        assert contract.validate(LLMResponse("aaa"), context).is_valid
        with pytest.raises(ContractConfigError, match="unsupported"):  # the engine counts it as an error
            contract.validate(LLMResponse("aa"), ValidationContext(metadata={"pattern": r"(a)\1"}))
