"""Evaluate LLMCL expressions: a compiled spec's expression becomes nested Python closures.

Everything that can be prepared is prepared once, when the contract is loaded:
regular expressions are compiled, constants are bound into the closures, and the
built-in checks (personal data, injection, refusal, content policy, JSON Schema) are
constructed. Judging a value then costs a few function calls per node.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from .._regex import Pattern, compile_pattern
from ..contracts._base import Category, Contract, ValidationContext, ValidationResult, text_of
from ..contracts._output import answer_text
from ..contracts._types import LLMRequest, LLMResponse
from ._spec import expression_source, needs_judge, regex_flags

__all__ = ["ExpressionContract", "compile_expression", "uses"]

# A compiled node: takes an ``_Env`` (or, in direct mode, the answer's text).
Fn = Callable[[Any], Any]


class Unknown(Exception):
    """A ``context.<name>`` the call does not provide: the clause cannot be judged."""


class _NotJSON:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<not JSON>"


NOT_JSON = _NotJSON()


class _Env:
    __slots__ = ("value", "context", "request", "response", "input", "output", "_facts")

    def __init__(
        self,
        value: Any,
        context: ValidationContext | None,
        request: LLMRequest | None,
        response: LLMResponse | None,
        input_text: str,
        output_text: str,
    ) -> None:
        self.value = value
        self.context = context
        self.request = request
        self.response = response
        self.input = input_text
        self.output = output_text
        self._facts: Mapping[str, Any] | None = None

    def facts(self) -> Mapping[str, Any]:
        if self._facts is None:
            facts: dict[str, Any] = {}
            conversation = self.context.conversation if self.context is not None else None
            if conversation is not None:
                getter = getattr(conversation, "get_context_for_contracts", None)
                found = getter() if callable(getter) else conversation
                if isinstance(found, Mapping):
                    facts.update(found)
            if self.context is not None:
                facts.update(self.context.metadata)  # the call's own metadata wins
            self._facts = facts
        return self._facts


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def uses(node: Mapping[str, Any]) -> set[str]:
    """Return which of input, output and context an expression refers to."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        op = n.get("op")
        if op == "ref":
            found.add(n["name"])
        elif op == "use":
            found.update(("input", "output"))
        for key in ("arg", "left", "right"):
            if key in n:
                stack.append(n[key])
        stack.extend(n.get("args", ()) if op != "use" else ())
    return found


def _is_ref(node: Mapping[str, Any], name: str) -> bool:
    return node.get("op") == "ref" and node.get("name") == name and not node.get("path")


class _Compiler:
    """Turn expression JSON into closures; ``registry`` resolves ``use``."""

    def __init__(
        self,
        *,
        category: Category,
        registry: Any,
        direct: bool = False,
        judge: Any = None,
        judges: dict[str, Any] | None = None,
    ) -> None:
        self.category = category
        self.registry = registry
        self.judge = judge  # the client of judge() calls
        # JudgeContracts by rubric, shared by every compilation of one contract's expression,
        # so explaining a failure reuses the verdict instead of asking the judge again.
        self.judges = judges if judges is not None else {}
        # Direct mode: the closures get the answer's text itself, not an environment.
        self.direct = direct
        # How often each call occurs in the expression being compiled (see ``value``).
        self.repeats: dict[Any, int] = {}
        self.shared: dict[Any, Fn] = {}

    def count_calls(self, node: Mapping[str, Any]) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            if n.get("op") == "call":
                key = _key(n)
                self.repeats[key] = self.repeats.get(key, 0) + 1
            stack.extend(n[k] for k in ("arg", "left", "right") if k in n)
            stack.extend(n.get("args", ()) if n.get("op") != "use" else ())

    def subject(self, node: Mapping[str, Any]) -> Fn | None:
        """Return the closure of a text argument, or None when it is the direct text itself."""
        if self.direct and _is_ref(node, "output"):
            return None
        return self.value(node)

    def condition(self, node: Mapping[str, Any]) -> Fn:
        fn = self.value(node)
        if node.get("op") == "call" and node.get("fn") == "json":
            return lambda e: fn(e) is not NOT_JSON
        return fn

    def value(self, node: Mapping[str, Any]) -> Fn:
        op = node["op"]
        method = getattr(self, f"op_{op}", None)
        if method is None:
            raise ValueError(f"unknown expression op {op!r}")
        if op == "call" and node["fn"] in _PURE:
            key = _key(node)
            if self.repeats.get(key, 0) > 1:
                # One remembering closure shared by every occurrence of the call.
                shared = self.shared.get(key)
                if shared is None:
                    shared = self.shared[key] = _remembered(method(node))
                return shared
        return method(node)  # type: ignore[no-any-return]

    # -- leaves --

    def op_num(self, node: Mapping[str, Any]) -> Fn:
        v = node["value"]
        return lambda e: v

    op_str = op_num
    op_bool = op_num

    def op_list(self, node: Mapping[str, Any]) -> Fn:
        items = [self.value(a) for a in node["items"]]
        return lambda e: [f(e) for f in items]

    def op_regex(self, node: Mapping[str, Any]) -> Fn:
        rx = _regex(node)
        return lambda e: rx

    def op_ref(self, node: Mapping[str, Any]) -> Fn:
        name = node["name"]
        if name == "input":
            return lambda e: e.input
        if name == "output":
            return (lambda e: e) if self.direct else (lambda e: e.output)
        path = tuple(node.get("path", ()))
        label = ".".join(("context", *path))

        def lookup(e: _Env) -> Any:
            value: Any = e.facts()
            for part in path:
                if isinstance(value, Mapping) and part in value:
                    value = value[part]
                elif not isinstance(value, Mapping) and hasattr(value, part):
                    value = getattr(value, part)
                else:
                    raise Unknown(label)
            if value is None:
                raise Unknown(label)
            return value

        return lookup

    # -- logic --

    def op_not(self, node: Mapping[str, Any]) -> Fn:
        f = self.condition(node["arg"])
        return lambda e: not f(e)

    def op_and(self, node: Mapping[str, Any]) -> Fn:
        fns = tuple(self.condition(a) for a in node["args"])
        if len(fns) == 2:
            a, b = fns
            return lambda e: a(e) and b(e)

        def every(e: _Env) -> bool:
            # Not nested closures: a long chain must not deepen the stack.
            return all(f(e) for f in fns)

        return every

    def op_or(self, node: Mapping[str, Any]) -> Fn:
        fns = tuple(self.condition(a) for a in node["args"])
        if len(fns) == 2:
            a, b = fns
            return lambda e: a(e) or b(e)

        def some(e: _Env) -> bool:
            return any(f(e) for f in fns)

        return some

    def op_cmp(self, node: Mapping[str, Any]) -> Fn:
        compare = _COMPARE[node["cmp"]]
        left, right = node["left"], node["right"]
        lf = self.value(left)
        dynamic = (
            left.get("op") == "ref"
            and left.get("name") == "context"
            or right.get("op") == "ref"
            and right.get("name") == "context"
        )
        if right["op"] in ("num", "str", "bool") and not dynamic:
            c = right["value"]
            return lambda e: compare(lf(e), c)
        rf = self.value(right)
        if not dynamic:
            return lambda e: compare(lf(e), rf(e))

        def guarded(e: _Env) -> bool:
            a, b = lf(e), rf(e)
            try:
                return compare(a, b)
            except TypeError:
                raise Unknown(f"{a!r} {node['cmp']} {b!r}") from None

        return guarded

    def op_conforms(self, node: Mapping[str, Any]) -> Fn:
        from ..contracts._json import JSONFormatContract

        checker = JSONFormatContract(node.get("schema"))
        subject = node["arg"]["args"][0]
        if _is_ref(subject, "output"):
            return lambda e: (
                checker.validate(
                    e.response if e.response is not None else LLMResponse(text=e.output)
                ).is_valid
            )
        text = self.value(subject)
        return lambda e: checker.validate(LLMResponse(text=str(text(e)))).is_valid

    def op_use(self, node: Mapping[str, Any]) -> Fn:
        contract = self.registry.get(node["name"], **dict(node.get("args") or {}))
        return lambda e: contract.validate(e.value, e.context).is_valid

    # -- functions --

    def op_call(self, node: Mapping[str, Any]) -> Fn:
        fn = node["fn"]
        args = node["args"]
        make = getattr(self, f"fn_{fn}", None)
        if make is None:
            raise ValueError(f"unknown function {fn!r}")
        return make(args)  # type: ignore[no-any-return]

    def fn_len(self, args: list[Mapping[str, Any]]) -> Fn:
        if _is_ref(args[0], "input"):
            # As PromptLengthContract counts: the characters of every message.
            return lambda e: (
                sum(len(m.content) for m in e.request.messages)
                if e.request is not None
                else len(e.input.strip())
            )
        text = self.subject(args[0])
        if text is None:
            return lambda e: len(e.strip())
        return lambda e: len(text(e).strip())

    def fn_words(self, args: list[Mapping[str, Any]]) -> Fn:
        text = self.subject(args[0])
        if text is None:
            return lambda e: len(e.split())
        return lambda e: len(text(e).split())

    def fn_tokens(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._tokens import count_message_tokens, count_tokens

        def model(e: _Env) -> str | None:
            return e.request.model if e.request is not None else None

        if _is_ref(args[0], "input"):
            return lambda e: (
                count_message_tokens(e.request.messages, e.request.model).tokens
                if e.request is not None
                else count_tokens(e.input).tokens
            )
        text = self.value(args[0])
        return lambda e: count_tokens(text(e), model(e)).tokens

    def fn_json(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._json import extract_json

        text: Fn = self.subject(args[0]) or (lambda e: e)

        def parsed(e: Any) -> Any:
            try:
                return extract_json(text(e))[0]
            except ValueError:
                return NOT_JSON

        return parsed

    def fn_lowercase(self, args: list[Mapping[str, Any]]) -> Fn:
        text = self.subject(args[0])
        if text is None:
            return lambda e: e.lower()
        return lambda e: text(e).lower()

    def fn_contains(self, args: list[Mapping[str, Any]]) -> Fn:
        text = self.subject(args[0])
        if args[1]["op"] == "str":
            needle = args[1]["value"]
            if text is None:
                return lambda e: needle in e
            return lambda e: needle in text(e)
        source: Fn = text or (lambda e: e)
        other = self.value(args[1])
        return lambda e: str(other(e)) in source(e)

    def fn_matches(self, args: list[Mapping[str, Any]]) -> Fn:
        text = self.subject(args[0])
        if args[1]["op"] in ("regex", "str"):
            search = (
                _regex(args[1])
                if args[1]["op"] == "regex"
                else compile_pattern(args[1]["value"], fallback=True)
            ).search
            if text is None:
                return lambda e: search(e) is not None
            return lambda e: search(text(e)) is not None
        source: Fn = text or (lambda e: e)
        other = self.value(args[1])
        if args[1].get("op") == "ref" and args[1].get("name") == "context":
            # The application put a pattern in the context on purpose: RE2 only, no fallback.
            return lambda e: compile_pattern(str(other(e))).search(source(e)) is not None
        # The text of the call (the compiler refuses this; a spec written by hand may not):
        # matched as plain text, never compiled.
        return lambda e: str(other(e)) in source(e)

    def fn_mentions(self, args: list[Mapping[str, Any]]) -> Fn:
        text = self.subject(args[0])
        if args[1]["op"] == "str":
            search = _mention_regex(args[1]["value"]).search
            if text is None:
                return lambda e: search(e) is not None
            return lambda e: search(text(e)) is not None
        source: Fn = text or (lambda e: e)
        other = self.value(args[1])
        return lambda e: _mention_regex(str(other(e))).search(source(e)) is not None

    def fn_pii(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._pii import PIIContract, find_pii

        kinds = [a["value"] for a in args[1:]] or None
        subject = args[0]
        if _is_ref(subject, "input") or _is_ref(subject, "output"):
            side = subject["name"]
            checker = PIIContract(kinds=kinds, category="input" if side == "input" else "output")
            if side == "input":
                return lambda e: (
                    not checker.validate(e.request).is_valid
                    if e.request is not None
                    else bool(find_pii(e.input, kinds))
                )
            return lambda e: bool(find_pii(e.output, kinds))
        text = self.value(subject)
        return lambda e: bool(find_pii(text(e), kinds))

    def fn_injection(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._input import PromptInjectionContract

        checker = PromptInjectionContract()
        if _is_ref(args[0], "input"):
            return lambda e: (
                not checker.validate(e.request).is_valid
                if e.request is not None
                else sum(checker.score(e.input).values()) >= checker.threshold
            )
        text = self.value(args[0])
        return lambda e: sum(checker.score(text(e)).values()) >= checker.threshold

    def fn_refusal(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._output import RefusalContract

        checker = RefusalContract()
        if _is_ref(args[0], "output"):
            return lambda e: (
                not checker.validate(
                    e.response if e.response is not None else LLMResponse(text=e.output)
                ).is_valid
            )
        text = self.value(args[0])
        return lambda e: not checker.validate(LLMResponse(text=text(e))).is_valid

    def fn_policy(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._policy import ContentPolicyContract

        categories = [a["value"] for a in args[1:]] or None
        subject = args[0]
        if _is_ref(subject, "input"):
            checker = ContentPolicyContract(categories)
            return lambda e: (
                not checker.validate(e.request).is_valid
                if e.request is not None
                else bool(checker.find(e.input))
            )
        plain = ContentPolicyContract(categories, category="output")
        text = self.value(subject)
        return lambda e: bool(plain.find(text(e)))

    # -- semantic functions (embeddings, a judge model) --

    def fn_similarity(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._semantic import SimilarityContract

        text = self.value(args[0])
        if args[1]["op"] == "str":
            # A literal reference is embedded once, by the contract, and kept.
            fixed = SimilarityContract(args[1]["value"] or " ", min_similarity=-1.0)
            return lambda e: fixed.similarity(str(text(e)))[0]
        from ..contracts._embedding import cosine, default_embedder

        embedder = default_embedder()
        other = self.value(args[1])

        def both(e: Any) -> float:
            a, b = embedder.embed([str(text(e)), str(other(e))])
            return round(cosine(list(a), list(b)), 4)

        return both

    def fn_on_topic(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._semantic import TopicContract

        text = self.value(args[0])
        topics = args[1]
        if topics["op"] in ("list", "str"):
            names = [t["value"] for t in topics["items"]] if topics["op"] == "list" else [topics["value"]]
            checker = TopicContract(allowed=names)
            return lambda e: checker.validate(LLMResponse(text=str(text(e)))).is_valid
        dynamic = self.value(topics)

        def on_topic(e: Any) -> bool:
            value = dynamic(e)
            names = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
            return TopicContract(allowed=names).validate(LLMResponse(text=str(text(e)))).is_valid

        return on_topic

    def fn_judge(self, args: list[Mapping[str, Any]]) -> Fn:
        from ..contracts._judge import JudgeContract

        rubric = args[0]["value"]
        if self.judge is None:
            raise needs_judge(rubric)
        checker = self.judges.get(rubric)
        if checker is None:
            checker = self.judges[rubric] = JudgeContract(rubric, judge=self.judge, threshold=0.0)

        def score(e: Any) -> float:
            result = checker.validate(e.response if e.response is not None else LLMResponse(text=e.output))
            if "judge_error" in result.details:
                # The contract's fail_open decides, as for any check that could not run.
                raise RuntimeError(f"the judge could not grade the answer: {result.details['judge_error']}")
            return float(result.details.get("score", 1.0))

        return score


def _regex(node: Mapping[str, Any]) -> Pattern:
    # The compiler refuses what RE2 cannot run; a spec from before that runs bounded.
    return compile_pattern(node["pattern"], regex_flags(node.get("flags", "")), fallback=True)


@functools.lru_cache(maxsize=256)
def _mention_regex(what: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(what.strip()) + r"(?!\w)", re.IGNORECASE)


def _key(node: Any) -> Any:
    """Return a hashable key of an expression node, positions left out."""
    if isinstance(node, Mapping):
        return tuple((k, _key(v)) for k, v in sorted(node.items()) if k != "at")
    if isinstance(node, list):
        return tuple(_key(v) for v in node)
    return node


def _remembered(fn: Fn) -> Fn:
    """Return ``fn`` remembering its last result, for a call that occurs twice in one expression.

    ``words(output) >= 3 and words(output) <= 300`` splits the text once. The memo is one
    tuple, replaced whole, so threads never see a result paired with another's input; it
    keeps its input alive, so an identical ``id`` cannot belong to another object.
    """
    cell: list[tuple[Any, Any]] = [(_NOTHING, None)]

    def remembered(e: Any) -> Any:
        last = cell[0]
        if last[0] is e:
            return last[1]
        result = fn(e)
        cell[0] = (e, result)
        return result

    return remembered


_NOTHING = object()
# Functions whose result depends on their arguments only: safe to remember.
_PURE = frozenset({"len", "words", "lowercase", "json", "tokens", "contains", "matches", "mentions"})

# Functions that, on the answer's text alone, need nothing else of the call.
_TEXT_ONLY = frozenset({"len", "words", "lowercase", "contains", "matches", "mentions", "json"})


def text_only(node: Mapping[str, Any]) -> bool:
    """Return True when ``node`` needs only the answer's text (so it can be judged in direct mode)."""
    stack = [node]
    while stack:
        n = stack.pop()
        op = n.get("op")
        if op in ("conforms", "use") or (op == "call" and n["fn"] not in _TEXT_ONLY):
            return False
        if op == "ref" and (n["name"] != "output" or n.get("path")):
            return False
        stack.extend(n[k] for k in ("arg", "left", "right") if k in n)
        stack.extend(n.get("args", ()))
    return True


def compile_expression(
    node: Mapping[str, Any],
    *,
    category: Category = Category.OUTPUT,
    registry: Any = None,
    direct: bool = False,
    judge: Any = None,
    judges: dict[str, Any] | None = None,
) -> Fn:
    """Return a closure judging ``node`` on an environment, or on the answer's text when ``direct``."""
    if registry is None:
        from ..contracts._registry import default_registry

        registry = default_registry
    compiler = _Compiler(category=category, registry=registry, direct=direct, judge=judge, judges=judges)
    compiler.count_calls(node)
    return compiler.condition(node)


class ExpressionContract(Contract):
    """A contract whose condition is an LLMCL expression (from a compiled spec).

    ``input`` is the prompt (all messages; for an answer, the request that produced it,
    or in a temporal clause the messages of the turn), ``output`` the answer's text.
    A clause that refers to a ``context.<name>`` the call does not provide passes
    with ``details["skipped"]`` naming it.

    Parameters:
        expression: the expression, as a compiled spec stores it.
        text: the clause's source text, for messages.
        message: the violation message, instead of the default one.
        suggestion: what a re-ask tells the model.
        turn_scoped: judge ``input`` as the turn's own messages (temporal clauses).
        registry: where ``use "name"`` finds named contracts.
        judge: the client that grades ``judge("...")`` calls.
    """

    def __init__(
        self,
        expression: Mapping[str, Any],
        *,
        text: str | None = None,
        message: str | None = None,
        suggestion: str | None = None,
        turn_scoped: bool = False,
        registry: Any = None,
        judge: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kwargs.pop("name", None), **kwargs)
        self.expression = dict(expression)
        self.text = text or expression_source(self.expression)
        self.message = message
        self.suggestion = suggestion
        self.turn_scoped = turn_scoped
        used = uses(self.expression)
        self._needs_input = "input" in used
        self._needs_output = "output" in used
        # Most answer checks read nothing but the text: judge it directly, as a function would.
        self._direct = self.category is not Category.INPUT and text_only(self.expression)
        self._judge = judge
        self._judges: dict[str, Any] = {}
        self._fn = compile_expression(
            self.expression,
            category=self.category,
            registry=registry,
            direct=self._direct,
            judge=judge,
            judges=self._judges,
        )

    def _env(self, value: Any, context: ValidationContext | None) -> _Env | None:
        request = value if isinstance(value, LLMRequest) else None
        response = value if isinstance(value, LLMResponse) else None
        if request is None and context is not None:
            if self.turn_scoped:
                request = getattr(context.conversation, "turn_request", None)
            request = request or context.request
        output = ""
        if self._needs_output:
            if response is not None:
                found = answer_text(response)
                if found is None:
                    return None  # a turn made only of tool calls is not the answer yet
                output = found
            elif request is None or self.category is not Category.INPUT:
                output = text_of(value)
        input_text = ""
        if self._needs_input:
            if request is not None:
                input_text = request.prompt_text
            elif self.category is Category.INPUT:
                input_text = text_of(value)
        return _Env(value, context, request, response, input_text, output)

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        env: Any = answer_text(value) if self._direct else self._env(value, context)
        if env is None:
            return self.ok(skipped="tool_calls")
        try:
            holds = self._fn(env)
        except Unknown as unknown:
            return self.ok(skipped=f"{unknown} is not known")
        if holds:
            return self.ok()
        return self.fail(
            self.message or f"'{self.text}' does not hold{self._explain(env)}", suggestion=self.suggestion
        )

    def _explain(self, env: Any) -> str:
        """Return the measured values of a failing comparison (failure path only)."""
        node = self.expression
        while node.get("op") == "and":
            for arg in node["args"]:
                try:
                    if not compile_expression(
                        arg,
                        category=self.category,
                        direct=self._direct,
                        judge=self._judge,
                        judges=self._judges,
                    )(env):
                        node = arg
                        break
                except Unknown:
                    return ""
            else:
                return ""
        if node.get("op") != "cmp":
            return ""
        shown = []
        for side in (node["left"], node["right"]):
            if side["op"] in ("num", "str", "bool"):
                continue
            try:
                value = compile_expression(
                    side, category=self.category, direct=self._direct, judge=self._judge, judges=self._judges
                )(env)
            except Exception:
                return ""
            text = repr(value) if isinstance(value, str) else str(value)
            shown.append(f"{expression_source(side)} is {text if len(text) <= 60 else text[:57] + '...'}")
        return f": {', '.join(shown)}" if shown else ""

    def _conflict_key(self) -> Any:
        from ..contracts.composition import _negate

        node = self.expression
        if node.get("op") == "not":
            inner = ("llmcl", self.category.value, expression_key(node["arg"]))
            return _negate(inner)
        return ("llmcl", self.category.value, expression_key(node))

    def describe(self) -> dict[str, Any]:
        data = super().describe()
        data["expression"] = self.text
        return data


def expression_key(node: Mapping[str, Any]) -> str:
    """Return the canonical text of an expression: equal keys mean the same condition."""
    return expression_source(node)
