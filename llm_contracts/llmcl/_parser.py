"""Parse LLMCL source into the syntax tree of ``_ast``, or raise an error people can read.

The grammar is LALR(1), so parsing is linear in the length of the source; the lexer's
patterns cannot backtrack catastrophically; sources above ``MAX_SOURCE_CHARS`` and
expressions nested deeper than ``MAX_DEPTH`` are refused with a clean error before
anything recursive walks them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex
from lark.lexer import PatternStr

from . import _ast as A
from ._errors import LLMCLError, LLMCLSemanticError, LLMCLSyntaxError, combine, did_you_mean
from ._grammar import (
    BODY_KEYWORDS,
    CLAUSE_START,
    EXPRESSION_START,
    GRAMMAR,
    KEYWORDS,
    OPTION_START,
    PATTERN_WORDS,
)

__all__ = ["MAX_DEPTH", "MAX_SOURCE_CHARS", "parse", "source_comments"]

MAX_SOURCE_CHARS = 1_000_000
MAX_DEPTH = 100

# After these a line break does not end the statement: the expression goes on.
_CONTINUE_AFTER = frozenset(
    {"AND", "OR", "NOT", "COMP_OP", "CONFORMS", "COMMA", "COLON", "LBRACE", "EQUAL", "DOT"}
)


class Layout(PostLex):
    """Turn line breaks into statement ends, except where a statement obviously goes on.

    Line breaks inside ``( )``, ``[ ]`` and inline JSON ``{ }``, after an operator, a
    comma or a colon, and before ``else`` are dropped; runs of them become one.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stack: list[str] = []
        prev: str | None = None
        held: Token | None = None
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if (
                    held is None
                    and not stack
                    and prev is not None
                    and prev != "_NL"
                    and prev not in _CONTINUE_AFTER
                ):
                    held = tok
                continue
            if held is not None:
                if kind != "ELSE":
                    yield held
                    prev = "_NL"
                held = None
            if kind in ("LPAR", "LSQB"):
                stack.append(kind)
            elif kind == "LBRACE":
                # A contract's body opens at depth 0 after its header; any other brace is JSON.
                if stack or prev == "CONFORMS":
                    stack.append(kind)
            elif kind in ("RPAR", "RSQB", "RBRACE") and stack:
                stack.pop()
            yield tok
            prev = kind
        if held is not None:
            yield held


_lock = threading.Lock()
_lark: Lark | None = None


def parser() -> Lark:
    """Return the LALR parser, built once per process (building costs far more than parsing)."""
    global _lark
    if _lark is None:
        with _lock:
            if _lark is None:
                _lark = Lark(
                    GRAMMAR,
                    parser="lalr",
                    lexer="basic",
                    propagate_positions=True,
                    postlex=Layout(),
                    maybe_placeholders=False,
                )
    return _lark


def parse(source: str, *, file: str | None = None) -> A.Module:
    """Return the syntax tree of ``source``; raise ``LLMCLSyntaxError`` (or a semantic one)."""
    if not isinstance(source, str):
        raise LLMCLSyntaxError(f"LLMCL source must be text; got {type(source).__name__}", file=file)
    if len(source) > MAX_SOURCE_CHARS:
        raise LLMCLSyntaxError(
            f"the source has {len(source):,} characters, more than the {MAX_SOURCE_CHARS:,} allowed",
            file=file,
            line=1,
            column=1,
        )
    if "\x00" in source:
        at = source.index("\x00")
        line = source.count("\n", 0, at) + 1
        column = at - (source.rfind("\n", 0, at) + 1) + 1
        raise LLMCLSyntaxError.at(
            "unexpected NUL character", file=file, source=source, line=line, column=column
        )
    try:
        tree = parser().parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, source, file) from None
    _check_depth(tree, source, file)
    builder = _Builder(source, file)
    module = builder.module(tree)
    if builder.errors:
        raise combine(builder.errors)
    return module


def source_comments(source: str) -> list[tuple[int, int, str]]:
    """Return ``(line, column, text)`` of every comment in ``source`` (which must parse)."""
    found = []
    for tok in parser().lex(source, dont_ignore=True):
        if tok.type == "COMMENT":
            found.append((tok.line or 0, tok.column or 0, str(tok).rstrip()))
    return found


# -- depth -----------------------------------------------------------------------------------


def _check_depth(tree: Tree[Token], source: str, file: str | None) -> None:
    # Iterative on purpose: the point is to refuse trees too deep for recursive walks.
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            raise LLMCLSyntaxError.at(
                f"the expression is nested more than {MAX_DEPTH} levels deep",
                file=file,
                source=source,
                line=getattr(meta, "line", None),
                column=getattr(meta, "column", None),
                hint="split it into several clauses",
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


# -- syntax errors in words ------------------------------------------------------------------


def _terminal_words() -> dict[str, str]:
    words = dict(PATTERN_WORDS)
    for term in parser().terminals:
        if isinstance(term.pattern, PatternStr):
            words.setdefault(term.name, f"'{term.pattern.value}'")
    return words


def _describe(tok: Token) -> str:
    kind, text = tok.type, str(tok)
    if kind == "$END":
        return "end of file"
    if kind == "_NL":
        return "end of line"
    if kind == "NAME":
        return f"name '{text}'"
    if kind == "NUMBER":
        return f"number {text}"
    if kind == "STRING":
        return f"string {text if len(text) <= 40 else text[:37] + '...'}"
    if kind == "REGEX":
        return f"regular expression {text if len(text) <= 40 else text[:37] + '...'}"
    return f"'{text}'"


def _expected_words(expected: set[str]) -> list[str]:
    words = _terminal_words()
    out: list[str] = []
    rest = set(expected)
    if len(rest & EXPRESSION_START) >= 5:
        out.append("an expression")
        rest -= EXPRESSION_START
    if len(rest & CLAUSE_START) >= 6:
        out.append("a statement (" + ", ".join(k for k in BODY_KEYWORDS) + ")")
        rest -= CLAUSE_START
    if len(rest & OPTION_START) >= 4:
        out.append("a clause option (as, severity, priority, enforcement, message, else)")
        rest -= OPTION_START
    order = ["COMP_OP", "AND", "OR", "CONFORMS"]
    for name in sorted(rest, key=lambda n: (order.index(n) if n in order else len(order), n)):
        out.append(words.get(name, name.lower()))
    return out


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _previous_token(source: str, offset: int) -> tuple[Token | None, list[Token]]:
    """Return the last real token before ``offset`` and the brackets still open there.

    Used on the error path only.
    """
    prev = None
    open_brackets: list[Token] = []
    try:
        for tok in parser().lex(source):
            if tok.start_pos is None or tok.start_pos >= offset:
                break
            if tok.type in ("LPAR", "LSQB"):
                open_brackets.append(tok)
            elif tok.type in ("RPAR", "RSQB") and open_brackets:
                open_brackets.pop()
            if tok.type != "_NL":
                prev = tok
    except UnexpectedInput:
        pass
    return prev, open_brackets


def _syntax_error(exc: UnexpectedInput, source: str, file: str | None) -> LLMCLError:
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, source, file)
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = {e for e in exc.expected if e != "$END" or tok.type != "$END"}
    offset = tok.start_pos if tok.type != "$END" and tok.start_pos is not None else len(source)
    prev, open_brackets = _previous_token(source, offset)
    words = _expected_words(expected)
    line, column = tok.line, tok.column
    end_column = tok.end_column if tok.type not in ("$END", "_NL") else None
    if tok.type in ("$END", "_NL") or line is None:
        # Point just past what came before: that is where something is missing.
        if prev is not None:
            line, column = prev.end_line, prev.end_column
        else:
            line, column = 1, 1
    hint = None
    if "an expression" in words and prev is not None and tok.type not in EXPRESSION_START:
        message = f"expected an expression after {_describe(prev)}"
        if tok.type not in ("$END", "_NL"):
            message += f", found {_describe(tok)}"
        others = [w for w in words if w != "an expression"]
        if others:
            message += f" (or {_join(others)})"
    else:
        message = f"unexpected {_describe(tok)}"
        if words:
            message += f"; expected {_join(words)}"
    if open_brackets and open_brackets[-1].line != tok.line:
        bracket = open_brackets[-1]
        hint = f"the '{bracket}' at line {bracket.line}, column {bracket.column} is not closed"
    elif expected == {"LPAR"} and prev is not None and prev.type == "NAME":
        hint = (
            f"'{prev}' is not a value: a name is a function, called as {prev}(...); values are "
            f"input, output, context.<name>, numbers, strings and /regular expressions/"
        )
    elif tok.type == "NAME":
        literal = [
            w.strip("'")
            for w in (_terminal_words().get(e, "") for e in expected)
            if w.startswith("'") and w[1:-1].isidentifier()
        ]
        hint = did_you_mean(str(tok), literal or KEYWORDS)
        if hint is None and tok.type == "NAME" and "RBRACE" in expected and "REQUIRE" in expected:
            hint = "a statement starts with a keyword such as 'require' or 'ensure'"
    elif tok.type == "$END" and "RBRACE" in expected:
        hint = "a contract's '{' is not closed: add '}'"
    elif tok.type in ("REQUIRE", "ENSURE", "CONTRACT") and "_NL" in expected:
        hint = "start each statement on a new line"
    return LLMCLSyntaxError.at(
        message,
        file=file,
        source=source,
        line=line,
        column=column,
        end_column=end_column,
        expected=words,
        hint=hint,
    )


def _bad_character(exc: UnexpectedCharacters, source: str, file: str | None) -> LLMCLError:
    char = exc.char
    rest = source[exc.pos_in_stream :].split("\n", 1)[0]
    hint = None
    if char == '"':
        message = "this string is not closed on its line"
        hint = 'end it with " on the same line; write \\n for a line break'
        end = exc.column + len(rest)
    elif char == "/":
        message = "this regular expression is not closed on its line"
        hint = "write it as /pattern/flags on one line; '//' starts a comment"
        end = exc.column + len(rest)
    else:
        shown = repr(char) if not char.isprintable() or char in "'\\" else f"'{char}'"
        message = f"unexpected character {shown}"
        end = exc.column + 1
        if char == "'":
            hint = 'strings are written in double quotes: "..."'
        elif char == "-":
            hint = "a negative number is written without a space: -3"
        elif char in "&|!":
            hint = "write 'and', 'or' and 'not'" if char != "!" or not rest.startswith("!=") else None
    return LLMCLSyntaxError.at(
        message, file=file, source=source, line=exc.line, column=exc.column, end_column=end, hint=hint
    )


# -- building the syntax tree ------------------------------------------------------------------


def _pos_of(node: Tree[Token] | Token) -> A.Pos:
    if isinstance(node, Token):
        return A.Pos(node.line or 0, node.column or 0, node.end_line or 0, node.end_column or 0)
    meta = node.meta
    if getattr(meta, "empty", True):
        return A.NOWHERE
    return A.Pos(meta.line, meta.column, meta.end_line, meta.end_column)


_SETTINGS = ("description", "enforcement", "severity", "priority", "version")


class _Builder:
    """Turn lark's tree into ``_ast`` nodes, collecting the errors the grammar cannot see."""

    def __init__(self, source: str, file: str | None) -> None:
        self.source = source
        self.file = file
        self.errors: list[LLMCLError] = []

    def error(
        self, message: str, pos: A.Pos, hint: str | None = None, cls: type[LLMCLError] = LLMCLSemanticError
    ) -> None:
        end = pos.end_column if pos.end_line == pos.line else None
        self.errors.append(
            cls.at(
                message,
                file=self.file,
                source=self.source,
                line=pos.line,
                column=pos.column,
                end_column=end,
                hint=hint,
            )
        )

    # -- statements --

    def module(self, tree: Tree[Token]) -> A.Module:
        imports: list[A.Import] = []
        contracts: list[A.ContractDecl] = []
        for child in tree.children:
            assert isinstance(child, Tree)
            if child.data == "import_stmt":
                imports.append(A.Import(self.string(child.children[0]), _pos_of(child)))
            else:
                contracts.append(self.contract(child))
        blank = frozenset(i + 1 for i, line in enumerate(self.source.split("\n")) if not line.strip())
        return A.Module(tuple(imports), tuple(contracts), blank_lines=blank)

    def contract(self, tree: Tree[Token]) -> A.ContractDecl:
        name_tok = tree.children[0]
        assert isinstance(name_tok, Token)
        fields: dict[str, Any] = {}
        spans: dict[str, A.Pos] = {"name": _pos_of(name_tok)}
        clauses: list[A.Clause] = []
        for item in tree.children[1:]:
            assert isinstance(item, Tree)
            kind = str(item.data)
            pos = _pos_of(item)
            if kind in _SETTINGS or kind in ("retry", "fallback", "extends"):
                if kind in fields:
                    what = {"retry": "'on violation retry'", "fallback": "'on violation fallback'"}.get(
                        kind, f"'{kind}'"
                    )
                    first = spans[kind]
                    self.error(
                        f"{what} is set twice in contract '{name_tok}'",
                        pos,
                        hint=f"the first one is at line {first.line}; keep one",
                    )
                    continue
                spans[kind] = pos
            if kind == "version":
                fields[kind] = self.number(item.children[0])
                spans["version_value"] = _pos_of(item.children[0])
            elif kind == "priority":
                fields[kind] = self.priority(item.children[0])
                spans["priority_value"] = _pos_of(item.children[0])
            elif kind == "extends":
                names = []
                for tok in item.children:
                    names.append(str(tok))
                    spans[f"extends:{tok}"] = _pos_of(tok)
                fields[kind] = tuple(names)
            elif kind == "description":
                fields[kind] = self.string(item.children[0])
            elif kind in ("enforcement", "severity"):
                fields[kind] = str(item.children[0])
                spans[f"{kind}_value"] = _pos_of(item.children[0])
            elif kind == "retry":
                count = self.number(item.children[0])
                spans["retry_count"] = _pos_of(item.children[0])
                message = self.string(item.children[1]) if len(item.children) > 1 else None
                fields[kind] = A.Retry(count, message, pos)  # type: ignore[arg-type]
            elif kind == "fallback":
                fields[kind] = A.Fallback(self.string(item.children[0]), pos)
            else:
                clauses.append(self.clause(item))
        return A.ContractDecl(
            name=str(name_tok), clauses=tuple(clauses), pos=_pos_of(tree), spans=spans, **fields
        )

    def clause(self, tree: Tree[Token]) -> A.Clause:
        kind = str(tree.data)
        children = list(tree.children)
        within = None
        trigger = release = None
        spans: dict[str, A.Pos] = {}
        if kind == "eventually":
            tok = children.pop(0)
            within = self.number(tok)
            spans["within"] = _pos_of(tok)
        elif kind == "next" and isinstance(children[0], Tree) and children[0].data == "after":
            after = children.pop(0)
            assert isinstance(after, Tree)
            trigger = self.expr(after.children[0])
        elif kind == "until":
            release = self.expr(children.pop(0))
        expr = self.expr(children.pop(0))
        options = self.options(children, spans)
        return A.Clause(kind, expr, options, within, trigger, release, _pos_of(tree))  # type: ignore[arg-type]

    def options(self, trees: list[Any], spans: dict[str, A.Pos]) -> A.Options:
        values: dict[str, Any] = {}
        for tree in trees:
            key = str(tree.data)[4:]
            pos = _pos_of(tree)
            if key in values or (key in ("fix", "ask") and {"fix", "ask"} & set(values)):
                self.error(
                    "this clause already has " + ("an 'else'" if key in ("fix", "ask") else f"'{key}'"), pos
                )
                continue
            tok = tree.children[0]
            spans[key] = pos
            spans[f"{key}_value"] = _pos_of(tok)
            if key == "priority":
                values[key] = self.priority(tok)
            elif key in ("message", "ask"):
                values[key] = self.string(tok)
            else:
                values[key] = str(tok)
        return A.Options(spans=spans, **values)

    # -- tokens --

    def string(self, tok: Any) -> str:
        text = str(tok)
        try:
            value = json.loads(text, strict=False)
        except ValueError:
            bad = re.search(r'\\(?:u(?![0-9a-fA-F]{4})|[^"\\/bfnrtu])', text)
            what = bad.group() if bad else "\\"
            self.error(
                f"invalid escape '{what}' in a string",
                _pos_of(tok),
                hint='escapes are \\" \\\\ \\n \\t \\uXXXX; write \\\\ for a backslash',
                cls=LLMCLSyntaxError,
            )
            return text[1:-1]
        assert isinstance(value, str)
        return value

    def number(self, tok: Any) -> int | float:
        text = str(tok)
        return float(text) if "." in text else int(text)

    def priority(self, tok: Any) -> str | int | float:
        return self.number(tok) if tok.type == "NUMBER" else str(tok)

    # -- expressions --

    def expr(self, node: Any) -> A.Expr:
        if isinstance(node, Token):  # only inlined atoms reach here as bare tokens
            raise AssertionError(f"unexpected token {node!r}")
        kind = str(node.data)
        pos = _pos_of(node)
        ch = node.children
        if kind in ("or_expr", "and_expr"):
            op = "or" if kind == "or_expr" else "and"
            args: list[A.Expr] = []
            for child in ch:
                sub = self.expr(child)
                args.extend(sub.args if isinstance(sub, A.BoolOp) and sub.op == op else (sub,))
            return A.BoolOp(op, tuple(args), pos)
        if kind == "not_":
            return A.Not(self.expr(ch[0]), pos)
        if kind == "compare":
            return A.Compare(str(ch[1]), self.expr(ch[0]), self.expr(ch[2]), pos)
        if kind == "conforms_file":
            return A.Conforms(self.expr(ch[0]), self.string(ch[1]), None, pos, _pos_of(ch[1]))
        if kind == "conforms_inline":
            return A.Conforms(self.expr(ch[0]), None, self.json(ch[1]), pos, _pos_of(ch[1]))
        if kind == "call":
            name = ch[0]
            return A.Call(str(name), tuple(self.expr(c) for c in ch[1:]), pos, _pos_of(name))
        if kind == "list_expr":
            return A.ListExpr(tuple(self.expr(c) for c in ch if c is not None), pos)
        if kind == "use":
            args: list[tuple[str, Any]] = []  # type: ignore[no-redef]
            seen: set[str] = set()
            if len(ch) > 1:
                for arg in ch[1].children:
                    key = str(arg.children[0])
                    if key in seen:
                        self.error(f"argument '{key}' is given twice", _pos_of(arg))
                    seen.add(key)
                    args.append((key, self.json(arg.children[1])))  # type: ignore[arg-type]
            return A.Use(self.string(ch[0]), tuple(args), pos)  # type: ignore[arg-type]
        if kind == "number":
            return A.Num(self.number(ch[0]), pos)
        if kind == "string":
            return A.Str(self.string(ch[0]), pos)
        if kind == "regex":
            text = str(ch[0])
            end = text.rindex("/")
            return A.Regex(text[1:end], text[end + 1 :], pos)
        if kind in ("true", "false"):
            return A.Bool(kind == "true", pos)
        if kind == "input_ref":
            return A.Ref("input", (), pos)
        if kind == "output_ref":
            return A.Ref("output", (), pos)
        if kind == "context_ref":
            return A.Ref("context", tuple(str(t) for t in ch), pos)
        if kind in ("json_object", "json_array", "null"):
            self.error("a JSON value can only stand after 'conforms' or in the arguments of 'use'", pos)
            return A.Bool(False, pos)
        raise AssertionError(f"unknown expression node {kind}")

    def json(self, node: Any) -> Any:
        kind = str(node.data)
        ch = node.children
        if kind == "json_object":
            out: dict[str, Any] = {}
            for pair in ch:
                key = self.string(pair.children[0])
                if key in out:
                    self.error(f"key {json.dumps(key)} appears twice in this JSON object", _pos_of(pair))
                out[key] = self.json(pair.children[1])
            return out
        if kind == "json_array":
            return [self.json(c) for c in ch]
        if kind == "string":
            return self.string(ch[0])
        if kind == "number":
            return self.number(ch[0])
        if kind in ("true", "false"):
            return kind == "true"
        if kind == "null":
            return None
        raise AssertionError(f"unknown JSON node {kind}")
