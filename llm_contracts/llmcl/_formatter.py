"""The canonical layout of LLMCL source: ``format_source(text) -> text``.

Imports first, then contracts separated by a blank line; two-space indentation; the
header holds version, priority and extends; the body starts with description,
severity and enforcement, then the clauses in their order, then the remediation.
Comments stay with the statement they precede or end, and a blank line between two
statements of a body is kept (one at most). Parsing the output gives the same tree.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from . import _ast as A
from ._parser import parse, source_comments

__all__ = ["expr_text", "format_module", "format_source", "json_text", "number_text"]

_KEYWORD = {"invariant": "ensure_every_turn"}


def number_text(value: int | float) -> str:
    """Return ``value`` as an LLMCL number (never in exponent form)."""
    if isinstance(value, (bool, int)):
        return str(int(value))
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"
    return text


def string_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def json_text(value: Any) -> str:
    """Return a JSON value in LLMCL's inline JSON syntax."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, str):
        return string_text(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{" + ", ".join(f"{string_text(str(k))}: {json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(json_text(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {value!r}")


def _prec(e: A.Expr) -> int:
    if isinstance(e, A.BoolOp):
        return 1 if e.op == "or" else 2
    if isinstance(e, A.Not):
        return 3
    if isinstance(e, (A.Compare, A.Conforms)):
        return 4
    return 5


def _wrapped(e: A.Expr, least: int) -> str:
    text = expr_text(e)
    return f"({text})" if _prec(e) < least else text


def expr_text(e: A.Expr) -> str:
    """Return the canonical text of an expression, with the parentheses it needs and no others."""
    if isinstance(e, A.BoolOp):
        least = 2 if e.op == "or" else 3
        return f" {e.op} ".join(_wrapped(a, least) for a in e.args)
    if isinstance(e, A.Not):
        return f"not {_wrapped(e.arg, 3)}"
    if isinstance(e, A.Compare):
        return f"{_wrapped(e.left, 5)} {e.op} {_wrapped(e.right, 5)}"
    if isinstance(e, A.Conforms):
        schema = string_text(e.schema_file) if e.schema_file is not None else json_text(e.schema)
        return f"{_wrapped(e.arg, 5)} conforms {schema}"
    if isinstance(e, A.Call):
        return f"{e.fn}({', '.join(expr_text(a) for a in e.args)})"
    if isinstance(e, A.ListExpr):
        return f"[{', '.join(expr_text(a) for a in e.items)}]"
    if isinstance(e, A.Use):
        if not e.args:
            return f"use {string_text(e.name)}"
        args = ", ".join(f"{k} = {json_text(v)}" for k, v in e.args)
        return f"use {string_text(e.name)}({args})"
    if isinstance(e, A.Num):
        return number_text(e.value)
    if isinstance(e, A.Str):
        return string_text(e.value)
    if isinstance(e, A.Regex):
        return f"/{e.pattern}/{e.flags}"
    if isinstance(e, A.Bool):
        return "true" if e.value else "false"
    if isinstance(e, A.Ref):
        return ".".join((e.name, *e.path))
    raise TypeError(f"not an expression: {e!r}")


def _setting(value: str | int | float) -> str:
    return number_text(value) if isinstance(value, (int, float)) else str(value)


def clause_text(c: A.Clause) -> str:
    """Return one clause on one line, options included."""
    keyword = _KEYWORD.get(c.kind, c.kind)
    if c.kind in ("require", "ensure", "invariant"):
        head = f"{keyword} {expr_text(c.expr)}"
    elif c.kind in ("always", "never"):
        head = f"{keyword}: {expr_text(c.expr)}"
    elif c.kind == "eventually":
        unit = "turn" if c.within == 1 else "turns"
        head = f"eventually within {number_text(c.within or 0)} {unit}: {expr_text(c.expr)}"
    elif c.kind == "next":
        after = f" after {expr_text(c.trigger)}" if c.trigger is not None else ""
        head = f"next{after}: {expr_text(c.expr)}"
    elif c.kind == "until":
        assert c.release is not None
        head = f"until {expr_text(c.release)}: {expr_text(c.expr)}"
    else:
        raise TypeError(f"unknown clause kind {c.kind!r}")
    o = c.options
    parts = [head]
    if o.name is not None:
        parts.append(f"as {o.name}")
    if o.severity is not None:
        parts.append(f"severity {o.severity}")
    if o.priority is not None:
        parts.append(f"priority {_setting(o.priority)}")
    if o.enforcement is not None:
        parts.append(f"enforcement {o.enforcement}")
    if o.message is not None:
        parts.append(f"message {string_text(o.message)}")
    if o.fix is not None:
        parts.append(f"else fix {o.fix}")
    if o.ask is not None:
        parts.append(f"else retry with {string_text(o.ask)}")
    return " ".join(parts)


def header_text(d: A.ContractDecl) -> str:
    parts = [f"contract {d.name}"]
    if d.version is not None:
        parts.append(f"version {number_text(d.version)}")
    if d.priority is not None:
        parts.append(f"priority {_setting(d.priority)}")
    if d.extends:
        parts.append(f"extends {', '.join(d.extends)}")
    return " ".join(parts) + " {"


class _Anchor:
    """A printed line and the source lines it came from, to attach comments to."""

    __slots__ = ("start", "end", "text", "leading", "trailing", "blank_before")

    def __init__(self, start: int, end: int, text: str) -> None:
        self.start, self.end, self.text = start, end, text
        self.leading: list[tuple[int, str]] = []
        self.trailing: list[str] = []
        self.blank_before = False


def _body(d: A.ContractDecl) -> list[_Anchor]:
    out: list[_Anchor] = []

    def at(key: str) -> tuple[int, int]:
        pos = d.spans.get(key, A.NOWHERE)
        return pos.line, pos.end_line

    if d.description is not None:
        out.append(_Anchor(*at("description"), f"description {string_text(d.description)}"))
    if d.severity is not None:
        out.append(_Anchor(*at("severity"), f"severity {d.severity}"))
    if d.enforcement is not None:
        out.append(_Anchor(*at("enforcement"), f"enforcement {d.enforcement}"))
    for c in d.clauses:
        out.append(_Anchor(c.pos.line, c.pos.end_line, clause_text(c)))
    if d.retry is not None:
        text = f"on violation retry {number_text(d.retry.count)}"
        if d.retry.message is not None:
            text += f" with {string_text(d.retry.message)}"
        out.append(_Anchor(d.retry.pos.line, d.retry.pos.end_line, text))
    if d.fallback is not None:
        out.append(
            _Anchor(
                d.fallback.pos.line,
                d.fallback.pos.end_line,
                f"on violation fallback {string_text(d.fallback.text)}",
            )
        )
    return out


def format_module(module: A.Module) -> str:
    """Return the canonical source of a parsed module (comments come from the module)."""
    blocks: list[tuple[_Anchor, list[_Anchor], _Anchor | None]] = []
    for imp in module.imports:
        blocks.append((_Anchor(imp.pos.line, imp.pos.end_line, f"import {string_text(imp.path)}"), [], None))
    for d in module.contracts:
        header_line = d.pos.line
        head = _Anchor(header_line, header_line, header_text(d))
        body = _body(d)
        closing = _Anchor(d.pos.end_line, d.pos.end_line, "}")
        blocks.append((head, body, closing))

    anchors = [a for head, body, close in blocks for a in (head, *body, *([close] if close else []))]
    placed = sorted((a for a in anchors if a.start > 0), key=lambda a: (a.start, a.end))
    tail: list[str] = []
    for line, _col, text in module.comments:
        owner: _Anchor | None = next((a for a in placed if a.start <= line <= a.end), None)
        if owner is not None:
            owner.trailing.append(text)
            continue
        nxt = next((a for a in placed if a.start > line), None)
        if nxt is None:
            tail.append(text)
        else:
            nxt.leading.append((line, text))
    for a in placed:
        first = min([a.start, *(line for line, _t in a.leading)])
        a.blank_before = (first - 1) in module.blank_lines

    lines: list[str] = []

    def emit(anchor: _Anchor, indent: str) -> None:
        lines.extend(f"{indent}{c}" for _line, c in anchor.leading)
        text = f"{indent}{anchor.text}"
        if anchor.trailing:
            text += "  " + " ".join(anchor.trailing)
        lines.append(text)

    previous_kind = None
    for head, body, close in blocks:
        kind = "import" if close is None else "contract"
        if lines and (kind == "contract" or previous_kind != kind):
            lines.append("")
        previous_kind = kind
        emit(head, "")
        for i, item in enumerate(body):
            if i and item.blank_before:
                lines.append("")
            emit(item, "  ")
        if close is not None:
            if close.leading and body and close.blank_before:
                lines.append("")
            emit(close, "")
            # Comments before the closing brace belong inside the body.
            if close.leading:
                brace = lines.pop()
                lines[len(lines) - len(close.leading) :] = [f"  {c}" for _l, c in close.leading]
                lines.append(brace)
    if tail:
        if lines:
            lines.append("")
        lines.extend(tail)
    return "\n".join(lines) + "\n" if lines else ""


def format_source(source: str, *, file: str | None = None) -> str:
    """Return ``source`` in canonical layout; raise ``LLMCLSyntaxError`` when it does not parse."""
    module = parse(source, file=file)
    comments = tuple(source_comments(source))
    return format_module(A.Module(module.imports, module.contracts, comments, module.blank_lines))
