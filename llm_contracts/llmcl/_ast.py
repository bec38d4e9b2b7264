"""The syntax tree of LLMCL source.

Nodes compare equal when they mean the same source, wherever they stand: positions
(``pos`` and ``spans``) are left out of equality, so ``parse(format(parse(s)))`` can
be compared with ``parse(s)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a node stands in its source: 1-based lines and columns, end exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    def to_dict(self) -> dict[str, int]:
        return {
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


NOWHERE = Pos(0, 0, 0, 0)


def _pos() -> Any:
    return field(default=NOWHERE, compare=False, repr=False)


# -- expressions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Regex:
    pattern: str
    flags: str
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Ref:
    """``input``, ``output`` or ``context.<path>``."""

    name: str
    path: tuple[str, ...] = ()
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Call:
    fn: str
    args: tuple[Expr, ...]
    pos: Pos = _pos()
    name_pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class ListExpr:
    """``[a, b, ...]``: a list of strings, e.g. the topics of ``on_topic``."""

    items: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Not:
    arg: Expr
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or`` over two or more operands (nested ones of the same op are flattened)."""

    op: str
    args: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Conforms:
    """``<json(...)> conforms "file"`` or ``conforms {inline schema}``."""

    arg: Expr
    schema_file: str | None
    schema: Any
    pos: Pos = _pos()
    schema_pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Use:
    """A named contract of the registry, ``use "name"(arg = value, ...)``."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()
    pos: Pos = _pos()


Expr = Num | Str | Regex | Bool | Ref | Call | ListExpr | Not | BoolOp | Compare | Conforms | Use


# -- statements ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    """What may follow a clause's condition."""

    name: str | None = None
    severity: str | None = None
    priority: str | int | None = None
    enforcement: str | None = None
    message: str | None = None
    fix: str | None = None
    ask: str | None = None
    spans: dict[str, Pos] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Clause:
    """One condition of a contract.

    ``kind`` is require, ensure, invariant, always, never, eventually, next or until;
    ``within`` belongs to eventually, ``trigger`` to next (``after ...``) and
    ``release`` to until (``until <release>: <expr>``).
    """

    kind: str
    expr: Expr
    options: Options = Options()
    within: int | None = None
    trigger: Expr | None = None
    release: Expr | None = None
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Retry:
    count: int
    message: str | None = None
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Fallback:
    text: str
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class ContractDecl:
    """A ``contract`` block; its settings may be written in the header or in the body."""

    name: str
    version: int | None = None
    priority: str | int | None = None
    extends: tuple[str, ...] = ()
    description: str | None = None
    enforcement: str | None = None
    severity: str | None = None
    clauses: tuple[Clause, ...] = ()
    retry: Retry | None = None
    fallback: Fallback | None = None
    pos: Pos = _pos()
    spans: dict[str, Pos] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Module:
    imports: tuple[Import, ...] = ()
    contracts: tuple[ContractDecl, ...] = ()
    comments: tuple[tuple[int, int, str], ...] = field(default=(), compare=False, repr=False)
    blank_lines: frozenset[int] = field(default=frozenset(), compare=False, repr=False)
