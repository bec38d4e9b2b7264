"""Any input, however broken: only LLMCL errors come out, and no input hangs the compiler."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_contracts.contracts import FunctionContract
from llm_contracts.contracts._registry import ContractRegistry
from llm_contracts.llmcl import LLMCLError, compile_source, format_source

from .conftest import SUPPORT

# A guard against hangs (exponential blow-ups), not a speed goal: speed is measured in
# bench/llmcl_bench.py. The machine that runs CI may be busy, so the bound is generous.
BOUND_S = 30.0
REGISTRY = ContractRegistry()
REGISTRY.register("company_tone", lambda **kw: FunctionContract(lambda t: True, name="company_tone", **kw))

FRAGMENTS = [
    "contract",
    "C",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    ".",
    "\n",
    " ",
    "require",
    "ensure",
    "ensure_every_turn",
    "always",
    "never",
    "eventually",
    "within",
    "3",
    "turns",
    "next",
    "after",
    "until",
    "on",
    "violation",
    "retry",
    "-2",
    "with",
    "fallback",
    '"x"',
    '"',
    "/a+/i",
    "/",
    "//",
    "#",
    "not",
    "and",
    "or",
    "<=",
    "==",
    "len",
    "tokens",
    "json",
    "output",
    "input",
    "context",
    "conforms",
    "use",
    "else",
    "fix",
    "truncate",
    "severity",
    "critical",
    "priority",
    "high",
    "import",
    "extends",
    "true",
    "null",
    "\\",
    "'",
    "@",
    "\t",
    "\x00",
    "é",
]


def judge(source: str) -> None:
    """Compile and format ``source``; anything but success or an LLMCLError fails the test."""
    started = time.perf_counter()
    for step in (lambda: compile_source(source, registry=REGISTRY), lambda: format_source(source)):
        try:
            step()
        except LLMCLError as exc:
            assert str(exc)  # renders without raising
    assert time.perf_counter() - started < BOUND_S


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join))
def test_token_soup_gives_only_llmcl_errors(source):
    judge(source)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_random_text_gives_only_llmcl_errors(source):
    judge(source)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(SUPPORT)), st.integers(0, 8), st.sampled_from(FRAGMENTS)),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_contracts_give_only_llmcl_errors(edits):
    source = (
        SUPPORT.replace('import "common.llmcl"\n', "")
        .replace(" extends BaseReply", "")
        .replace('ensure json(output) conforms "ticket.schema.json"', "ensure json(output) conforms {}")
    )
    for at, cut, insert in edits:
        at = min(at, len(source))
        source = source[:at] + insert + source[at + cut :]
    judge(source)


def test_the_unmutated_contract_compiles():
    source = (
        SUPPORT.replace('import "common.llmcl"\n', "")
        .replace(" extends BaseReply", "")
        .replace('ensure json(output) conforms "ticket.schema.json"', "ensure json(output) conforms {}")
    )

    assert compile_source(source, registry=REGISTRY)["contracts"][0]["name"] == "SupportReply"


def test_a_huge_flat_expression_stays_within_the_bound():
    judge("contract C {\n  ensure " + " and ".join(["json(output)"] * 2000) + "\n}\n")


def test_a_source_too_large_is_refused_cleanly():
    try:
        compile_source("#" * 2_000_000)
    except LLMCLError as exc:
        assert "more than" in exc.message
    else:
        raise AssertionError("a 2 MB source was accepted")
