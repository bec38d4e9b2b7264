"""The canonical formatter: parse -> format -> parse is the identity, comments and all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_contracts.llmcl import _ast as A
from llm_contracts.llmcl import format_source, parse
from llm_contracts.llmcl._formatter import format_module
from llm_contracts.llmcl._grammar import KEYWORDS

from .conftest import COMMON, SUPPORT

MESSY = """\
import "common.llmcl"   # shared
// before the contract
contract   SupportReply   priority high version 3 extends BaseReply {  # header
  enforcement strict
  require tokens(input)<=4000


  # about injections
  require not   matches(input, /ignore (all )?previous instructions/i)   severity critical
  ensure ( (len(output) < 3 or
     words(output) > 4) ) and context.a.b == "x"   // trailing
  ensure not (not json(output)) and ((len(output) < 1.50))
  description "Replies"
  on violation retry 2 with "JSON only."
  # before the brace
}
# at the end
"""


def test_formatting_keeps_the_tree():
    for source in (SUPPORT, COMMON, MESSY):
        assert parse(format_source(source)) == parse(source)


def test_formatting_is_idempotent():
    for source in (SUPPORT, COMMON, MESSY):
        once = format_source(source)
        assert format_source(once) == once


def test_the_canonical_layout():
    assert (
        format_source(MESSY)
        == """\
import "common.llmcl"  # shared

// before the contract
contract SupportReply version 3 priority high extends BaseReply {  # header
  description "Replies"
  enforcement strict
  require tokens(input) <= 4000

  # about injections
  require not matches(input, /ignore (all )?previous instructions/i) severity critical
  ensure (len(output) < 3 or words(output) > 4) and context.a.b == "x"  // trailing
  ensure not not json(output) and len(output) < 1.5
  on violation retry 2 with "JSON only."
  # before the brace
}

# at the end
"""
    )


def test_an_empty_file_formats_to_nothing():
    assert format_source("\n\n# only a comment\n") == "# only a comment\n"
    assert format_source("") == ""


# -- generated trees --------------------------------------------------------------------------

_RESERVED = set(KEYWORDS)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda n: n not in _RESERVED)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
numbers = st.one_of(
    st.integers(-(10**6), 10**9),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)
refs = st.one_of(
    st.just(A.Ref("input")),
    st.just(A.Ref("output")),
    st.lists(names, min_size=1, max_size=3).map(lambda p: A.Ref("context", tuple(p))),
)
leaves = st.one_of(
    numbers.map(A.Num),
    texts.map(A.Str),
    st.booleans().map(A.Bool),
    refs,
    st.tuples(st.from_regex(r"[a-z0-9 ()?*+.]{1,8}", fullmatch=True), st.sampled_from(["", "i", "ims"])).map(
        lambda t: A.Regex(*t)
    ),
    st.tuples(texts, st.lists(st.tuples(names, json_values), max_size=2, unique_by=lambda a: a[0])).map(
        lambda t: A.Use(t[0], tuple(t[1]))
    ),
)


def _boolop(op: str, args: list[A.Expr]) -> A.Expr:
    flat: list[A.Expr] = []
    for a in args:
        flat.extend(a.args if isinstance(a, A.BoolOp) and a.op == op else (a,))
    return A.BoolOp(op, tuple(flat))


def _extend(inner: st.SearchStrategy[A.Expr]) -> st.SearchStrategy[A.Expr]:
    return st.one_of(
        inner.map(A.Not),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3)).map(
            lambda t: _boolop(*t)
        ),
        st.tuples(st.sampled_from(["<", "<=", "==", "!=", ">=", ">"]), inner, inner).map(
            lambda t: A.Compare(*t)
        ),
        st.tuples(st.sampled_from(["len", "contains", "json", "foo"]), st.lists(inner, max_size=3)).map(
            lambda t: A.Call(t[0], tuple(t[1]))
        ),
        st.tuples(
            inner,
            st.one_of(
                texts.map(lambda f: (f, None)),
                st.dictionaries(texts, json_values, max_size=3).map(lambda d: (None, d)),
            ),
        ).map(lambda t: A.Conforms(t[0], *t[1])),
    )


exprs = st.recursive(leaves, _extend, max_leaves=12)
options = st.builds(
    A.Options,
    name=st.none() | names,
    severity=st.none() | names,
    priority=st.none() | names | st.integers(0, 99),
    enforcement=st.none() | names,
    message=st.none() | texts,
    fix=st.none() | names,
)
clauses = st.one_of(
    st.builds(
        A.Clause,
        kind=st.sampled_from(["require", "ensure", "invariant", "always", "never", "next"]),
        expr=exprs,
        options=options,
    ),
    st.builds(A.Clause, kind=st.just("eventually"), expr=exprs, options=options, within=st.integers(1, 9)),
    st.builds(A.Clause, kind=st.just("next"), expr=exprs, options=options, trigger=exprs),
    st.builds(A.Clause, kind=st.just("until"), expr=exprs, options=options, release=exprs),
)
contracts = st.builds(
    A.ContractDecl,
    name=names,
    version=st.none() | st.integers(0, 50),
    priority=st.none() | names,
    extends=st.lists(names, max_size=2).map(tuple),
    description=st.none() | texts,
    enforcement=st.none() | names,
    severity=st.none() | names,
    clauses=st.lists(clauses, max_size=4).map(tuple),
    retry=st.none() | st.builds(A.Retry, count=st.integers(0, 5), message=st.none() | texts),
    fallback=st.none() | st.builds(A.Fallback, text=texts),
)
modules = st.builds(
    A.Module,
    imports=st.lists(st.builds(A.Import, path=texts), max_size=2).map(tuple),
    contracts=st.lists(contracts, max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(modules)
def test_any_tree_survives_format_then_parse(module):
    assert parse(format_module(module)) == module
