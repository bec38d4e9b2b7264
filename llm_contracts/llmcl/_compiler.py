"""Compile LLMCL source to the versioned JSON spec the SDK loads and the server stores.

One pass resolves imports (relative to the importing file, cycles refused), flattens
``extends``, checks every expression (known functions, arity, types, regular
expressions, JSON Schemas, named contracts of the registry) and collects as many
errors as it can before raising them together. Each compiled contract is then built
into contract objects and given to the composition resolver; its report goes into
the spec, and in strict mode every conflict is an error at the clause's position.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._exceptions import LLMContractsError
from ..contracts._registry import ContractRegistry, default_registry
from . import _ast as A
from ._errors import LLMCLError, LLMCLSemanticError, combine, did_you_mean
from ._formatter import clause_text, expr_text
from ._functions import FUNCTIONS, REGEX_FLAGS, TYPE_WORDS
from ._loader import build_clause
from ._parser import parse
from ._spec import PENDING_JUDGE, SPEC_VERSION, regex_flags

__all__ = [
    "ENFORCEMENTS",
    "FIXES",
    "PRIORITIES",
    "SEVERITIES",
    "SPEC_VERSION",
    "compile_file",
    "compile_source",
]

PRIORITIES = {"low": 25, "medium": 50, "high": 75, "critical": 100}
SEVERITIES = ("info", "warning", "error", "critical")
ENFORCEMENTS = ("strict", "warn", "monitor")
FIXES = ("truncate", "redact")
KEYWORD = {"invariant": "ensure_every_turn"}
TEMPORAL = ("invariant", "always", "never", "eventually", "next", "until")

# (import as written, the importing file or None) -> (source text, file name)
Resolver = Callable[[str, str | None], tuple[str, str]]


def file_resolver(target: str, importer: str | None) -> tuple[str, str]:
    """Read ``target`` relative to the importing file's folder (the working folder without one)."""
    base = Path(importer).parent if importer else Path()
    path = base / target
    return path.read_text(encoding="utf-8"), str(path)


@dataclass
class _Unit:
    file: str
    source: str
    module: A.Module
    folder: Path | None


@dataclass
class _Decl:
    decl: A.ContractDecl
    unit: _Unit
    clauses: list[dict[str, Any]] = field(default_factory=list)


def compile_source(
    source: str,
    *,
    path: str | Path | None = None,
    strict: bool = False,
    registry: ContractRegistry | None = None,
    resolver: Resolver | None = None,
) -> dict[str, Any]:
    """Compile LLMCL ``source`` to a JSON spec; raise ``LLMCLError`` with every problem found.

    ``path`` names the source (for messages, and as the base of relative imports and
    schema files); ``strict`` makes every conflict between clauses an error;
    ``registry`` holds the named contracts ``use`` may refer to; ``resolver`` reads
    imported files (the file system by default).
    """
    compiler = _Compiler(
        strict=strict, registry=registry or default_registry, resolver=resolver or file_resolver
    )
    return compiler.run(source, None if path is None else str(path))


def compile_file(path: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Compile the LLMCL file at ``path``; see :func:`compile_source`."""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LLMCLError(
            f"cannot read {str(path)!r}: {getattr(exc, 'strerror', None) or exc}", file=str(path)
        ) from None
    return compile_source(source, path=path, **kwargs)


def _at(pos: A.Pos) -> list[int]:
    return [pos.line, pos.column]


class _Compiler:
    def __init__(self, *, strict: bool, registry: ContractRegistry, resolver: Resolver) -> None:
        self.strict = strict
        self.registry = registry
        self.resolver = resolver
        self.errors: list[LLMCLError] = []
        self.units: dict[str, _Unit] = {}
        self.decls: dict[str, _Decl] = {}
        # An import that failed leaves names undefined: no cascade of errors about them.
        self.import_failed = False
        # Schemas read from files, by the id of their ``conforms`` node.
        self.schemas: dict[int, Any] = {}
        # Checking a schema against its metaschema is slow: each distinct one is checked once.
        self.valid_schemas: set[str] = set()
        # Inherited clauses with the same settings build the same contract: build it once.
        self.built: dict[str, Any] = {}

    # -- errors --

    def error(self, unit: _Unit, message: str, pos: A.Pos, hint: str | None = None) -> None:
        end = pos.end_column if pos.end_line == pos.line else None
        self.errors.append(
            LLMCLSemanticError.at(
                message,
                file=unit.file,
                source=unit.source,
                line=pos.line or None,
                column=pos.column or None,
                end_column=end,
                hint=hint,
            )
        )

    # -- the pass --

    def run(self, source: str, path: str | None) -> dict[str, Any]:
        root = self.load(source, path, [])
        if root is None:
            raise combine(self.errors)
        for entry in list(self.decls.values()):
            self.check_decl(entry)
        contracts = []
        for decl in root.module.contracts:
            found = self.decls.get(decl.name)
            if found is not None and found.decl is decl:
                contracts.append(self.emit(found))
        if not self.errors:
            for spec in contracts:
                self.resolve_conflicts(spec, root)
        if self.errors:
            raise combine(self.errors)
        return {
            "spec_version": SPEC_VERSION,
            "language": "llmcl",
            "file": root.file if path is not None else None,
            "imports": [u.file for u in self.units.values() if u is not root],
            "contracts": contracts,
        }

    def load(self, source: str, file: str | None, stack: list[str]) -> _Unit | None:
        name = file or "<source>"
        try:
            module = parse(source, file=name)
        except LLMCLError as exc:
            self.errors.extend(exc.errors)
            self.import_failed = True
            return None
        unit = _Unit(name, source, module, Path(file).parent if file else None)
        self.units[name] = unit
        for decl in module.contracts:
            other = self.decls.get(decl.name)
            if other is not None:
                where = f"{other.unit.file}:{other.decl.pos.line}"
                self.error(
                    unit,
                    f"contract '{decl.name}' is defined twice",
                    decl.spans.get("name", decl.pos),
                    hint=f"the other definition is at {where}; rename one of them",
                )
                continue
            self.decls[decl.name] = _Decl(decl, unit)
        for imp in module.imports:
            self.import_(unit, imp, [*stack, name])
        return unit

    def import_(self, unit: _Unit, imp: A.Import, stack: list[str]) -> None:
        try:
            source, file = self.resolver(imp.path, None if unit.file == "<source>" else unit.file)
        except (OSError, UnicodeDecodeError, LLMContractsError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            self.error(
                unit,
                f'cannot import "{imp.path}": {why}',
                imp.pos,
                hint="the path is relative to the importing file",
            )
            self.import_failed = True
            return
        key = str(Path(file)) if file else imp.path
        if key in stack or any(_same_file(key, s) for s in stack):
            cycle = " -> ".join(
                [*(Path(s).name for s in stack[stack.index(key) if key in stack else 0 :]), Path(key).name]
            )
            self.error(unit, f"import cycle: {cycle}", imp.pos, hint="two files cannot import each other")
            return
        if key in self.units or any(_same_file(key, k) for k in self.units):
            return
        self.load(source, key, stack)

    # -- checks --

    def check_decl(self, entry: _Decl) -> None:
        decl, unit = entry.decl, entry.unit
        for field_name, allowed in (("severity", SEVERITIES), ("enforcement", ENFORCEMENTS)):
            value = getattr(decl, field_name)
            if value is not None and value not in allowed:
                self.bad_word(
                    unit, field_name, value, allowed, decl.spans.get(f"{field_name}_value", decl.pos)
                )
        if decl.priority is not None:
            self.check_priority(unit, decl.priority, decl.spans.get("priority_value", decl.pos))
        if decl.version is not None and (not isinstance(decl.version, int) or decl.version < 0):
            self.error(
                unit,
                f"version must be a whole number >= 0; got {decl.version}",
                decl.spans.get("version_value", decl.pos),
            )
        for base in decl.extends:
            if base not in self.decls and not self.import_failed:
                self.error(
                    unit,
                    f"contract '{decl.name}' extends '{base}', which is not defined",
                    decl.spans.get(f"extends:{base}", decl.pos),
                    hint=did_you_mean(base, self.decls) or "define it here or import its file",
                )
            elif base == decl.name:
                self.error(
                    unit,
                    f"contract '{decl.name}' extends itself",
                    decl.spans.get(f"extends:{base}", decl.pos),
                )
        if decl.retry is not None:
            count = decl.retry.count
            if not isinstance(count, int) or count < 0:
                self.error(
                    unit,
                    f"the retry count must be a whole number >= 0; got {number(count)}",
                    decl.spans.get("retry_count", decl.retry.pos),
                    hint="'on violation retry 0' turns re-asking off",
                )
        counters: dict[str, int] = {}
        for clause in decl.clauses:
            counters[clause.kind] = counters.get(clause.kind, 0) + 1
            entry.clauses.append(self.check_clause(unit, decl, clause, counters[clause.kind]))

    def bad_word(
        self, unit: _Unit, what: str, value: str, allowed: tuple[str, ...] | list[str], pos: A.Pos
    ) -> None:
        hint = did_you_mean(value, allowed) or f"use one of {', '.join(allowed)}"
        self.error(unit, f"unknown {what} '{value}'", pos, hint=hint)

    def check_priority(self, unit: _Unit, value: str | int | float, pos: A.Pos) -> None:
        if isinstance(value, str):
            if value not in PRIORITIES:
                self.bad_word(unit, "priority", value, [*PRIORITIES, "or a whole number"], pos)
        elif not isinstance(value, int):
            self.error(
                unit,
                f"priority must be low, medium, high, critical or a whole number; got {number(value)}",
                pos,
            )

    def check_clause(self, unit: _Unit, decl: A.ContractDecl, clause: A.Clause, index: int) -> dict[str, Any]:
        o = clause.options
        spans = o.spans
        if o.severity is not None and o.severity not in SEVERITIES:
            self.bad_word(unit, "severity", o.severity, SEVERITIES, spans.get("severity_value", clause.pos))
        if o.enforcement is not None and o.enforcement not in ENFORCEMENTS:
            self.bad_word(
                unit, "enforcement", o.enforcement, ENFORCEMENTS, spans.get("enforcement_value", clause.pos)
            )
        if o.priority is not None:
            self.check_priority(unit, o.priority, spans.get("priority_value", clause.pos))
        if clause.within is not None and (not isinstance(clause.within, int) or clause.within < 1):
            self.error(
                unit,
                f"'eventually within' needs a whole number of turns >= 1; got {number(clause.within)}",
                spans.get("within", clause.pos),
            )
        scope = "input" if clause.kind == "require" else "any"
        self.condition(unit, clause.expr, scope, clause.kind)
        if clause.trigger is not None:
            self.condition(unit, clause.trigger, "any", "next")
        if clause.release is not None:
            self.condition(unit, clause.release, "any", "until")
        if o.fix is not None:
            self.check_fix(unit, clause)
        keyword = KEYWORD.get(clause.kind, clause.kind)
        return {
            "kind": clause.kind,
            "name": o.name or f"{decl.name}.{keyword}[{index}]",
            "text": clause_text(clause),
            "declared_in": decl.name,
            "expression": self.to_json(clause.expr, unit),
            "severity": o.severity,
            "priority": _priority(o.priority),
            "enforcement": o.enforcement,
            "message": o.message,
            "fix": o.fix,
            "retry_message": o.ask,
            "within": clause.within,
            "trigger": self.to_json(clause.trigger, unit) if clause.trigger is not None else None,
            "release": self.to_json(clause.release, unit) if clause.release is not None else None,
            "file": None if unit.file == "<source>" else unit.file,
            "position": clause.pos.to_dict(),
        }

    def check_fix(self, unit: _Unit, clause: A.Clause) -> None:
        fix = clause.options.fix
        pos = clause.options.spans.get("fix_value", clause.pos)
        if fix not in FIXES:
            self.bad_word(unit, "fix strategy", fix or "", FIXES, pos)
            return
        e = clause.expr
        if fix == "truncate":
            measures = ("len", "tokens", "words")
            ok = isinstance(e, A.Compare) and any(
                isinstance(side, A.Call) and side.fn in measures for side in (e.left, e.right)
            )
            if not ok:
                self.error(
                    unit,
                    "'fix truncate' needs a length limit such as len(output) <= 2000 or "
                    "tokens(input) <= 4000",
                    pos,
                )
        elif fix == "redact":
            ok = isinstance(e, A.Not) and isinstance(e.arg, A.Call) and e.arg.fn == "pii"
            if not ok:
                self.error(unit, "'fix redact' needs a personal data check such as not pii(input)", pos)

    # -- expressions --

    def condition(self, unit: _Unit, e: A.Expr, scope: str, kind: str) -> None:
        t = self.type_of(unit, e, scope, kind)
        if t not in ("bool", "json", "any", "?"):
            example = f"{expr_text(e)} <= 100" if t == "number" else f'contains({expr_text(e)}, "...")'
            self.error(
                unit,
                f"a condition must be true or false, but {expr_text(e)} is {TYPE_WORDS[t]}",
                e.pos,
                hint=f"compare it, e.g. {example}",
            )

    def type_of(self, unit: _Unit, e: A.Expr, scope: str, kind: str) -> str:
        """Return the type of ``e`` ("?" after an error already reported)."""
        if isinstance(e, A.Num):
            return "number"
        if isinstance(e, A.Str):
            return "text"
        if isinstance(e, A.Bool):
            return "bool"
        if isinstance(e, A.Regex):
            self.check_regex(unit, e.pattern, e.flags, e.pos)
            return "regex"
        if isinstance(e, A.Ref):
            if e.name == "output" and scope == "input":
                self.error(
                    unit,
                    "'output' is not known before the call: a 'require' clause checks the request",
                    e.pos,
                    hint="check the answer with 'ensure'",
                )
                return "?"
            return "any" if e.name == "context" else "text"
        if isinstance(e, A.Not):
            self.condition(unit, e.arg, scope, kind)
            return "bool"
        if isinstance(e, A.BoolOp):
            for arg in e.args:
                self.condition(unit, arg, scope, kind)
            return "bool"
        if isinstance(e, A.Compare):
            return self.compare(unit, e, scope, kind)
        if isinstance(e, A.Conforms):
            if not (isinstance(e.arg, A.Call) and e.arg.fn == "json"):
                self.error(
                    unit,
                    f"'conforms' checks a json(...) value, not {expr_text(e.arg)}",
                    e.arg.pos,
                    hint=f"write json({expr_text(e.arg)}) conforms ...",
                )
            else:
                self.type_of(unit, e.arg, scope, kind)
            self.check_schema(unit, e)
            return "bool"
        if isinstance(e, A.Use):
            if e.name not in self.registry:
                self.error(
                    unit,
                    f'no contract named "{e.name}" is registered',
                    e.pos,
                    hint=did_you_mean(e.name, self.registry.names())
                    or "register it with register_contract() before compiling",
                )
            return "bool"
        if isinstance(e, A.Call):
            return self.call(unit, e, scope, kind)
        if isinstance(e, A.ListExpr):
            for item in e.items:
                if not isinstance(item, A.Str):
                    self.error(
                        unit, f"a list holds strings in double quotes; {expr_text(item)} is not one", item.pos
                    )
            return "list"
        raise AssertionError(f"unknown node {e!r}")

    def call(self, unit: _Unit, e: A.Call, scope: str, kind: str) -> str:
        sig = FUNCTIONS.get(e.fn)
        if sig is None:
            self.error(
                unit,
                f"unknown function '{e.fn}'",
                e.name_pos,
                hint=did_you_mean(e.fn, FUNCTIONS) or f"the functions are {', '.join(FUNCTIONS)}",
            )
            for arg in e.args:
                self.type_of(unit, arg, scope, kind)
            return "?"
        n = len(sig.params)
        if len(e.args) < n or (len(e.args) > n and sig.rest is None):
            wanted = ", ".join(sig.params)
            more = " or more" if sig.rest else ""
            self.error(
                unit,
                f"{e.fn}() takes {n}{more} argument{'s' if n > 1 else ''} ({wanted}), got {len(e.args)}",
                e.pos,
            )
            return sig.returns
        if e.fn == "judge":
            if scope == "input":
                self.error(
                    unit,
                    "judge() grades the answer: a 'require' clause checks the request",
                    e.pos,
                    hint="grade the answer with 'ensure judge(\"...\") >= 0.7'",
                )
            if not isinstance(e.args[0], A.Str) or not e.args[0].value.strip():
                self.error(
                    unit,
                    'judge() takes the rubric as a string, e.g. judge("Is the answer polite?")',
                    e.args[0].pos,
                )
            return sig.returns
        for i, arg in enumerate(e.args):
            want = sig.params[i] if i < n else (sig.rest or "text")
            got = self.type_of(unit, arg, scope, kind)
            if got in ("?", "any"):
                continue
            if want == "topics" and got in ("list", "text"):
                if got == "list" and isinstance(arg, A.ListExpr) and not arg.items:
                    self.error(unit, f"{e.fn}() needs at least one topic", arg.pos)
                continue
            if want == "pattern":
                if got == "text" and isinstance(arg, A.Str):
                    self.check_regex(unit, arg.value, "", arg.pos)
                    continue
                if got == "regex":
                    continue
                if got == "text":
                    # The text of the call (the user's prompt, the model's answer) is never
                    # compiled as a pattern: it would let anyone who writes it pick one.
                    self.error(
                        unit,
                        f"{e.fn}() takes its pattern from the contract: {expr_text(arg)} is "
                        "the text of the call, which is never compiled as a regular expression",
                        arg.pos,
                        hint=f"to look for it as plain text write "
                        f"contains({expr_text(e.args[0])}, {expr_text(arg)})",
                    )
                    continue
            elif got == want:
                if i >= n:
                    self.check_choice(unit, e.fn, arg)
                continue
            self.error(
                unit,
                f"{e.fn}() needs {TYPE_WORDS[want]} as argument {i + 1}, but "
                f"{expr_text(arg)} is {TYPE_WORDS[got]}",
                arg.pos,
            )
        return sig.returns

    def check_choice(self, unit: _Unit, fn: str, arg: A.Expr) -> None:
        from ..contracts._pii import PII_KINDS
        from ..contracts._policy import DEFAULT_POLICY

        allowed = list(PII_KINDS) if fn == "pii" else list(DEFAULT_POLICY)
        what = "kind of personal data" if fn == "pii" else "policy category"
        if not isinstance(arg, A.Str):
            self.error(unit, f"{fn}() takes the {what} as a string", arg.pos)
        elif arg.value not in allowed:
            self.error(
                unit,
                f'unknown {what} "{arg.value}"',
                arg.pos,
                hint=did_you_mean(arg.value, allowed) or f"use one of {', '.join(allowed)}",
            )

    def compare(self, unit: _Unit, e: A.Compare, scope: str, kind: str) -> str:
        left = self.type_of(unit, e.left, scope, kind)
        right = self.type_of(unit, e.right, scope, kind)
        if "?" in (left, right) or "any" in (left, right):
            return "bool"
        if e.op in ("==", "!=") and left == right and left in ("number", "text", "bool"):
            return "bool"
        if left == right == "number":
            return "bool"
        if e.op not in ("==", "!=") and left == right:
            self.error(unit, f"'{e.op}' compares numbers, but both sides are {TYPE_WORDS[left]}", e.pos)
        else:
            self.error(
                unit,
                f"cannot compare {TYPE_WORDS[left]} with {TYPE_WORDS[right]}: "
                f"{expr_text(e.left)} {e.op} {expr_text(e.right)}",
                e.pos,
                hint="len(), tokens() and words() turn text into a number"
                if "text" in (left, right) and "number" in (left, right)
                else None,
            )
        return "bool"

    def check_regex(self, unit: _Unit, pattern: str, flags: str, pos: A.Pos) -> None:
        bad = [f for f in flags if f not in REGEX_FLAGS]
        if bad:
            self.error(
                unit,
                f"unknown regular expression flag '{bad[0]}'",
                pos,
                hint="the flags are i (ignore case), m (multi-line), s (dot matches newline), x (verbose)",
            )
            return
        self.check_pattern(unit, pattern, regex_flags(flags), pos)

    def check_pattern(self, unit: _Unit, pattern: str, flags: int, pos: A.Pos, where: str = "") -> bool:
        """Report a pattern the linear-time engine cannot run; return True when it can."""
        from .._regex import PatternError, compile_pattern

        # Contracts are data (stored on the server, pulled by every SDK): a pattern must
        # run on the linear-time engine, so one it cannot run is refused here.
        try:
            compile_pattern(pattern, flags)
        except PatternError as exc:
            words = {
                "invalid": "invalid regular expression",
                "unsupported": "unsupported regular expression",
                "too expensive": "regular expression too expensive",
            }[exc.reason]
            self.error(
                unit,
                f"{words}{where}: {exc.detail}",
                pos,
                hint="RE2 syntax: no backreferences (\\1) and no lookaround ((?=...), (?<!...))"
                if exc.reason == "unsupported"
                else None,
            )
            return False
        return True

    def check_schema(self, unit: _Unit, e: A.Conforms) -> None:
        from ..contracts._json import compile_schema

        schema = e.schema
        if e.schema_file is not None:
            schema = self.read_schema(unit, e)
            if schema is None:
                return
        key = json.dumps(schema, sort_keys=True)
        if key not in self.valid_schemas:
            try:
                compile_schema(schema)
            except LLMContractsError as exc:
                self.error(unit, f"bad JSON Schema: {exc}", e.schema_pos)
                return
            from .._regex import schema_patterns

            # A schema's patterns are contract data too: RE2 only, as for /.../ literals.
            if not all(
                [
                    self.check_pattern(unit, pattern, 0, e.schema_pos, f" in the JSON Schema at {path}")
                    for path, pattern in schema_patterns(schema)
                ]
            ):
                return
            self.valid_schemas.add(key)
        self.schemas[id(e)] = schema

    def read_schema(self, unit: _Unit, e: A.Conforms) -> Any:
        assert e.schema_file is not None
        path = (unit.folder or Path()) / e.schema_file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.error(
                unit,
                f'cannot read the JSON Schema "{e.schema_file}": {getattr(exc, "strerror", None) or exc}',
                e.schema_pos,
                hint="the path is relative to the contract's file",
            )
            return None
        try:
            schema = json.loads(text)
        except ValueError as exc:
            self.error(unit, f'bad JSON Schema: "{e.schema_file}" is not JSON ({exc})', e.schema_pos)
            return None
        if not isinstance(schema, (dict, bool)):
            self.error(unit, f'bad JSON Schema: "{e.schema_file}" does not hold a JSON object', e.schema_pos)
            return None
        return schema

    # -- emission --

    def to_json(self, e: A.Expr, unit: _Unit) -> dict[str, Any]:
        at = _at(e.pos)
        if isinstance(e, A.Num):
            return {"op": "num", "value": e.value, "at": at}
        if isinstance(e, A.Str):
            return {"op": "str", "value": e.value, "at": at}
        if isinstance(e, A.Bool):
            return {"op": "bool", "value": e.value, "at": at}
        if isinstance(e, A.Regex):
            return {"op": "regex", "pattern": e.pattern, "flags": e.flags, "at": at}
        if isinstance(e, A.Ref):
            node: dict[str, Any] = {"op": "ref", "name": e.name, "at": at}
            if e.path:
                node["path"] = list(e.path)
            return node
        if isinstance(e, A.Not):
            return {"op": "not", "arg": self.to_json(e.arg, unit), "at": at}
        if isinstance(e, A.BoolOp):
            return {"op": e.op, "args": [self.to_json(a, unit) for a in e.args], "at": at}
        if isinstance(e, A.Compare):
            return {
                "op": "cmp",
                "cmp": e.op,
                "left": self.to_json(e.left, unit),
                "right": self.to_json(e.right, unit),
                "at": at,
            }
        if isinstance(e, A.Conforms):
            return {
                "op": "conforms",
                "arg": self.to_json(e.arg, unit),
                "schema": self.schemas.get(id(e), e.schema),
                "schema_file": e.schema_file,
                "at": at,
            }
        if isinstance(e, A.Call):
            return {"op": "call", "fn": e.fn, "args": [self.to_json(a, unit) for a in e.args], "at": at}
        if isinstance(e, A.Use):
            return {"op": "use", "name": e.name, "args": dict(e.args), "at": at}
        if isinstance(e, A.ListExpr):
            return {"op": "list", "items": [self.to_json(a, unit) for a in e.items], "at": at}
        raise AssertionError(f"unknown node {e!r}")

    def flatten(
        self, entry: _Decl, seen: list[str]
    ) -> tuple[list[tuple[_Decl, dict[str, Any]]], list[_Decl]]:
        """Return the clauses of ``entry`` with its bases' first, and the chain of contracts."""
        decl = entry.decl
        if decl.name in seen:
            cycle = " -> ".join([*seen[seen.index(decl.name) :], decl.name])
            self.error(
                entry.unit,
                f"'extends' cycle: {cycle}",
                decl.spans.get("name", decl.pos),
                hint="a contract cannot extend itself, directly or through others",
            )
            return [], []
        out: list[tuple[_Decl, dict[str, Any]]] = []
        chain: list[_Decl] = []
        for base in decl.extends:
            parent = self.decls.get(base)
            if parent is None or base == decl.name:
                continue
            clauses, parents = self.flatten(parent, [*seen, decl.name])
            out.extend(c for c in clauses if all(c[1] is not o[1] for o in out))
            chain.extend(p for p in parents if p not in chain)
        out.extend((entry, c) for c in entry.clauses)
        chain.append(entry)
        return out, chain

    def emit(self, entry: _Decl) -> dict[str, Any]:
        decl = entry.decl
        clauses, chain = self.flatten(entry, [])
        # The nearest contract that sets something wins: the declaring contract's own
        # settings first, then those of the contracts that extend it, down to this one.
        by_name = {d.decl.name: d for d in chain}
        spec_clauses = []
        names: dict[str, dict[str, Any]] = {}
        for owner, clause in clauses:
            c = dict(clause)
            lineage = [owner.decl] + [by_name[n].decl for n in _descendants(owner.decl.name, chain)]
            for key in ("severity", "enforcement"):
                if c[key] is None:
                    c[key] = next((getattr(d, key) for d in lineage if getattr(d, key) is not None), None)
            if c["priority"] is None:
                c["priority"] = next((_priority(d.priority) for d in lineage if d.priority is not None), None)
            if c["name"] in names:
                pos = A.Pos(**c["position"])
                self.error(
                    owner.unit,
                    f"two clauses of contract '{decl.name}' are named '{c['name']}'",
                    pos,
                    hint="give each clause its own name with 'as'",
                )
            names[c["name"]] = c
            spec_clauses.append(c)
        retry = next((d.decl.retry for d in reversed(chain) if d.decl.retry is not None), None)
        fallback = next((d.decl.fallback for d in reversed(chain) if d.decl.fallback is not None), None)
        return {
            "name": decl.name,
            "version": decl.version,
            "description": decl.description,
            "priority": _priority(decl.priority),
            "severity": decl.severity,
            "enforcement": decl.enforcement,
            "extends": list(decl.extends),
            "clauses": spec_clauses,
            "remediation": {
                "retries": retry.count if retry is not None else 0,
                "retry_message": retry.message if retry is not None else None,
                "fallback": fallback.text if fallback is not None else None,
            },
            "conflicts": [],
            "file": None if entry.unit.file == "<source>" else entry.unit.file,
            "position": decl.pos.to_dict(),
        }

    # -- conflicts --

    def resolve_conflicts(self, spec: dict[str, Any], root: _Unit) -> None:
        from ..contracts.composition import ContractConflictError, resolve

        built = []
        retry_message = spec["remediation"]["retry_message"]
        for clause in spec["clauses"]:
            unit = self.units.get(clause["file"] or "<source>", root)
            key = json.dumps(
                [
                    clause["declared_in"],
                    clause["name"],
                    clause["severity"],
                    clause["priority"],
                    clause["enforcement"],
                    spec["severity"],
                    spec["priority"],
                    spec["enforcement"],
                    retry_message,
                ]
            )
            try:
                if key not in self.built:
                    self.built[key] = build_clause(clause, spec, registry=self.registry, judge=PENDING_JUDGE)
                built.append(self.built[key])
            except LLMCLError as exc:
                self.errors.extend(exc.errors)
            except (LLMContractsError, TypeError, ValueError) as exc:
                pos = A.Pos(**clause["position"])
                self.error(unit, f"clause cannot be built: {exc}", pos)
        if self.errors:
            return
        by_name = {c["name"]: c for c in spec["clauses"]}
        try:
            resolution = resolve(built, strict=self.strict)
            conflicts = resolution.conflicts
        except ContractConflictError as exc:
            conflicts = exc.conflicts
            for conflict in conflicts:
                involved = [by_name[n] for n in conflict.contracts if n in by_name]
                if not involved:
                    self.errors.append(
                        LLMCLSemanticError(f"conflicting clauses: {conflict.reason}", file=root.file)
                    )
                    continue
                clause = involved[-1]
                unit = self.units.get(clause["file"] or "<source>", root)
                other = involved[0] if len(involved) > 1 else None
                hint = (
                    f"it conflicts with '{other['text']}' at line {other['position']['line']}"
                    if other is not None and other is not clause
                    else None
                )
                self.error(
                    unit,
                    f"conflicting clauses ({conflict.kind}): {conflict.reason}",
                    A.Pos(**clause["position"]),
                    hint=hint,
                )
        spec["conflicts"] = [c.to_dict() for c in conflicts]


def _descendants(name: str, chain: list[_Decl]) -> list[str]:
    """Return the contracts of ``chain`` after ``name`` that (transitively) extend it, nearest first."""
    out: list[str] = []
    reach = {name}
    for d in chain:
        if d.decl.name != name and reach & set(d.decl.extends):
            reach.add(d.decl.name)
            out.append(d.decl.name)
    return out


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _priority(value: str | int | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        return PRIORITIES.get(value, 0)
    return int(value)


def number(value: int | float) -> str:
    return str(value)


def spec_regex_flag_names(flags: str) -> str:
    return "|".join(REGEX_FLAGS[f] for f in flags)
