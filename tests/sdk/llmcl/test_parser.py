"""Parsing LLMCL: every construct, and syntax errors that point at the offending text."""

from __future__ import annotations

import pytest

from llm_contracts.llmcl import LLMCLSyntaxError, parse
from llm_contracts.llmcl import _ast as A
from llm_contracts.llmcl._parser import MAX_DEPTH

from .conftest import SUPPORT, caret_line


def only_clause(body: str) -> A.Clause:
    (contract,) = parse(f"contract C {{\n  {body}\n}}\n").contracts
    (clause,) = contract.clauses
    return clause


def syntax_error(source: str) -> LLMCLSyntaxError:
    with pytest.raises(LLMCLSyntaxError) as caught:
        parse(source, file="t.llmcl")
    return caught.value


OUT = A.Ref("output")
IN = A.Ref("input")


class TestConstructs:
    def test_it_parses_the_whole_sketch(self):
        module = parse(SUPPORT)

        (imp,) = module.imports
        (contract,) = module.contracts
        assert imp.path == "common.llmcl"
        assert (contract.name, contract.version, contract.priority, contract.extends) == (
            "SupportReply",
            3,
            "high",
            ("BaseReply",),
        )
        assert contract.description == "Replies of the support bot"
        assert contract.enforcement == "strict"
        assert [c.kind for c in contract.clauses] == [
            "require",
            "require",
            "require",
            "ensure",
            "ensure",
            "ensure",
            "ensure",
            "invariant",
            "eventually",
            "always",
            "never",
            "next",
            "until",
        ]
        assert contract.retry == A.Retry(2, "Answer with the JSON object only.")
        assert contract.fallback == A.Fallback("Sorry, I can't help with that right now.")

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (
                "require tokens(input) <= 4000",
                A.Clause("require", A.Compare("<=", A.Call("tokens", (IN,)), A.Num(4000))),
            ),
            (
                "ensure len(output) > 2.5",
                A.Clause("ensure", A.Compare(">", A.Call("len", (OUT,)), A.Num(2.5))),
            ),
            (
                "ensure words(output) != -3",
                A.Clause("ensure", A.Compare("!=", A.Call("words", (OUT,)), A.Num(-3))),
            ),
            (
                "ensure not matches(output, /a\\/b/im)",
                A.Clause("ensure", A.Not(A.Call("matches", (OUT, A.Regex("a\\/b", "im"))))),
            ),
            (
                'ensure contains(lowercase(output), "é\\n\\"q\\"")',
                A.Clause("ensure", A.Call("contains", (A.Call("lowercase", (OUT,)), A.Str('é\n"q"')))),
            ),
            (
                "ensure mentions(output, context.user.name)",
                A.Clause("ensure", A.Call("mentions", (OUT, A.Ref("context", ("user", "name"))))),
            ),
            ("ensure json(output)", A.Clause("ensure", A.Call("json", (OUT,)))),
            (
                'ensure json(output) conforms "t.json"',
                A.Clause("ensure", A.Conforms(A.Call("json", (OUT,)), "t.json", None)),
            ),
            (
                'ensure json(output) conforms {"type": "object", "required": ["id"], "x": [1, true, null]}',
                A.Clause(
                    "ensure",
                    A.Conforms(
                        A.Call("json", (OUT,)),
                        None,
                        {"type": "object", "required": ["id"], "x": [1, True, None]},
                    ),
                ),
            ),
            ('ensure use "tone"', A.Clause("ensure", A.Use("tone"))),
            (
                'ensure use "tone"(level = 2, words = ["a", "b"])',
                A.Clause("ensure", A.Use("tone", (("level", 2), ("words", ["a", "b"])))),
            ),
            (
                'ensure pii(output, "email") or true and false',
                A.Clause(
                    "ensure",
                    A.BoolOp(
                        "or",
                        (
                            A.Call("pii", (OUT, A.Str("email"))),
                            A.BoolOp("and", (A.Bool(True), A.Bool(False))),
                        ),
                    ),
                ),
            ),
            (
                "ensure_every_turn not refusal(output)",
                A.Clause("invariant", A.Not(A.Call("refusal", (OUT,)))),
            ),
            ("always: not policy(output)", A.Clause("always", A.Not(A.Call("policy", (OUT,))))),
            ("never: injection(output)", A.Clause("never", A.Call("injection", (OUT,)))),
            (
                "eventually within 1 turn: json(output)",
                A.Clause("eventually", A.Call("json", (OUT,)), within=1),
            ),
            ("next: json(output)", A.Clause("next", A.Call("json", (OUT,)))),
            (
                'next after contains(input, "x"): json(output)',
                A.Clause("next", A.Call("json", (OUT,)), trigger=A.Call("contains", (IN, A.Str("x")))),
            ),
            (
                'until contains(output, "#"): json(output)',
                A.Clause("until", A.Call("json", (OUT,)), release=A.Call("contains", (OUT, A.Str("#")))),
            ),
        ],
    )
    def test_it_parses_each_kind_of_clause_and_expression(self, body, expected):
        assert only_clause(body) == expected

    def test_clause_options_parse_in_any_order(self):
        clause = only_clause(
            'ensure json(output) else retry with "JSON only" as json_only severity info '
            'priority 7 enforcement warn message "not JSON"'
        )

        assert clause.options == A.Options(
            name="json_only",
            severity="info",
            priority=7,
            enforcement="warn",
            message="not JSON",
            ask="JSON only",
        )

    def test_else_may_start_the_next_line(self):
        assert only_clause("ensure len(output) <= 10\n      else fix truncate").options.fix == "truncate"

    def test_an_expression_may_wrap_after_an_operator_or_inside_parentheses(self):
        clause = only_clause(
            'ensure (len(output) < 3 or\n     words(output) > 4) and\n  contains(\n output, "a")'
        )

        assert isinstance(clause.expr, A.BoolOp) and clause.expr.op == "and"

    def test_nested_and_or_are_flattened(self):
        assert only_clause("ensure true and (false and true)").expr == A.BoolOp(
            "and", (A.Bool(True), A.Bool(False), A.Bool(True))
        )

    def test_settings_may_stand_in_the_header_or_in_the_body(self):
        head = parse("contract C severity info enforcement warn priority 3 {\n}\n").contracts[0]
        body = parse("contract C {\n  severity info\n  enforcement warn\n  priority 3\n}\n").contracts[0]

        assert head == body

    def test_both_comment_styles_are_ignored(self):
        module = parse("# one\n// two\ncontract C { # three\n  ensure json(output) // four\n}\n# five\n")

        assert len(module.contracts[0].clauses) == 1

    def test_a_contract_may_be_empty_and_a_file_may_hold_several(self):
        module = parse("contract A {}\ncontract B extends A, C {\n}\n")

        assert [c.name for c in module.contracts] == ["A", "B"]
        assert module.contracts[1].extends == ("A", "C")

    def test_nodes_know_their_line_and_column(self):
        clause = only_clause("ensure len(output) <= 5")

        assert (clause.pos.line, clause.pos.column) == (2, 3)
        assert isinstance(clause.expr, A.Compare)
        assert (clause.expr.right.pos.line, clause.expr.right.pos.column) == (2, 25)


class TestSyntaxErrors:
    def test_a_missing_expression_is_named_after_the_keyword_before_it(self):
        error = syntax_error("contract A {\n  require\n}\n")

        assert str(error).splitlines()[0] == "t.llmcl:2:10: error: expected an expression after 'require'"
        assert (error.line, error.column) == (2, 10)
        assert caret_line(error) == "             ^"
        assert "an expression" in error.expected

    def test_a_misspelt_keyword_gets_a_did_you_mean_hint(self):
        error = syntax_error("contract A {\n  ensrue len(output) < 3\n}\n")

        assert (error.line, error.column) == (2, 3)
        assert error.hint == "did you mean 'ensure'?"
        assert caret_line(error) == "      ^^^^^^"
        assert error.render().endswith("hint: did you mean 'ensure'?")

    def test_an_unclosed_string_says_so(self):
        error = syntax_error('contract A {\n  ensure contains(output, "abc)\n}\n')

        assert error.message == "this string is not closed on its line"
        assert (error.line, error.column) == (2, 27)

    def test_single_quotes_get_a_hint(self):
        error = syntax_error("contract A {\n  ensure contains(output, 'a')\n}\n")

        assert error.hint == 'strings are written in double quotes: "..."'

    def test_symbolic_operators_get_a_hint(self):
        assert (
            syntax_error("contract A {\n  ensure json(output) && true\n}\n").hint
            == "write 'and', 'or' and 'not'"
        )

    def test_an_unclosed_contract_points_past_the_last_token(self):
        error = syntax_error("contract A {\n  ensure json(output)\n")

        assert (error.line, error.column) == (2, 22)
        assert error.hint == "a contract's '{' is not closed: add '}'"

    def test_an_unclosed_parenthesis_is_pointed_at(self):
        error = syntax_error("contract A {\n  ensure len(output < 3\n  ensure json(output)\n}\n")

        assert error.line == 3
        assert error.hint == "the '(' at line 2, column 13 is not closed"

    def test_two_statements_on_one_line_are_refused(self):
        error = syntax_error("contract A {\n  ensure json(output) ensure true\n}\n")

        assert (error.line, error.column) == (2, 23)
        assert error.hint == "start each statement on a new line"

    def test_a_bare_name_is_explained(self):
        error = syntax_error("contract A {\n  ensure answer\n}\n")

        assert "'answer' is not a value" in (error.hint or "")

    def test_a_temporal_clause_needs_its_colon(self):
        error = syntax_error("contract A {\n  always not json(output)\n}\n")

        assert error.message == "unexpected 'not'; expected ':'"

    def test_a_bad_escape_is_an_error_at_the_string(self):
        error = syntax_error('contract A {\n  ensure contains(output, "\\q")\n}\n')

        assert error.message == "invalid escape '\\q' in a string"
        assert (error.line, error.column) == (2, 27)

    def test_a_setting_given_twice_is_refused(self):
        with pytest.raises(Exception) as caught:
            parse("contract A version 1 version 2 {\n}\n")

        assert "'version' is set twice" in str(caught.value)

    def test_deep_nesting_is_refused_cleanly(self):
        deep = "not " * (MAX_DEPTH * 3) + "true"
        error = syntax_error(f"contract A {{\n  ensure {deep}\n}}\n")

        assert "nested more than" in error.message

    def test_deep_parentheses_parse_without_recursion_trouble(self):
        source = "contract A {\n  ensure " + "(" * 5000 + "true" + ")" * 5000 + "\n}\n"

        assert parse(source).contracts[0].clauses[0].expr == A.Bool(True)

    def test_a_nul_character_is_refused(self):
        assert syntax_error("contract A {\x00}").message == "unexpected NUL character"

    def test_text_that_is_not_a_string_is_refused(self):
        with pytest.raises(LLMCLSyntaxError):
            parse(b"contract A {}")  # type: ignore[arg-type]

    def test_a_long_line_is_shown_around_the_error(self):
        error = syntax_error("contract A {\n  ensure " + "true and " * 60 + "?\n}\n")

        assert len(error.render().splitlines()[1]) <= 110
        assert error.render().splitlines()[2].strip() == "^"
