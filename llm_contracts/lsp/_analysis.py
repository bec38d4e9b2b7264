"""What the language server knows about an LLMCL document, independent of the protocol.

Positions here are 0-based lines and columns counted in characters (code points); the
server converts them to the client's units. The text may be broken: diagnostics come
from the real compiler, everything else from the lexer, which stops at the first bad
character instead of raising.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contracts._registry import ContractRegistry
from ..llmcl import LLMCLError, compile_source, format_source
from ..llmcl.language import (
    BODY_KEYWORDS,
    ENFORCEMENTS,
    FIXES,
    FUNCTIONS,
    PRIORITIES,
    SEVERITIES,
    TYPE_WORDS,
    Token,
    tokens,
)
from ._reference import KEYWORD_DOCS

__all__ = ["Analysis", "Completion", "Place", "Problem"]

# Reads a file the way the editor sees it (an open, unsaved buffer wins over the disk).
Reader = Callable[[str], str]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPRESSION_WORDS = ("input", "output", "context", "true", "false", "not", "and", "or", "conforms", "use")
_CLAUSE_OPTIONS = ("as", "severity", "priority", "enforcement", "message", "else")


@dataclass(frozen=True, slots=True)
class Place:
    """A range in a file: 0-based lines and character columns, end exclusive."""

    path: str | None
    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, slots=True)
class Problem:
    """One diagnostic: where, what, how bad, and where else it points."""

    place: Place
    message: str
    severity: str  # "error" or "warning"
    related: list[tuple[Place, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Completion:
    label: str
    kind: str  # keyword, function, contract, value, file, variable
    detail: str = ""
    documentation: str = ""


def _function_doc(name: str) -> tuple[str, str]:
    sig = FUNCTIONS[name]
    params = ", ".join(sig.params)
    if sig.rest:
        params += ", ..."
    return f"{name}({params}) -> {TYPE_WORDS.get(sig.returns, sig.returns)}", sig.doc


def _place_of(tok: Token, path: str | None) -> Place:
    return Place(path, tok.line - 1, tok.column - 1, tok.end_line - 1, tok.end_column - 1)


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text.startswith('"') and text.endswith('"') else text.strip('"')


class Analysis:
    """The view of one document: its text, its file (None when unsaved), the registry and a reader."""

    def __init__(
        self, source: str, path: str | None, *, registry: ContractRegistry, read: Reader | None = None
    ) -> None:
        self.source = source
        self.path = path
        self.registry = registry
        self.read: Reader = read or (lambda p: Path(p).read_text(encoding="utf-8"))
        self.tokens = tokens(source)
        self.lines = source.split("\n")

    # -- diagnostics ------------------------------------------------------------------------

    def _resolve(self, target: str, importer: str | None) -> tuple[str, str]:
        base = Path(importer).parent if importer else Path()
        path = str(base / target)
        return self.read(path), path

    def problems(self) -> list[Problem]:
        """Return the compiler's errors (or, when it compiles, its conflict warnings) for this text."""
        try:
            spec = compile_source(self.source, path=self.path, registry=self.registry, resolver=self._resolve)
        except LLMCLError as exc:
            return [self._problem(e) for e in exc.errors]
        return self._conflicts(spec)

    def _own(self, file: str | None) -> bool:
        return file == (self.path if self.path is not None else "<source>")

    def _span(self, line: int, column: int, end_column: int | None) -> Place:
        """Return the range of an error at 1-based ``line``:``column`` of this text."""
        row = max(line - 1, 0)
        col = max(column - 1, 0)
        text = self.lines[row] if row < len(self.lines) else ""
        if end_column is not None and end_column > column:
            end = end_column - 1
        else:
            word = _WORD.match(text, col)
            end = word.end() if word else min(col + 1, max(len(text.rstrip("\r")), col))
        return Place(self.path, row, col, row, end)

    def _problem(self, e: LLMCLError) -> Problem:
        message = e.message + (f"\nhint: {e.hint}" if e.hint else "")
        if self._own(e.file):
            if e.line is None:
                return Problem(Place(self.path, 0, 0, 0, 0), message, "error")
            return Problem(self._span(e.line, e.column or 1, e.end_column), message, "error")
        # An error in an imported file shows at the import that brings it in.
        where = f"{e.file}:{e.line}:{e.column}" if e.line is not None else e.file
        at = self._import_place(e.file) or Place(self.path, 0, 0, 0, 0)
        related = []
        if e.line is not None:
            related.append(
                (
                    Place(
                        e.file,
                        e.line - 1,
                        (e.column or 1) - 1,
                        e.line - 1,
                        (e.end_column or e.column or 1) - 1,
                    ),
                    e.message,
                )
            )
        return Problem(at, f"{where}: {message}", "error", related)

    def _import_place(self, file: str) -> Place | None:
        imports = [(t, self._import_target(t)) for t in self._after("IMPORT")]
        for tok, target in imports:
            if target is not None and _same(target, file):
                return _place_of(tok, self.path)
        return _place_of(imports[0][0], self.path) if imports else None

    def _conflicts(self, spec: dict[str, Any]) -> list[Problem]:
        out = []
        for contract in spec.get("contracts", []):
            by_name = {c["name"]: c for c in contract["clauses"]}
            for conflict in contract.get("conflicts", []):
                involved = [by_name[n] for n in conflict["contracts"] if n in by_name]
                own = [c for c in involved if self._own(c.get("file") or "<source>")]
                if not own:
                    continue
                pos = own[-1]["position"]
                place = Place(
                    self.path, pos["line"] - 1, pos["column"] - 1, pos["end_line"] - 1, pos["end_column"] - 1
                )
                out.append(
                    Problem(
                        place, f"conflicting clauses ({conflict['kind']}): {conflict['reason']}", "warning"
                    )
                )
        return out

    # -- tokens ---------------------------------------------------------------------------------

    def _after(self, kind: str) -> Iterator[Token]:
        """Yield every token that follows a token of type ``kind``."""
        for prev, tok in zip(self.tokens, self.tokens[1:], strict=False):
            if prev.type == kind:
                yield tok

    def _import_target(self, tok: Token) -> str | None:
        if tok.type != "STRING":
            return None
        base = Path(self.path).parent if self.path else Path()
        return str(base / _unquote(tok.text))

    def token_at(self, line: int, column: int) -> tuple[int, Token] | None:
        """Return the index and token under 0-based ``line``:``column`` (its end counts as in it)."""
        for i, tok in enumerate(self.tokens):
            if tok.line - 1 == line and tok.column - 1 <= column <= tok.end_column - 1:
                return i, tok
        return None

    def _prev(self, i: int, back: int = 1) -> Token | None:
        return self.tokens[i - back] if i - back >= 0 else None

    def _in_extends(self, i: int) -> bool:
        """Return True when token ``i`` (a name) is in an ``extends A, B`` list."""
        j = i - 1
        while j >= 0 and self.tokens[j].type == "COMMA" and j - 1 >= 0 and self.tokens[j - 1].type == "NAME":
            j -= 2
        return j >= 0 and self.tokens[j].type == "EXTENDS"

    # -- contracts this file can see ------------------------------------------------------------

    def declarations(self) -> list[tuple[str, Place, str]]:
        """Return (name, place of its name, header line) of every contract here and in imported files."""
        seen: set[str] = set()
        out: list[tuple[str, Place, str]] = []

        def walk(toks: list[Token], path: str | None, lines: list[str], depth: int) -> None:
            key = str(Path(path).resolve()) if path else "<source>"
            if key in seen or depth > 20:
                return
            seen.add(key)
            for prev, tok in zip(toks, toks[1:], strict=False):
                if prev.type == "CONTRACT" and tok.type == "NAME":
                    header = lines[tok.line - 1].strip() if tok.line - 1 < len(lines) else ""
                    out.append((tok.text, _place_of(tok, path), header.rstrip("{").strip()))
            base = Path(path).parent if path else Path()
            for prev, tok in zip(toks, toks[1:], strict=False):
                if prev.type == "IMPORT" and tok.type == "STRING":
                    target = str(base / _unquote(tok.text))
                    try:
                        text = self.read(target)
                    except (OSError, UnicodeDecodeError):
                        continue
                    walk(tokens(text), target, text.split("\n"), depth + 1)

        walk(self.tokens, self.path, self.lines, 0)
        return out

    def _description_of(self, place: Place) -> str | None:
        """Return the ``description "..."`` of the contract declared at ``place``, if it has one."""
        try:
            text = self.source if place.path == self.path else self.read(place.path or "")
        except (OSError, UnicodeDecodeError):
            return None
        toks = tokens(text)
        start = next((i for i, t in enumerate(toks) if t.line - 1 == place.line and t.type == "NAME"), None)
        if start is None:
            return None
        depth = 0
        for prev, tok in zip(toks[start:], toks[start + 1 :], strict=False):
            depth += {"LBRACE": 1, "RBRACE": -1}.get(tok.type, 0)
            if depth < 0 or tok.type == "CONTRACT":
                return None
            if prev.type == "DESCRIPTION" and tok.type == "STRING":
                return _unquote(tok.text)
        return None

    # -- hover ---------------------------------------------------------------------------------

    def hover(self, line: int, column: int) -> tuple[str, Place] | None:
        """Return markdown about the word under the cursor and its range, or None."""
        found = self.token_at(line, column)
        if found is None:
            return None
        i, tok = found
        place = _place_of(tok, self.path)
        prev = self._prev(i)
        nxt = self.tokens[i + 1] if i + 1 < len(self.tokens) else None
        if tok.type == "NAME":
            if nxt is not None and nxt.type == "LPAR" and tok.text in FUNCTIONS:
                signature, doc = _function_doc(tok.text)
                return f"```llmcl\n{signature}\n```\n{doc}", place
            if prev is not None and prev.type in ("SEVERITY", "ENFORCEMENT", "PRIORITY", "FIX"):
                return self._value_doc(prev.type, tok.text), place
            if (prev is not None and prev.type == "CONTRACT") or self._in_extends(i):
                return self._contract_doc(tok.text), place
            return None
        if tok.type == "STRING" and prev is not None and prev.type == "USE":
            return self._use_doc(_unquote(tok.text)), place
        word = tok.text
        if word in KEYWORD_DOCS and tok.type == word.upper():
            return KEYWORD_DOCS[word], place
        return None

    def _value_doc(self, setting: str, value: str) -> str:
        known = {
            "SEVERITY": SEVERITIES,
            "ENFORCEMENT": ENFORCEMENTS,
            "PRIORITY": tuple(PRIORITIES),
            "FIX": FIXES,
        }[setting]
        word = setting.lower()
        if value not in known:
            return f"unknown {word} `{value}`: use one of {', '.join(known)}"
        if setting == "PRIORITY":
            return f"priority `{value}` ({PRIORITIES[value]}): " + KEYWORD_DOCS["priority"]
        return KEYWORD_DOCS[word]

    def _contract_doc(self, name: str) -> str:
        for decl, place, header in self.declarations():
            if decl == name:
                where = "this file" if place.path == self.path else (place.path or "")
                text = f"```llmcl\n{header}\n```\ndefined in {where}, line {place.line + 1}"
                description = self._description_of(place)
                return text + (f"\n\n{description}" if description else "")
        return f"contract `{name}` is not defined here or in an imported file"

    def _use_doc(self, name: str) -> str:
        factory = self._factory(name)
        if factory is None:
            return f'no contract named "{name}" is registered'
        doc = inspect.getdoc(factory) or ""
        what = getattr(factory, "__qualname__", type(factory).__name__)
        module = getattr(factory, "__module__", "")
        return f'named contract "{name}": `{module}.{what}`' + (f"\n\n{doc.splitlines()[0]}" if doc else "")

    def _factory(self, name: str) -> Any:
        if name not in self.registry:
            return None
        try:
            return self.registry._resolve(name)
        except Exception:  # a factory that cannot be imported is the compiler's error to report
            return None

    # -- go to definition -----------------------------------------------------------------------

    def definition(self, line: int, column: int) -> Place | None:
        """Return where the import, contract or named contract under the cursor is defined."""
        found = self.token_at(line, column)
        if found is None:
            return None
        i, tok = found
        prev = self._prev(i)
        if tok.type == "STRING" and prev is not None and prev.type == "IMPORT":
            target = self._import_target(tok)
            return Place(str(Path(target).resolve()), 0, 0, 0, 0) if target else None
        if tok.type == "NAME" and (self._in_extends(i) or (prev is not None and prev.type == "CONTRACT")):
            for name, place, _ in self.declarations():
                if name == tok.text:
                    return place
            return None
        if tok.type == "STRING" and prev is not None and prev.type == "USE":
            factory = self._factory(_unquote(tok.text))
            if factory is None:
                return None
            try:
                file = inspect.getsourcefile(factory)
                _, first = inspect.getsourcelines(factory)
            except (OSError, TypeError):
                return None
            return Place(file, max(first - 1, 0), 0, max(first - 1, 0), 0) if file else None
        return None

    # -- completion -----------------------------------------------------------------------------

    def completions(self, line: int, column: int) -> list[Completion]:
        """Return what may be typed at 0-based ``line``:``column``."""
        text = self.lines[line] if line < len(self.lines) else ""
        before = text[:column]
        if (m := re.search(r'\buse\s+"([^"]*)$', before)) is not None:
            return [
                Completion(n, "contract", "named contract")
                for n in self.registry.names()
                if n.startswith(m.group(1))
            ]
        if re.search(r'\bimport\s+"[^"]*$', before):
            return self._files()
        if re.search(r"\bcontext\.\w*$", before):
            return []
        if re.search(r"\bextends\s+(\w+\s*,\s*)*\w*$", before):
            own = re.search(r"\bcontract\s+(\w+)", before)
            return [
                Completion(name, "contract", header)
                for name, _, header in self.declarations()
                if own is None or name != own.group(1)
            ]
        for keyword, values in (
            ("severity", SEVERITIES),
            ("enforcement", ENFORCEMENTS),
            ("priority", tuple(PRIORITIES)),
            ("fix", FIXES),
        ):
            if re.search(rf"\b{keyword}\s+\w*$", before):
                return [Completion(v, "value", keyword) for v in values]
        if re.fullmatch(r"\s*\w*", before):  # the first word of a line
            depth = self._depth_at(line, column)
            words = BODY_KEYWORDS if depth > 0 else ("import", "contract")
            if depth == 0 or not self._continues(line):
                return [Completion(w, "keyword", "", KEYWORD_DOCS.get(w, "")) for w in words]
        out = [Completion(name, "function", *_function_doc(name)) for name in FUNCTIONS]
        out += [Completion(w, "keyword", "", KEYWORD_DOCS.get(w, "")) for w in _EXPRESSION_WORDS]
        if self._ends_clause(before):
            out += [Completion(w, "keyword", "option", KEYWORD_DOCS.get(w, "")) for w in _CLAUSE_OPTIONS]
        return out

    def _depth_at(self, line: int, column: int) -> int:
        """Return how many contract bodies (or JSON objects) are open before ``line``:``column``."""
        depth = 0
        for tok in self.tokens:
            if (tok.line - 1, tok.column - 1) >= (line, column):
                break
            depth += {"LBRACE": 1, "RBRACE": -1}.get(tok.type, 0)
        return max(depth, 0)

    def _continues(self, line: int) -> bool:
        """Return True when the previous line goes on into this one (an open bracket or an operator)."""
        earlier = [t for t in self.tokens if t.line - 1 < line]
        if not earlier:
            return False
        brackets = 0
        for tok in earlier:
            brackets += {"LPAR": 1, "LSQB": 1, "RPAR": -1, "RSQB": -1}.get(tok.type, 0)
        return brackets > 0 or earlier[-1].type in (
            "AND",
            "OR",
            "NOT",
            "COMP_OP",
            "COMMA",
            "COLON",
            "CONFORMS",
        )

    @staticmethod
    def _ends_clause(before: str) -> bool:
        # After a complete condition ("... <= 10 ", "...) ") an option may follow.
        return bool(re.search(r"(\)|\d|\"|/[a-z]*|\btrue|\bfalse|\binput|\boutput)\s+\w*$", before))

    def _files(self) -> list[Completion]:
        if self.path is None:
            return []
        folder = Path(self.path).parent
        own = Path(self.path).name
        try:
            found = sorted(p.name for p in folder.iterdir() if p.suffix == ".llmcl" and p.name != own)
        except OSError:
            return []
        return [Completion(name, "file", "LLMCL file") for name in found]

    # -- formatting -----------------------------------------------------------------------------

    def formatted(self) -> str | None:
        """Return the canonical text, or None when the text does not parse."""
        try:
            return format_source(self.source, file=self.path)
        except LLMCLError:
            return None


def _same(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
