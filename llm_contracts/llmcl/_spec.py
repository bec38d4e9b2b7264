"""What the compiler writes into a spec and the loader and evaluator read back.

The spec's version, an expression of a spec back to its syntax tree and its LLMCL text,
the flags of a regex literal, and the stand-in for a judge client while a spec is
compiled. Every other LLMCL module may import this one; it imports none of them but the
syntax tree, the errors, the formatter and the function table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._exceptions import ContractConfigError
from . import _ast as A
from ._errors import LLMCLError
from ._formatter import expr_text
from ._functions import REGEX_FLAGS

__all__ = ["PENDING_JUDGE", "SPEC_VERSION", "expression_source", "needs_judge", "regex_flags", "to_ast"]

SPEC_VERSION = "1"


def to_ast(node: Mapping[str, Any]) -> A.Expr:
    """Return the syntax tree of an expression stored in a spec (positions dropped)."""
    op = node["op"]
    if op == "num":
        return A.Num(node["value"])
    if op == "str":
        return A.Str(node["value"])
    if op == "bool":
        return A.Bool(node["value"])
    if op == "regex":
        return A.Regex(node["pattern"], node.get("flags", ""))
    if op == "ref":
        return A.Ref(node["name"], tuple(node.get("path", ())))
    if op == "not":
        return A.Not(to_ast(node["arg"]))
    if op in ("and", "or"):
        return A.BoolOp(op, tuple(to_ast(a) for a in node["args"]))
    if op == "cmp":
        return A.Compare(node["cmp"], to_ast(node["left"]), to_ast(node["right"]))
    if op == "conforms":
        file = node.get("schema_file")
        return A.Conforms(to_ast(node["arg"]), file, None if file is not None else node.get("schema"))
    if op == "call":
        return A.Call(node["fn"], tuple(to_ast(a) for a in node["args"]))
    if op == "use":
        return A.Use(node["name"], tuple((node.get("args") or {}).items()))
    if op == "list":
        return A.ListExpr(tuple(to_ast(a) for a in node["items"]))
    raise LLMCLError(f"the spec holds an unknown expression op {op!r}")


def expression_source(node: Mapping[str, Any]) -> str:
    """Return the LLMCL text of an expression stored in a spec."""
    return expr_text(to_ast(node))


def regex_flags(flags: str) -> int:
    """Return the ``re`` flags of an LLMCL regex literal's flag letters."""
    value = 0
    for letter in flags:
        value |= getattr(re, REGEX_FLAGS[letter])
    return value


class _PendingJudge:
    """Stands for the judge client while a spec is compiled; loading it needs a real one."""

    class chat:  # noqa: N801 - the shape of an OpenAI client
        class completions:  # noqa: N801
            @staticmethod
            def create(**_: Any) -> Any:
                raise ContractConfigError("no judge client: pass judge= where the contract is loaded")


PENDING_JUDGE = _PendingJudge()


def needs_judge(rubric: str) -> ContractConfigError:
    """Return the error of a judge clause loaded with no judge client."""
    return ContractConfigError(
        f'judge("{rubric}") needs a judge client: pass judge=<an OpenAI client> to '
        "load_source(), load_spec() or load_file()"
    )
