"""Compiling LLMCL to the JSON spec: semantics, composition, and errors for people."""

from __future__ import annotations

import json

import jsonschema
import pytest

from llm_contracts.llmcl import (
    SPEC_VERSION,
    LLMCLError,
    LLMCLSemanticError,
    compile_file,
    compile_source,
    load_spec,
    spec_schema,
)

from .conftest import caret_line


def contract_spec(source: str, registry, **kwargs):
    return compile_source(source, registry=registry, **kwargs)["contracts"][-1]


class TestSpec:
    def test_the_sketch_compiles_to_a_spec_that_matches_its_own_schema(self, support_dir, registry):
        spec = compile_file(support_dir / "support.llmcl", registry=registry)

        jsonschema.validate(spec, spec_schema())
        assert spec["spec_version"] == SPEC_VERSION == "1"
        (contract,) = spec["contracts"]
        assert (contract["name"], contract["version"], contract["priority"]) == ("SupportReply", 3, 75)
        assert contract["remediation"] == {
            "retries": 2,
            "retry_message": "Answer with the JSON object only.",
            "fallback": "Sorry, I can't help with that right now.",
        }
        assert json.loads(json.dumps(spec)) == spec

    def test_the_schema_file_is_inlined_and_named(self, support_dir, registry):
        spec = compile_file(support_dir / "support.llmcl", registry=registry)

        conforms = next(c for c in spec["contracts"][0]["clauses"] if c["text"].startswith("ensure json"))
        assert conforms["expression"]["schema_file"] == "ticket.schema.json"
        assert conforms["expression"]["schema"]["required"] == ["id"]

    def test_clauses_carry_kind_text_settings_and_position(self, registry):
        source = (
            "contract C priority 5 {\n  severity warning\n"
            "  ensure len(output) <= 10 severity critical else fix truncate\n}\n"
        )
        (clause,) = contract_spec(source, registry)["clauses"]

        assert clause["kind"] == "ensure"
        assert clause["name"] == "C.ensure[1]"
        assert clause["text"] == "ensure len(output) <= 10 severity critical else fix truncate"
        assert (clause["severity"], clause["priority"], clause["fix"]) == ("critical", 5, "truncate")
        assert clause["position"] == {"line": 3, "column": 3, "end_line": 3, "end_column": 63}
        assert clause["expression"]["op"] == "cmp"
        assert clause["expression"]["left"] == {
            "op": "call",
            "fn": "len",
            "at": [3, 10],
            "args": [{"op": "ref", "name": "output", "at": [3, 14]}],
        }

    def test_priority_words_and_numbers(self, registry):
        spec = contract_spec(
            "contract C priority critical {\n  ensure json(output) priority low\n"
            "  ensure true priority 12\n}\n",
            registry,
        )

        assert spec["priority"] == 100
        assert [c["priority"] for c in spec["clauses"]] == [25, 12]

    def test_extends_puts_the_base_clauses_first_and_settings_cascade(self, registry):
        source = (
            'contract Base severity warning {\n  ensure not contains(output, "x")\n'
            '  on violation retry 1 with "again"\n}\n'
            "contract Child extends Base {\n  enforcement monitor\n  ensure json(output)\n}\n"
        )
        spec = compile_source(source, registry=registry)
        child = spec["contracts"][1]

        assert [c["name"] for c in child["clauses"]] == ["Base.ensure[1]", "Child.ensure[1]"]
        assert child["clauses"][0]["declared_in"] == "Base"
        assert [c["severity"] for c in child["clauses"]] == ["warning", None]
        assert [c["enforcement"] for c in child["clauses"]] == ["monitor", "monitor"]
        assert child["remediation"]["retries"] == 1

    def test_a_diamond_inherits_each_clause_once(self, registry):
        source = (
            "contract A {\n  ensure json(output)\n}\ncontract B extends A {}\ncontract C extends A {}\n"
            "contract D extends B, C {}\n"
        )

        assert [c["name"] for c in compile_source(source, registry=registry)["contracts"][-1]["clauses"]] == [
            "A.ensure[1]"
        ]

    def test_imports_resolve_relative_to_the_importing_file(self, support_dir, registry):
        sub = support_dir / "sub"
        sub.mkdir()
        (sub / "x.llmcl").write_text('import "../common.llmcl"\ncontract X extends BaseReply {}\n')

        spec = compile_file(sub / "x.llmcl", registry=registry)

        assert spec["contracts"][0]["clauses"][0]["declared_in"] == "BaseReply"
        assert len(spec["imports"]) == 1

    def test_a_custom_resolver_supplies_imports(self, registry):
        files = {"base.llmcl": "contract Base {\n  ensure json(output)\n}\n"}

        spec = compile_source(
            'import "base.llmcl"\ncontract C extends Base {}\n',
            registry=registry,
            resolver=lambda target, importer: (files[target], target),
        )

        assert spec["contracts"][0]["clauses"][0]["name"] == "Base.ensure[1]"

    def test_the_conflict_report_is_in_the_spec(self, registry):
        spec = contract_spec(
            "contract C {\n  ensure len(output) <= 10\n  ensure len(output) >= 50\n}\n", registry
        )

        (conflict,) = spec["conflicts"]
        assert conflict["kind"] == "bounds"
        assert set(conflict["contracts"]) == {"C.ensure[1]", "C.ensure[2]"}
        assert conflict["action"] == "skip"


class TestSemanticErrors:
    def test_an_unknown_function_gets_a_did_you_mean(self, error_of):
        error = error_of("contract C {\n  ensure lenn(output) <= 3\n}\n", path="c.llmcl")

        assert isinstance(error, LLMCLSemanticError)
        assert str(error).splitlines()[0] == "c.llmcl:2:10: error: unknown function 'lenn'"
        assert caret_line(error) == "             ^^^^"
        assert error.hint == "did you mean 'len'?"

    def test_wrong_arity_is_an_error(self, error_of):
        error = error_of("contract C {\n  ensure contains(output)\n}\n")

        assert error.message == "contains() takes 2 arguments (text, text), got 1"
        assert (error.line, error.column) == (2, 10)

    def test_a_wrong_argument_type_is_an_error_at_the_argument(self, error_of):
        error = error_of("contract C {\n  ensure len(5) > 1\n}\n")

        assert error.message == "len() needs text as argument 1, but 5 is a number"
        assert (error.line, error.column) == (2, 14)

    def test_comparing_text_with_a_number_suggests_len(self, error_of):
        error = error_of("contract C {\n  ensure output <= 3\n}\n")

        assert error.message == "cannot compare text with a number: output <= 3"
        assert "len()" in (error.hint or "")

    def test_a_clause_must_be_a_condition(self, error_of):
        error = error_of("contract C {\n  ensure len(output)\n}\n")

        assert error.message == "a condition must be true or false, but len(output) is a number"
        assert error.hint == "compare it, e.g. len(output) <= 100"

    def test_require_cannot_read_the_output(self, error_of):
        error = error_of("contract C {\n  require len(output) <= 3\n}\n")

        assert (error.line, error.column) == (2, 15)
        assert error.hint == "check the answer with 'ensure'"

    def test_an_unknown_named_contract_is_an_error(self, error_of):
        error = error_of('contract C {\n  ensure use "company_tones"\n}\n')

        assert error.message == 'no contract named "company_tones" is registered'
        assert error.hint == "did you mean 'company_tone'?"

    def test_a_named_contract_that_rejects_its_arguments_is_an_error(self, error_of):
        error = error_of('contract C {\n  ensure use "length"(max_chars = -1)\n}\n')

        assert error.line == 2
        assert "max_chars" in error.message

    def test_an_unresolved_import_is_an_error(self, error_of, tmp_path):
        error = error_of('import "missing.llmcl"\ncontract C extends Missing {}\n', path=tmp_path / "c.llmcl")

        assert error.message.startswith('cannot import "missing.llmcl"')
        assert (error.line, error.column) == (1, 1)
        assert len(error.errors) == 1  # no cascade about the undefined base

    def test_a_cyclic_import_is_an_error(self, error_of, tmp_path):
        (tmp_path / "a.llmcl").write_text('import "b.llmcl"\ncontract A {}\n')
        (tmp_path / "b.llmcl").write_text('import "a.llmcl"\ncontract B {}\n')

        with pytest.raises(LLMCLError) as caught:
            compile_file(tmp_path / "a.llmcl")

        assert caught.value.message == "import cycle: a.llmcl -> b.llmcl -> a.llmcl"
        assert caught.value.file.endswith("b.llmcl")

    def test_an_unknown_base_is_an_error(self, error_of):
        error = error_of("contract Base {}\ncontract C extends Bsae {}\n")

        assert error.message == "contract 'C' extends 'Bsae', which is not defined"
        assert (error.line, error.column) == (2, 20)
        assert error.hint == "did you mean 'Base'?"

    def test_an_extends_cycle_is_an_error(self, error_of):
        error = error_of("contract A extends B {}\ncontract B extends A {}\n")

        assert "'extends' cycle" in str(error)

    def test_a_duplicate_contract_is_an_error(self, error_of):
        error = error_of("contract A {}\ncontract A {}\n")

        assert error.message == "contract 'A' is defined twice"
        assert (error.line, error.column) == (2, 10)

    def test_a_missing_schema_file_is_an_error(self, error_of, tmp_path):
        error = error_of(
            'contract C {\n  ensure json(output) conforms "nope.json"\n}\n', path=tmp_path / "c.llmcl"
        )

        assert error.message.startswith('cannot read the JSON Schema "nope.json"')
        assert (error.line, error.column) == (2, 32)

    def test_a_schema_file_that_is_not_json_is_an_error(self, error_of, tmp_path):
        (tmp_path / "s.json").write_text("{nope")

        error = error_of(
            'contract C {\n  ensure json(output) conforms "s.json"\n}\n', path=tmp_path / "c.llmcl"
        )

        assert error.message.startswith('bad JSON Schema: "s.json" is not JSON')

    def test_an_invalid_inline_schema_is_an_error(self, error_of):
        error = error_of('contract C {\n  ensure json(output) conforms {"type": 5}\n}\n')

        assert error.message.startswith("bad JSON Schema:")

    def test_a_negative_retry_count_is_an_error(self, error_of):
        error = error_of("contract C {\n  on violation retry -1\n}\n")

        assert error.message == "the retry count must be a whole number >= 0; got -1"
        assert (error.line, error.column) == (2, 22)

    def test_unknown_words_get_hints(self, error_of):
        error = error_of("contract C {\n  enforcement stirct\n  ensure json(output) severity critcal\n}\n")

        assert [e.hint for e in error.errors] == ["did you mean 'strict'?", "did you mean 'critical'?"]

    def test_a_fix_must_fit_its_clause(self, error_of):
        error = error_of("contract C {\n  ensure json(output) else fix truncate\n}\n")

        assert error.message.startswith("'fix truncate' needs a length limit")

    def test_an_unknown_fix_is_an_error(self, error_of):
        assert (
            error_of("contract C {\n  ensure json(output) else fix redcat\n}\n").hint
            == "did you mean 'redact'?"
        )

    def test_an_invalid_regex_is_an_error(self, error_of):
        error = error_of("contract C {\n  ensure matches(output, /a(/)\n}\n")

        assert error.message.startswith("invalid regular expression")
        assert (error.line, error.column) == (2, 26)

    def test_unknown_pii_kinds_are_errors(self, error_of):
        assert (
            error_of('contract C {\n  ensure not pii(output, "emial")\n}\n').hint == "did you mean 'email'?"
        )

    def test_conforms_needs_json(self, error_of):
        assert (
            error_of("contract C {\n  ensure output conforms {}\n}\n").message
            == "'conforms' checks a json(...) value, not output"
        )

    def test_conflicting_clauses_are_errors_in_strict_mode(self, error_of):
        source = "contract C {\n  ensure len(output) <= 10\n  ensure len(output) >= 50\n}\n"

        error = error_of(source, strict=True)

        assert error.message.startswith("conflicting clauses (bounds)")
        assert error.line in (2, 3)
        assert error.hint is not None and "conflicts with" in error.hint

    def test_contradicting_requires_are_errors_in_strict_mode(self, error_of):
        error = error_of(
            'contract C {\n  require contains(input, "x")\n  require not contains(input, "x")\n}\n',
            strict=True,
        )

        assert "contradiction" in error.message

    def test_many_errors_are_reported_together_in_source_order(self, error_of):
        error = error_of(
            "contract C {\n  ensure lenn(output) <= 3\n  ensure len(5) > 1\n  on violation retry -2\n}\n"
        )

        assert [e.line for e in error.errors] == [2, 3, 4]
        assert str(error).endswith("3 errors")

    def test_errors_have_a_plain_data_form(self, error_of):
        data = error_of("contract C {\n  ensure lenn(output) <= 3\n}\n").to_dict()

        assert data["kind"] == "LLMCLSemanticError" and data["line"] == 2 and data["column"] == 10


class TestLoadingSpecs:
    def test_a_spec_of_another_version_is_refused(self, registry):
        spec = compile_source("contract C {}\n", registry=registry)
        spec["spec_version"] = "2"

        with pytest.raises(LLMCLError, match="unsupported spec_version '2'"):
            load_spec(spec)

    def test_a_spec_that_breaks_its_schema_is_refused_with_the_path(self, registry):
        spec = compile_source("contract C {\n  ensure json(output)\n}\n", registry=registry)
        spec["contracts"][0]["clauses"][0]["kind"] = "maybe"

        with pytest.raises(LLMCLError, match=r"\$\.contracts\[0\]\.clauses\[0\]\.kind"):
            load_spec(spec)

    def test_a_missing_contract_is_named(self, registry):
        spec = compile_source("contract A {}\ncontract B {}\n", registry=registry)

        with pytest.raises(LLMCLError, match=r"no contract named 'Z' \(it has A, B\)"):
            load_spec(spec, contract="Z")
