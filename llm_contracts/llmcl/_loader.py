"""Load a compiled LLMCL spec into contract objects that behave like hand-built ones.

A clause whose condition is one a built-in contract checks becomes that built-in
(``tokens(input) <= 4000`` is a ``PromptLengthContract(max_tokens=4000)``,
``json(output) conforms S`` a ``JSONFormatContract(S)``, ``not pii(output)`` a
``PIIContract`` ...); ``use "name"`` takes the named contract from the registry; any
other condition becomes an :class:`ExpressionContract`. Temporal clauses wrap those in
the temporal operators.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._exceptions import ContractConfigError
from ..contracts._base import Category, Contract, Enforcement, Severity, ValidationContext, ValidationResult
from ..contracts._registry import ContractRegistry, default_registry
from ._errors import LLMCLError
from ._evaluator import ExpressionContract, uses
from ._spec import SPEC_VERSION, expression_source, needs_judge

__all__ = ["ContractSet", "build_clause", "load_spec"]

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_FIX_SUGGESTION = {
    "truncate": "Shorten the answer.",
    "redact": "Leave personal data out; refer to it generically or with placeholders.",
}


class ContractSet:
    """The contracts of one compiled LLMCL contract, ready for a client.

    Iterating gives every contract (input ones first), so
    ``ContractOpenAI(contracts=contract_set)`` routes them by category.

    Attributes:
        name, version, description: the contract's identity.
        input: contracts checked before the call (``require``).
        output: contracts checked on the answer (``ensure`` and the temporal clauses).
        contract_retries: how many re-asks ``on violation retry N`` allows.
        retry_message: the message the re-asks add to every violation's fix.
        fallback: the text ``on violation fallback`` gives when the retries run out.
        conflicts: the composition resolver's report, from the compiler.
        spec: the compiled spec of this contract.
    """

    def __init__(
        self,
        *,
        name: str,
        version: int | None,
        description: str | None,
        input: Sequence[Contract],
        output: Sequence[Contract],
        contract_retries: int,
        retry_message: str | None,
        fallback: str | None,
        conflicts: Sequence[Mapping[str, Any]],
        spec: Mapping[str, Any],
    ) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.input = list(input)
        self.output = list(output)
        self.contract_retries = contract_retries
        self.retry_message = retry_message
        self.fallback = fallback
        self.conflicts = [dict(c) for c in conflicts]
        self.spec = dict(spec)

    def __iter__(self) -> Iterator[Contract]:
        return iter([*self.input, *self.output])

    def __len__(self) -> int:
        return len(self.input) + len(self.output)

    def __getitem__(self, name: str) -> Contract:
        """Return the contract of the clause called ``name``."""
        for contract in self:
            if contract.name == name:
                return contract
        raise KeyError(name)

    def client_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments that give a ``ContractOpenAI`` these contracts and retries."""
        kwargs: dict[str, Any] = {"contracts": list(self), "contract_retries": self.contract_retries}
        if self.fallback is not None:
            kwargs["fallback"] = self.fallback
        return kwargs

    def __repr__(self) -> str:
        return (
            f"<ContractSet {self.name!r} v{self.version} input={len(self.input)} output={len(self.output)}>"
        )


# -- expression JSON back to source --------------------------------------------------------------


# -- clauses to contracts -----------------------------------------------------------------------


def _bare(node: Mapping[str, Any], side: str) -> bool:
    return node.get("op") == "ref" and node.get("name") == side and not node.get("path")


def _measure(node: Mapping[str, Any]) -> tuple[str, str, str, int] | None:
    """Return (function, side, op, limit) for ``f(side) op N`` (either way round), else None."""
    if node.get("op") != "cmp":
        return None
    left, right, op = node["left"], node["right"], node["cmp"]
    if left.get("op") == "num" and right.get("op") == "call":
        left, right, op = right, left, _FLIP[op]
    if left.get("op") != "call" or right.get("op") != "num" or len(left["args"]) != 1:
        return None
    limit = right["value"]
    if isinstance(limit, bool) or not isinstance(limit, int):
        return None
    for side in ("input", "output"):
        if _bare(left["args"][0], side):
            return left["fn"], side, op, limit
    return None


def _semantic(
    node: Mapping[str, Any], category: Category, kwargs: dict[str, Any], judge: Any
) -> Contract | None:
    """Return the semantic contract that checks exactly ``node`` (similarity, on_topic, judge), or None."""
    from ..contracts import JudgeContract, SimilarityContract, TopicContract

    if category is Category.INPUT:
        return None
    negated = node.get("op") == "not"
    inner = node["arg"] if negated else node
    if inner.get("op") == "call" and inner["fn"] == "on_topic" and _bare(inner["args"][0], "output"):
        topics = inner["args"][1]
        if topics["op"] not in ("list", "str"):
            return None
        names = [t["value"] for t in topics["items"]] if topics["op"] == "list" else [topics["value"]]
        if any(not isinstance(n, str) for n in names):
            return None
        return TopicContract(forbidden=names, **kwargs) if negated else TopicContract(allowed=names, **kwargs)
    if negated or inner.get("op") != "cmp" or inner["right"].get("op") != "num":
        return None
    left, op, limit = inner["left"], inner["cmp"], float(inner["right"]["value"])
    if left.get("op") != "call":
        return None
    # Only the comparisons a contract's bound means exactly: the rest run as expressions.
    if left["fn"] == "judge" and op == ">=" and 0 <= limit <= 1:
        rubric = left["args"][0]["value"]
        if judge is None:
            raise needs_judge(rubric)
        return JudgeContract(rubric, judge=judge, threshold=limit, **kwargs)
    if (
        left["fn"] == "similarity"
        and _bare(left["args"][0], "output")
        and left["args"][1].get("op") == "str"
        and -1 <= limit <= 1
    ):
        reference = left["args"][1]["value"]
        if op == ">=":
            return SimilarityContract(reference, min_similarity=limit, **kwargs)
        if op == "<":
            return SimilarityContract(reference, max_similarity=limit, **kwargs)
    return None


def _builtin(
    node: Mapping[str, Any], category: Category, fix: str | None, kwargs: dict[str, Any]
) -> Contract | None:
    """Return the built-in contract that checks exactly ``node``, or None."""
    from ..contracts import (
        ContentPolicyContract,
        JSONFormatContract,
        LengthContract,
        PIIContract,
        PromptInjectionContract,
        PromptLengthContract,
        RefusalContract,
        RegexContract,
    )
    from ._functions import REGEX_FLAGS

    side = "input" if category is Category.INPUT else "output"
    kwargs = {**kwargs, "category": category}
    measure = _measure(node)
    if measure is not None:
        fn, subject, op, limit = measure
        if subject != side or op in ("==", "!="):
            return None
        if op == "<":
            op, limit = "<=", limit - 1
        elif op == ">":
            op, limit = ">=", limit + 1
        if side == "input" and op == "<=" and fn in ("tokens", "len") and limit >= 1:
            key = "max_tokens" if fn == "tokens" else "max_chars"
            limits: dict[str, Any] = {key: limit}
            return PromptLengthContract(**limits, truncate=fix == "truncate", **kwargs)
        if side == "output" and fn in ("len", "words") and limit >= 0:
            unit = "chars" if fn == "len" else "words"
            bound = "max" if op == "<=" else "min"
            return LengthContract(**{f"{bound}_{unit}": limit}, **kwargs)
        return None
    negated = node.get("op") == "not"
    inner = node["arg"] if negated else node
    if (
        inner.get("op") == "conforms"
        and not negated
        and side == "output"
        and _bare(inner["arg"]["args"][0], side)
    ):
        return _json_contract(inner.get("schema"), kwargs)
    if inner.get("op") != "call" or not inner["args"] or not _bare(inner["args"][0], side):
        return None
    fn, args = inner["fn"], inner["args"]
    if fn == "json" and not negated and side == "output":
        return JSONFormatContract(None, **kwargs)
    if fn == "matches" and args[1].get("op") == "regex":
        flags = "|".join(REGEX_FLAGS[f] for f in args[1].get("flags", ""))
        return RegexContract(args[1]["pattern"], must_match=not negated, flags=flags, **kwargs)
    if not negated:
        return None
    # Kinds and categories are string literals; other calls (matches with a text) have none.
    extra = [a["value"] for a in args[1:] if a.get("op") == "str"] or None
    if fn == "pii":
        return PIIContract(kinds=extra, redact=fix == "redact" and side == "input", **kwargs)
    if fn == "injection" and side == "input":
        return PromptInjectionContract(**kwargs)
    if fn == "refusal" and side == "output":
        return RefusalContract(**kwargs)
    if fn == "policy":
        return ContentPolicyContract(extra, **kwargs)
    return None


@functools.lru_cache(maxsize=64)
def _json_prototype(schema_text: str) -> Contract:
    from ..contracts import JSONFormatContract

    return JSONFormatContract(json.loads(schema_text))


def _json_contract(schema: Any, kwargs: dict[str, Any]) -> Contract:
    """Return a ``JSONFormatContract(schema, **kwargs)``, reusing the checked schema of an earlier one.

    Checking a schema against its metaschema costs milliseconds; a copy of a prototype
    shares the compiled validator, which only reads.
    """
    contract = copy.copy(_json_prototype(json.dumps(schema, sort_keys=True)))
    contract.name = kwargs["name"]
    contract.description = kwargs.get("description") or contract.description
    contract.category = Category(kwargs.get("category", Category.OUTPUT))
    if "severity" in kwargs:
        contract.severity = Severity(kwargs["severity"])
    if "priority" in kwargs:
        contract.priority = kwargs["priority"]
    contract.enforcement = Enforcement(kwargs.get("enforcement", Enforcement.STRICT))
    return contract


def _suggesting(contract: Contract, text: str) -> Contract:
    """Make ``contract`` add ``text`` to the fix of every violation it reports (for re-asks)."""
    validate, avalidate, partial = contract.validate, contract.avalidate, contract.validate_partial

    def add(result: ValidationResult) -> ValidationResult:
        if not result.is_valid:
            own = result.auto_fix_suggestion
            result.auto_fix_suggestion = f"{own} {text}" if own and text not in own else (own or text)
        return result

    def validate_with(value: Any, context: ValidationContext | None = None) -> ValidationResult:
        return add(validate(value, context))

    async def avalidate_with(value: Any, context: ValidationContext | None = None) -> ValidationResult:
        return add(await avalidate(value, context))

    def partial_with(text_so_far: str, context: ValidationContext | None = None) -> ValidationResult:
        return add(partial(text_so_far, context))

    # Bound on the instance, so the contract keeps its own class and conflict key.
    contract.validate = validate_with  # type: ignore[method-assign]
    contract.avalidate = avalidate_with  # type: ignore[method-assign]
    contract.validate_partial = partial_with  # type: ignore[method-assign,assignment]
    return contract


def _condition(
    node: Mapping[str, Any],
    category: Category,
    *,
    fix: str | None,
    message: str | None,
    judge: Any,
    suggestion: str | None,
    turn_scoped: bool,
    registry: ContractRegistry,
    kwargs: dict[str, Any],
) -> Contract:
    if node.get("op") == "use":
        named = copy.copy(registry.get(node["name"], **dict(node.get("args") or {})))
        # A copy: the registry's instance is shared, these settings are this clause's.
        named.name = kwargs["name"]
        named.category = category
        if "severity" in kwargs:
            named.severity = Severity(kwargs["severity"])
        if "priority" in kwargs:
            named.priority = kwargs["priority"]
        if "enforcement" in kwargs:
            named.enforcement = Enforcement(kwargs["enforcement"])
        if kwargs.get("description"):
            named.description = kwargs["description"]
        return named
    if message is None:
        built = _builtin(node, category, fix, kwargs) or _semantic(node, category, kwargs, judge)
        if built is not None:
            return built
    return ExpressionContract(
        node,
        message=message,
        suggestion=suggestion,
        turn_scoped=turn_scoped,
        registry=registry,
        category=category,
        judge=judge,
        **kwargs,
    )


def _category_of(node: Mapping[str, Any]) -> Category:
    return Category.INPUT if uses(node) & {"input", "output"} == {"input"} else Category.OUTPUT


def build_clause(
    clause: Mapping[str, Any],
    contract: Mapping[str, Any] | None = None,
    *,
    registry: ContractRegistry | None = None,
    judge: Any = None,
) -> Contract:
    """Return the contract object of one compiled clause (``judge``: the client of ``judge()`` clauses)."""

    registry = registry or default_registry
    contract = contract or {}
    remediation = contract.get("remediation") or {}
    kind = clause["kind"]
    kwargs: dict[str, Any] = {"name": clause["name"], "description": clause.get("text") or ""}
    severity = clause.get("severity") or contract.get("severity")
    if severity is not None:
        kwargs["severity"] = severity
    priority = clause.get("priority")
    if priority is None:
        priority = contract.get("priority")
    if priority is not None:
        kwargs["priority"] = priority
    kwargs["enforcement"] = clause.get("enforcement") or contract.get("enforcement") or "strict"
    fix = clause.get("fix")
    suggestion = (
        clause.get("retry_message")
        or remediation.get("retry_message")
        or (_FIX_SUGGESTION.get(fix) if fix else None)
    )
    try:
        if kind in ("require", "ensure"):
            category = Category.INPUT if kind == "require" else Category.OUTPUT
            built = _condition(
                clause["expression"],
                category,
                fix=fix,
                message=clause.get("message"),
                judge=judge,
                suggestion=suggestion,
                turn_scoped=False,
                registry=registry,
                kwargs=kwargs,
            )
            if category is Category.OUTPUT and not isinstance(built, ExpressionContract):
                extra = clause.get("retry_message") or remediation.get("retry_message")
                if extra:
                    _suggesting(built, extra)
            return built
        return _temporal(clause, kind, kwargs, suggestion, registry, judge)
    except ContractConfigError as exc:
        pos = clause.get("position") or {}
        raise LLMCLError(
            f"clause '{clause.get('text', clause['name'])}' cannot be built: {exc}",
            file=clause.get("file"),
            line=pos.get("line"),
            column=pos.get("column"),
        ) from None


def _temporal(
    clause: Mapping[str, Any],
    kind: str,
    kwargs: dict[str, Any],
    suggestion: str | None,
    registry: ContractRegistry,
    judge: Any = None,
) -> Contract:
    from ..contracts import _temporal as T

    def part(node: Mapping[str, Any], role: str) -> Contract:
        inner_kwargs = {"name": f"{kwargs['name']}.{role}", "description": expression_source(node)}
        if "severity" in kwargs:
            inner_kwargs["severity"] = kwargs["severity"]
        return _condition(
            node,
            _category_of(node),
            fix=None,
            judge=judge,
            message=clause.get("message") if role == "condition" else None,
            suggestion=suggestion,
            turn_scoped=True,
            registry=registry,
            kwargs=inner_kwargs,
        )

    inner = part(clause["expression"], "condition")
    if kind == "invariant":
        return T.Invariant(inner, **kwargs)
    if kind == "always":
        return T.AlwaysContract(inner, **kwargs)
    if kind == "never":
        return T.NeverContract(inner, **kwargs)
    if kind == "eventually":
        return T.EventuallyContract(inner, within=clause["within"], **kwargs)
    if kind == "next":
        trigger = part(clause["trigger"], "trigger") if clause.get("trigger") else None
        return T.NextContract(inner, trigger=trigger, **kwargs)
    if kind == "until":
        return T.UntilContract(inner, part(clause["release"], "release"), **kwargs)
    raise LLMCLError(f"the spec holds an unknown clause kind {kind!r}")


# -- whole specs --------------------------------------------------------------------------------


def _check_spec(spec: Any) -> None:
    if not isinstance(spec, Mapping):
        raise LLMCLError(f"a spec must be a JSON object; got {type(spec).__name__}")
    version = spec.get("spec_version")
    if version != SPEC_VERSION:
        raise LLMCLError(f"unsupported spec_version {version!r}: this SDK reads version {SPEC_VERSION!r}")
    from ._schema import spec_errors

    problems = spec_errors(spec)
    if problems:
        raise LLMCLError("the spec does not match its JSON Schema: " + "; ".join(problems))


def load_spec(
    spec: Mapping[str, Any],
    *,
    contract: str | None = None,
    registry: ContractRegistry | None = None,
    judge: Any = None,
) -> ContractSet:
    """Return the contract objects of one contract of a compiled spec.

    ``contract`` names it; by default the last contract of the file (usually the one
    that extends the others). ``judge`` is the client (``OpenAI`` / ``AsyncOpenAI``) that
    grades ``judge("...")`` clauses; a spec with such a clause does not load without one.
    """
    _check_spec(spec)
    contracts = spec["contracts"]
    if not contracts:
        raise LLMCLError("the spec defines no contract")
    if contract is None:
        chosen = contracts[-1]
    else:
        found = [c for c in contracts if c["name"] == contract]
        if not found:
            names = ", ".join(c["name"] for c in contracts)
            raise LLMCLError(f"the spec has no contract named {contract!r} (it has {names})")
        chosen = found[0]
    inputs: list[Contract] = []
    outputs: list[Contract] = []
    for clause in chosen["clauses"]:
        built = build_clause(clause, chosen, registry=registry, judge=judge)
        (inputs if built.category is Category.INPUT else outputs).append(built)
    remediation = chosen.get("remediation") or {}
    return ContractSet(
        name=chosen["name"],
        version=chosen.get("version"),
        description=chosen.get("description"),
        input=inputs,
        output=outputs,
        contract_retries=int(remediation.get("retries") or 0),
        retry_message=remediation.get("retry_message"),
        fallback=remediation.get("fallback"),
        conflicts=chosen.get("conflicts") or (),
        spec=chosen,
    )
