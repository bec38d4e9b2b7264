"""Combine contracts without letting them contradict each other.

:func:`resolve` is the one resolver used by the LLMCL compiler and at run time, when
contracts are given to a client (``ContractOpenAI(..., conflicts=...)``) or to a
decorator. It compares every contract with the ones of higher (or equal) priority
already kept, in priority order, and finds five kinds of conflict:

``duplicate``
    The same contract twice: equal structural keys (type, category and the settings
    that decide the verdict; not the name, severity, enforcement or priority). With
    different priorities the higher one **overrides** and the other is dropped; with
    equal priorities the two **merge** into one that keeps the stricter severity and
    the stricter enforcement (strict > warn > monitor), so merging never weakens a check.
``contradiction``
    ``require X`` and ``require not X``: a contract and the negation of an equivalent
    one (``Not(c)``, or a regex that must match against the same regex that must not).
    The higher priority overrides; at equal priorities nothing is dropped (**skip**).
``format``
    A JSON format contract and a regex the answer must match that matches none of the
    JSON documents the schema allows (probes such as ``{}``, ``[]``, ``{"a": 1}``;
    scalars like ``true`` only when the schema's type allows them, since a format
    contract is there for documents), or a forbidden regex that every probe contains.
    The probes are bare JSON, plus fenced JSON when the contract extracts: that is the
    answer the JSON contract asks the model for when it re-asks.
``schema``
    Two structured-output contracts (JSON Schema or pydantic) with different schemas.
    The higher priority overrides; equal priorities **skip**.
``bounds``
    A maximum below a minimum on the same measure (``output.chars``, ``output.words``,
    ``output.tokens``, ``input.tokens``, ...), across two contracts: the higher priority
    overrides, equal priorities **skip**. Two contracts of the same mergeable type
    (``LengthContract``, ``PromptLengthContract``) and the same settings that bound the
    same side of a measure differently **merge** into one with the tightest bounds.

Actions: ``override`` keeps the winner and drops the other contract; ``merge`` replaces
both with one new contract (the originals are never modified); ``skip`` leaves both in
place because nothing says which one the author meant: every answer will then fail
one of them, which is why the conflict is reported (and is an error in ``strict`` mode).

Contracts of your own take part through three optional methods: ``_conflict_key()``
(a hashable structural key, ``None`` for none), ``_conflict_bounds()`` (a mapping
``measure -> (min, max)``, either side ``None``) and ``_conflict_merge(other)`` (a merged
contract, or ``None`` when the two cannot merge). Without a key, only the very same
object given twice counts as a duplicate.

Example::

    resolution = resolve([LengthContract(max_chars=100), LengthContract(min_chars=500, priority=1)])
    resolution.contracts   # [the min_chars=500 contract]
    print(resolution)      # what was resolved and why
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import ContractConfigError
from ._base import AllOf, AnyOf, Category, Contract, Enforcement, FunctionContract, Not
from ._input import (
    KnownModelContract,
    PromptInjectionContract,
    PromptLengthContract,
    RequestParametersContract,
)
from ._json import JSONFormatContract, PydanticContract
from ._output import LengthContract, RefusalContract, RegexContract
from ._performance import ResponseTimeContract, TokenBudgetContract
from ._pii import PIIContract
from ._policy import ContentPolicyContract
from ._tools import ToolCallContract

__all__ = [
    "CONFLICT_ACTIONS",
    "CONFLICT_KINDS",
    "Conflict",
    "ContractConflictError",
    "Resolution",
    "conflict_key",
    "resolve",
]

CONFLICT_KINDS = ("format", "schema", "bounds", "contradiction", "duplicate")
CONFLICT_ACTIONS = ("merge", "override", "skip")

_ENFORCEMENT_RANK = {Enforcement.MONITOR: 0, Enforcement.WARN: 1, Enforcement.STRICT: 2}


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two contracts that cannot both hold as written, and what the resolver did about it.

    ``contracts`` names the kept (or higher-priority) contract first; ``winner`` is the
    contract that remains (the merged one for ``merge``), ``None`` for ``skip``.
    """

    kind: str
    contracts: tuple[str, ...]
    action: str
    winner: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the conflict as plain data."""
        return {
            "kind": self.kind,
            "contracts": list(self.contracts),
            "action": self.action,
            "winner": self.winner,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        names = " vs ".join(self.contracts)
        outcome = {
            "merge": f"merged into {self.winner}",
            "override": f"{self.winner} wins",
            "skip": "both kept",
        }.get(self.action, self.action)
        return f"{self.kind}: {names} ({outcome}): {self.reason}"


@dataclass(slots=True)
class Resolution:
    """The resolved contracts, in priority order, and the conflicts found on the way."""

    contracts: list[Contract]
    conflicts: list[Conflict] = field(default_factory=list)
    given: int = 0

    @property
    def unresolved(self) -> list[Conflict]:
        """Return the conflicts left in place (action ``skip``)."""
        return [c for c in self.conflicts if c.action == "skip"]

    def report(self) -> str:
        """Return what was resolved and why, for people."""
        head = f"{len(self.contracts)} of {self.given} contract(s) kept; {len(self.conflicts)} conflict(s)"
        if not self.conflicts:
            return head + "."
        return head + ":\n" + "\n".join(f"- {c}" for c in self.conflicts)

    def __str__(self) -> str:
        return self.report()

    def to_dict(self) -> dict[str, Any]:
        """Return the resolution as plain data."""
        return {
            "contracts": [c.name for c in self.contracts],
            "conflicts": [c.to_dict() for c in self.conflicts],
        }


class ContractConflictError(ContractConfigError):
    """Raise in strict mode when contracts conflict; ``conflicts`` lists every conflict."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = list(conflicts)
        lines = "\n".join(f"- {c}" for c in self.conflicts)
        super().__init__(f"{len(self.conflicts)} contract conflict(s) (strict mode):\n{lines}")


# -- structural keys -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Negated:
    """The key of ``not X`` for the key of ``X``."""

    key: Hashable


def _negate(key: Hashable) -> Hashable:
    return key.key if isinstance(key, _Negated) else _Negated(key)


def _schema_text(schema: Any) -> str | None:
    if schema is None:
        return None
    try:
        return json.dumps(schema, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(schema)


def _builtin_key(c: Contract) -> Hashable | None:
    cat = c.category.value
    head: tuple[Any, ...] = (type(c).__name__, cat)
    if isinstance(c, Not):
        inner = conflict_key(c.contracts[0])
        return None if inner is None else _negate(inner)
    if isinstance(c, (AllOf, AnyOf)):
        keys = [conflict_key(m) for m in c.contracts]
        return None if any(k is None for k in keys) else (*head, tuple(keys))
    if isinstance(c, RegexContract):
        key = ("regex", cat, c.regex.pattern, c.regex.flags, c.fullmatch)
        return key if c.must_match else _negate(key)
    if isinstance(c, LengthContract):
        return (*head, c.min_chars, c.max_chars, c.min_words, c.max_words)
    if isinstance(c, PromptLengthContract):
        return (*head, c.max_tokens, c.max_chars, c.model, c.keep, c.auto_fix)
    if isinstance(c, PydanticContract):
        return (*head, c.model, c.extract)
    if isinstance(c, JSONFormatContract):
        return (*head, _schema_text(c.schema), c.extract)
    if isinstance(c, PIIContract):
        roles = None if c.roles is None else tuple(sorted(c.roles))
        return (*head, tuple(c.kinds), roles, c.auto_fix)
    if isinstance(c, ContentPolicyContract):
        return (*head, _schema_text(c.policy), _schema_text(c.patterns), tuple(sorted(c.roles)))
    if isinstance(c, PromptInjectionContract):
        rules = tuple((r.name, r.weight, r.pattern.pattern, r.pattern.flags) for r in c.rules)
        return (*head, c.threshold, tuple(sorted(c.roles)), rules)
    if isinstance(c, RequestParametersContract):
        return (*head, c.temperature, c.top_p, c.max_output_tokens, c.check_messages, c.check_context)
    if isinstance(c, KnownModelContract):
        return (*head, c.allowed, tuple(sorted(c.extra_models)))
    if isinstance(c, RefusalContract):
        return (*head, c.window, c._regex.pattern, c.use_provider_field)
    if isinstance(c, ResponseTimeContract):
        return (*head, c.max_seconds)
    if isinstance(c, TokenBudgetContract):
        return (*head, c.max_total_tokens, c.max_completion_tokens, c.max_cost_usd, c.model)
    if isinstance(c, ToolCallContract):
        return (*head, c.allow_unknown)
    if isinstance(c, FunctionContract):
        return (*head, c.fn, c.pass_value)
    return None


def conflict_key(contract: Contract) -> Hashable | None:
    """Return the structural key of ``contract``: equal keys mean the same check.

    The key leaves out the name, severity, enforcement and priority, so the same check
    registered twice with different settings is recognised. ``None`` means unknown.
    """
    own = getattr(contract, "_conflict_key", None)
    if callable(own):
        return own()  # type: ignore[no-any-return]
    try:
        key = _builtin_key(contract)
        hash(key)
    except (AttributeError, TypeError):
        # A built-in whose attributes changed shape, or an unhashable setting: no key,
        # which only weakens detection to "the same object twice".
        return None
    return key


# -- bounds ----------------------------------------------------------------------------------------

Bounds = Mapping[str, tuple[float | None, float | None]]


def _bounds(c: Contract) -> Bounds:
    own = getattr(c, "_conflict_bounds", None)
    if callable(own):
        return own()  # type: ignore[no-any-return]
    side = "input" if c.category is Category.INPUT else "output"
    out: dict[str, tuple[float | None, float | None]] = {}
    if isinstance(c, LengthContract):
        if c.min_chars is not None or c.max_chars is not None:
            out[f"{side}.chars"] = (c.min_chars, c.max_chars)
        if c.min_words is not None or c.max_words is not None:
            out[f"{side}.words"] = (c.min_words, c.max_words)
    elif isinstance(c, PromptLengthContract):
        if c.max_tokens is not None:
            out["input.tokens"] = (None, c.max_tokens)
        if c.max_chars is not None:
            out["input.chars"] = (None, c.max_chars)
    elif isinstance(c, TokenBudgetContract):
        if c.max_completion_tokens is not None:
            out["output.tokens"] = (None, c.max_completion_tokens)
        if c.max_total_tokens is not None:
            out["total.tokens"] = (None, c.max_total_tokens)
    return out


def _impossible(a: Bounds, b: Bounds) -> tuple[str, float, float] | None:
    """Return (measure, max, min) when a maximum of one is below a minimum of the other."""
    for measure in a.keys() & b.keys():
        (lo_a, hi_a), (lo_b, hi_b) = a[measure], b[measure]
        if hi_a is not None and lo_b is not None and hi_a < lo_b:
            return measure, hi_a, lo_b
        if hi_b is not None and lo_a is not None and hi_b < lo_a:
            return measure, hi_b, lo_a
    return None


def _differing_sides(a: Bounds, b: Bounds) -> list[str]:
    """Return the bounds both set to different values, as ``min measure`` / ``max measure``."""
    out = []
    for measure in sorted(a.keys() & b.keys()):
        for i, side in enumerate(("min", "max")):
            va, vb = a[measure][i], b[measure][i]
            if va is not None and vb is not None and va != vb:
                out.append(f"{side} {measure} ({va:g} and {vb:g})")
    return out


def _tight(lo: tuple[int | None, ...], hi: tuple[int | None, ...]) -> tuple[int | None, int | None]:
    lows = [v for v in lo if v is not None]
    highs = [v for v in hi if v is not None]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _same_settings(a: Contract, b: Contract) -> bool:
    return (
        type(a) is type(b)
        and a.category is b.category
        and a.severity is b.severity
        and a.enforcement is b.enforcement
        and a.auto_fix == b.auto_fix
        and a.fail_open == b.fail_open
    )


def _merged_name(a: Contract, b: Contract) -> str:
    return a.name if a.name == b.name else f"{a.name}+{b.name}"


def _common(a: Contract, b: Contract) -> dict[str, Any]:
    return {
        "name": _merged_name(a, b),
        "description": a.description,
        "category": a.category,
        "severity": a.severity,
        "priority": max(a.priority, b.priority),
        "enforcement": a.enforcement,
        "auto_fix": a.auto_fix,
        "fail_open": a.fail_open,
    }


def _merge_bounds(a: Contract, b: Contract) -> Contract | None:
    own = getattr(a, "_conflict_merge", None)
    if callable(own):
        return own(b)  # type: ignore[no-any-return]
    if not _same_settings(a, b):
        return None
    if isinstance(a, LengthContract) and isinstance(b, LengthContract):
        min_chars, max_chars = _tight((a.min_chars, b.min_chars), (a.max_chars, b.max_chars))
        min_words, max_words = _tight((a.min_words, b.min_words), (a.max_words, b.max_words))
        return LengthContract(min_chars, max_chars, min_words, max_words, **_common(a, b))
    if (
        isinstance(a, PromptLengthContract)
        and isinstance(b, PromptLengthContract)
        and a.model == b.model
        and a.keep == b.keep
    ):
        _, max_tokens = _tight((), (a.max_tokens, b.max_tokens))
        _, max_chars = _tight((), (a.max_chars, b.max_chars))
        return PromptLengthContract(max_tokens, max_chars, model=a.model, keep=a.keep, **_common(a, b))
    return None


# -- formats ---------------------------------------------------------------------------------------

_PROBES: dict[str, tuple[str, ...]] = {
    "object": ("{}", '{"a": 1}', '{"answer": "yes"}', '{\n  "a": "b"\n}'),
    "array": ("[]", "[1, 2]", '["a", "b"]', '[{"a": 1}]'),
    "string": ('"x"', '"some text"'),
    "number": ("1", "-2.5", "0"),
    "integer": ("1", "0", "-3"),
    "boolean": ("true", "false"),
    "null": ("null",),
}


def _json_probes(c: JSONFormatContract | PydanticContract) -> list[str]:
    """Return answers the JSON contract would accept in the form it asks the model for."""
    schema = c.schema if isinstance(c.schema, Mapping) else {}
    declared = schema.get("type")
    if isinstance(declared, str):
        types = [declared]
    elif isinstance(declared, list):
        types = [t for t in declared if isinstance(t, str)]
    elif "properties" in schema or "required" in schema:
        types = ["object"]
    elif "items" in schema:
        types = ["array"]
    else:
        types = ["object", "array"]
    probes = [p for t in types for p in _PROBES.get(t, ())] or list(_PROBES["object"])
    if c.extract:
        probes += [f"```json\n{p}\n```" for p in probes]
    return probes


def _anchored(c: RegexContract) -> bool:
    """Return True when the pattern must match at the very start (or the whole) of the answer."""
    if c.fullmatch:
        return True
    pattern = c.regex.pattern
    starts = pattern.startswith("\\A") or (pattern.startswith("^") and not c.regex.flags & re.MULTILINE)
    return starts


def _matches(c: RegexContract, text: str) -> bool:
    return bool(c.regex.fullmatch(text.strip()) if c.fullmatch else c.regex.search(text))


def _format_clash(a: Contract, b: Contract) -> str | None:
    """Return why a JSON contract and a regex contract cannot both hold, or None."""
    json_c = a if isinstance(a, (JSONFormatContract, PydanticContract)) else b
    regex_c = b if json_c is a else a
    if not isinstance(json_c, (JSONFormatContract, PydanticContract)):
        return None
    if not isinstance(regex_c, RegexContract):
        return None
    if Category.INPUT in (json_c.category, regex_c.category):
        return None
    probes = _json_probes(json_c)
    hits = [p for p in probes if _matches(regex_c, p)]
    if regex_c.must_match and not hits and not _anchored(regex_c):
        # An unanchored pattern can be met inside a JSON document (in a string value or
        # by the fields the schema names): probing generic documents proves nothing.
        return None
    if regex_c.must_match and not hits:
        return (
            f"{json_c.name} requires a JSON answer but {regex_c.name} requires a match of "
            f"/{regex_c.regex.pattern}/, which no JSON answer such as {probes[0]} or "
            f"{probes[min(1, len(probes) - 1)]} matches"
        )
    if not regex_c.must_match and len(hits) == len(probes):
        return (
            f"{json_c.name} requires a JSON answer but {regex_c.name} forbids "
            f"/{regex_c.regex.pattern}/, which every JSON answer contains"
        )
    return None


def _schemas(c: JSONFormatContract | PydanticContract) -> set[str]:
    """Return the canonical texts of every schema ``c`` stands for."""
    out = {_schema_text(c.schema)} - {None}
    if isinstance(c, PydanticContract):
        # A model whose plain schema cannot be built still has the strict one.
        with contextlib.suppress(Exception):
            out.add(_schema_text(c.model.model_json_schema()))
    return {s for s in out if s is not None}


def _schema_clash(a: Contract, b: Contract) -> str | None:
    structured = (JSONFormatContract, PydanticContract)
    if not (isinstance(a, structured) and isinstance(b, structured)):
        return None
    if Category.INPUT in (a.category, b.category) or a.schema is None or b.schema is None:
        return None
    if _schemas(a) & _schemas(b):
        return None
    return (
        f"{a.name} and {b.name} require different schemas for the same answer; the model "
        f"can be told only one of them"
    )


# -- the resolver ----------------------------------------------------------------------------------


def _stricter(a: Contract, b: Contract) -> Contract:
    """Return a copy of ``a`` with the stricter severity and enforcement of the two."""
    merged = copy.copy(a)
    merged.severity = max(a.severity, b.severity, key=lambda s: s.rank)
    merged.enforcement = max(a.enforcement, b.enforcement, key=lambda e: _ENFORCEMENT_RANK[e])
    return merged


def _settings(c: Contract) -> str:
    return f"{c.severity.value}/{c.enforcement.value}, priority {c.priority}"


def _relation(
    kept: Contract, new: Contract, kept_key: Hashable | None, new_key: Hashable | None
) -> tuple[str, str] | None:
    """Return ``(kind, reason)`` when ``new`` conflicts with ``kept``, else None."""
    if kept is new or (kept_key is not None and kept_key == new_key):
        if kept is new:
            return "duplicate", f"the same contract object was registered twice ({_settings(new)})"
        if (kept.severity, kept.enforcement) == (new.severity, new.enforcement):
            return "duplicate", (
                f"the same check was registered twice ({_settings(kept)} and {_settings(new)})"
            )
        return "duplicate", (
            f"the same check was registered at different severities: {kept.name} "
            f"({_settings(kept)}) and {new.name} ({_settings(new)})"
        )
    if kept_key is not None and new_key is not None and kept_key == _negate(new_key):
        return "contradiction", (f"{kept.name} requires what {new.name} forbids: no answer can satisfy both")
    why = _format_clash(kept, new)
    if why is not None:
        return "format", why
    why = _schema_clash(kept, new)
    if why is not None:
        return "schema", why
    bounds_kept, bounds_new = _bounds(kept), _bounds(new)
    if bounds_kept and bounds_new:
        clash = _impossible(bounds_kept, bounds_new)
        if clash is not None:
            measure, high, low = clash
            return "bounds", f"the maximum {measure} ({high:g}) is below the minimum ({low:g})"
        sides = _differing_sides(bounds_kept, bounds_new)
        if sides:
            return "bounds-merge", f"both set {', '.join(sides)}; the tightest bounds hold"
    return None


def resolve(contracts: Sequence[Contract], *, strict: bool = False) -> Resolution:
    """Resolve conflicts among ``contracts``; raise ``ContractConflictError`` on any in strict mode.

    Returns the contracts to enforce, highest priority first (declaration order among
    equal priorities), and every conflict found with what was done about it.
    """
    if isinstance(contracts, (Contract, str)) or not isinstance(contracts, Sequence):
        raise ContractConfigError(f"resolve() needs a sequence of contracts; got {type(contracts).__name__}")
    for i, c in enumerate(contracts):
        if not isinstance(c, Contract):
            raise ContractConfigError(f"contracts[{i}] is {type(c).__name__} ({c!r}), not a Contract")
    ordered = sorted(contracts, key=lambda c: -c.priority)
    kept: list[Contract] = []
    keys: list[Hashable | None] = []
    conflicts: list[Conflict] = []
    for new in ordered:
        new_key = conflict_key(new)
        placed = False
        for i, old in enumerate(kept):
            found = _relation(old, new, keys[i], new_key)
            if found is None:
                continue
            kind, reason = found
            names = (old.name, new.name)
            if kind == "bounds-merge":
                merged = _merge_bounds(old, new)
                if merged is None:
                    continue  # different kinds of contract: both hold, and together they are the tightest
                conflicts.append(Conflict("bounds", names, "merge", merged.name, reason))
                kept[i], keys[i] = merged, conflict_key(merged)
                placed = True
                break
            if old.priority > new.priority:
                conflicts.append(
                    Conflict(
                        kind,
                        names,
                        "override",
                        old.name,
                        f"{reason}; {old.name} has the higher priority "
                        f"({old.priority} > {new.priority}), {new.name} is dropped",
                    )
                )
                placed = True
                break
            if kind == "duplicate":
                merged = _stricter(old, new)
                detail = (
                    ""
                    if (old.severity, old.enforcement) == (merged.severity, merged.enforcement)
                    else f"; kept one at {merged.severity.value}/{merged.enforcement.value}"
                )
                conflicts.append(
                    Conflict(
                        kind,
                        names,
                        "merge",
                        merged.name,
                        f"{reason}; equal priorities, merged into one{detail}",
                    )
                )
                kept[i] = merged
                placed = True
                break
            conflicts.append(
                Conflict(
                    kind,
                    names,
                    "skip",
                    None,
                    f"{reason}; equal priorities ({old.priority}), so both are kept: "
                    f"set a higher priority on the one that should win",
                )
            )
        if not placed:
            kept.append(new)
            keys.append(new_key)
    if strict and conflicts:
        raise ContractConflictError(conflicts)
    return Resolution(kept, conflicts, len(contracts))
