"""Contracts on functions that call a model: ``@contract``, ``@pre``, ``@post``, ``@invariant``.

Any function, sync or async, plain or a method, that calls a model or returns model
text can carry contracts. They are enforced by the same engine and the same re-ask
loop as the drop-in client, so enforcement levels mean the same thing: a ``strict``
violation raises :class:`~llm_contracts.ContractViolationError` (``stage`` is
``"input"`` for pre-conditions and invariants checked before the call, ``"output"``
after it), ``warn`` logs and counts, ``monitor`` only counts.

What a check may be:

- a :class:`~llm_contracts.contracts.Contract` object;
- a Python callable, which takes the call's arguments **by name** (``self`` included),
  plus ``request`` (the :class:`~llm_contracts.contracts.LLMRequest` of the call),
  ``result`` (the return value as returned), ``response`` (it as an ``LLMResponse``)
  and ``text`` (the prompt before the call, the answer's text after it). A callable
  with one parameter that names none of these gets the prompt text (pre-conditions)
  or the answer: its text when the function returned text or an openai response,
  the object itself otherwise. The function's own argument names come first (a function
  with a ``text`` argument gives that to ``text``). A check returns True/None to pass,
  False or a message to fail; a check that raises is a violation;
- LLMCL source text: its ``require`` clauses become pre-conditions and its ``ensure``
  clauses post-conditions, wherever the source is given; its ``on violation retry N``
  sets the retries unless the decorator sets them.

The prompt: contracts see an ``LLMRequest`` built from the ``messages`` argument (a
list of ``{"role", "content"}`` dicts) or else the ``prompt`` argument (a string, sent
as a user message after the ``system`` argument when there is one); ``prompt_arg=``
names another argument. The ``model`` argument, when present, is the request's model.
An input contract that repairs the request (``PIIContract(redact=True)``) changes that
argument before the function runs.

Invariants hold before and after the call: a callable is checked on the arguments
before and on the arguments and the result after (one that asks for ``result`` or
``response`` only after); a contract object judges the prompt before and the answer after.

Remediation: with ``retries=N``, a violated post-condition calls the function again,
at most N times, with the violation feedback in its ``feedback`` keyword argument when
it has one (else it is called again as is, for a fresh answer); as in the client, it
stops early when the same violation comes back twice. The call's
:class:`~llm_contracts.ContractReport` is attached to the result where it can be
(``get_report(result)``) and kept in ``fn.last_report`` (the last call in any thread).

Stacked decorators make one wrapper whose contracts run in reading order, top to bottom
(higher ``priority`` first, as everywhere).

Example::

    @contract(pre=lambda prompt: len(prompt) < 2_000,
              post=JSONFormatContract(TICKET_SCHEMA), retries=2)
    def triage(prompt: str, feedback: str | None = None) -> str:
        messages = [{"role": "user", "content": prompt}]
        if feedback:
            messages.append({"role": "user", "content": feedback})
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages)
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._exceptions import ContractConfigError, ContractViolationError
from .contracts._base import (
    Contract,
    Enforcement,
    FunctionContract,
    ValidationContext,
    ValidationResult,
    _coerce_enum,
    text_of,
)
from .contracts._types import LLMRequest, LLMResponse, Message
from .enforcement._engine import ContractEngine
from .enforcement._pipeline import INPUT, PARSE, SEND, CallSettings, contracted_call
from .enforcement._report import ContractReport, attach_report

__all__ = ["ArgumentContract", "contract", "invariant", "post", "pre"]

F = TypeVar("F", bound=Callable[..., Any])
Check = Contract | Callable[..., Any] | str
Checks = Check | Sequence[Check] | None
Listener = Callable[[ContractReport], None]

_SPEC = "__llm_contracts__"
_FEEDBACK_KEY = "__feedback__"
_DONE = "done"
# Names a callable check may ask for besides the function's own arguments.
_AFTER_ONLY = ("result", "response")


# -- callables as contracts ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    source: str  # "arg", "request", "result", "response", "text", "value" or "all"
    positional: bool = False


class ArgumentContract(FunctionContract):
    """A callable check that takes the decorated call's arguments by name.

    Built by the decorators from plain callables; see the module docstring for what
    each parameter name receives.
    """

    def __init__(
        self, fn: Callable[..., Any], params: Sequence[_Param], *, stage: str, **kwargs: Any
    ) -> None:
        super().__init__(fn, pass_value=True, **kwargs)
        self.params = tuple(params)
        self.stage = stage

    def _call(self, value: Any, context: ValidationContext | None) -> Any:
        meta = context.metadata if context is not None else {}
        arguments: Mapping[str, Any] = meta.get("arguments", {})
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in self.params:
            if p.source == "all":
                kwargs.update({k: v for k, v in arguments.items() if k not in kwargs})
                continue
            if p.source == "arg":
                v = arguments.get(p.name)
            elif p.source == "request":
                v = context.request if context is not None else None
            elif p.source == "result":
                v = meta.get("result")
            elif p.source == "response":
                v = value
            elif p.source == "text":
                v = text_of(value)
            elif isinstance(value, LLMResponse) and not meta.get("textual", True):
                v = meta.get("result")  # "value" after the call: the object itself
            else:
                v = text_of(value)
            if p.positional:
                args.append(v)
            else:
                kwargs[p.name] = v
        return self.fn(*args, **kwargs)

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        outcome = self._call(value, context)
        if inspect.isawaitable(outcome):
            # An async check on a sync function: run it to completion here.
            outcome = asyncio.run(_awaited(outcome))
        return self._verdict(outcome)

    async def avalidate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        outcome = self._call(value, context)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return self._verdict(outcome)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _plan(
    check: Callable[..., Any],
    fn_params: Mapping[str, inspect.Parameter],
    *,
    stage: str,
    has_prompt: bool,
    where: str,
) -> list[_Param]:
    """Return what each parameter of ``check`` receives; raise when one receives nothing."""
    try:
        params = inspect.signature(check).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: give it the one value
        return [_Param("", "value", positional=True)]
    plan: list[_Param] = []
    unmatched: list[inspect.Parameter] = []
    for p in params:
        positional = p.kind is inspect.Parameter.POSITIONAL_ONLY
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            plan.append(_Param(p.name, "all"))
        elif p.name in fn_params and fn_params[p.name].kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            plan.append(_Param(p.name, "arg", positional))
        elif p.name in ("request", "text"):
            plan.append(_Param(p.name, p.name, positional))
        elif p.name in _AFTER_ONLY:
            if stage == "pre":
                raise ContractConfigError(
                    f"{where}: a pre-condition runs before the call and cannot take {p.name!r}; use @post"
                )
            plan.append(_Param(p.name, p.name, positional))
        elif p.default is inspect.Parameter.empty:
            unmatched.append(p)
    if len(unmatched) > 1:
        raise ContractConfigError(
            f"{where}: parameters {', '.join(repr(p.name) for p in unmatched)} match no argument of the "
            f"function ({', '.join(fn_params) or 'none'}) and are not request, text, result or response"
        )
    if unmatched:
        p = unmatched[0]
        if stage == "pre" and not has_prompt:
            raise ContractConfigError(
                f"{where}: parameter {p.name!r} matches no argument of the function "
                f"({', '.join(fn_params) or 'none'}); a lone unmatched parameter gets the prompt, and the "
                f"function has no 'prompt' or 'messages' argument (name one with prompt_arg=)"
            )
        plan.append(_Param(p.name, "value", p.kind is inspect.Parameter.POSITIONAL_ONLY))
    return plan


# -- what a decorated function carries -------------------------------------------------------------


@dataclass(slots=True)
class _Spec:
    """The contracts of one decorated function."""

    fn: Callable[..., Any]
    pre: list[Contract] = field(default_factory=list)
    post: list[Contract] = field(default_factory=list)
    before: list[Contract] = field(default_factory=list)
    after: list[Contract] = field(default_factory=list)
    retries: int | None = None
    retry_message: str | None = None
    prompt_arg: str | None = None
    listeners: list[Listener] = field(default_factory=list)
    conflicts: str = "resolve"
    owner: Any = None

    def under(self, outer: _Spec) -> _Spec:
        """Return this spec with ``outer``'s contracts first (``outer`` decorates this one)."""
        return _Spec(
            self.fn,
            [*outer.pre, *self.pre],
            [*outer.post, *self.post],
            [*outer.before, *self.before],
            [*outer.after, *self.after],
            outer.retries if outer.retries is not None else self.retries,
            outer.retry_message or self.retry_message,
            outer.prompt_arg or self.prompt_arg,
            [*outer.listeners, *self.listeners],
            outer.conflicts,
        )


def _as_list(checks: Checks) -> list[Check]:
    if checks is None:
        return []
    if isinstance(checks, (str, Contract)) or callable(checks):
        return [checks]
    if isinstance(checks, Iterable):
        return list(checks)
    return [checks]


def _load_llmcl(source: str, where: str) -> Any:
    try:
        from .llmcl import load_source  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        raise ContractConfigError(
            f"{where}: LLMCL source needs llm_contracts.llmcl, which cannot be imported ({exc})"
        ) from None
    return load_source(source)


def _enforced(contract: Contract, enforcement: Enforcement | None) -> Contract:
    if enforcement is None or contract.enforcement is enforcement:
        return contract
    # A copy: the same contract object may serve elsewhere at its own level.
    twin = copy.copy(contract)
    twin.enforcement = enforcement
    return twin


def _build(
    fn: Callable[..., Any],
    decorator: str,
    *,
    pre: Checks = None,
    post: Checks = None,
    invariant: Checks = None,
    retries: int | None = None,
    enforcement: Enforcement | str | None = None,
    prompt_arg: str | None = None,
    on_report: Listener | Iterable[Listener] | None = None,
    conflicts: str = "resolve",
) -> _Spec:
    """Turn the decorator's arguments into a spec for ``fn``; every problem names where it is."""
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        raise ContractConfigError(f"{decorator}: retries must be an int >= 0; got {retries!r}")
    level = (
        None if enforcement is None else _coerce_enum(Enforcement, enforcement, f"{decorator}: enforcement")
    )
    fn_params = inspect.signature(fn).parameters
    if prompt_arg is not None and prompt_arg not in fn_params:
        raise ContractConfigError(
            f"{decorator}: prompt_arg={prompt_arg!r} is not an argument of "
            f"{fn.__qualname__}({', '.join(fn_params)})"
        )
    has_prompt = prompt_arg is not None or "prompt" in fn_params or "messages" in fn_params
    spec = _Spec(
        fn,
        retries=retries,
        prompt_arg=prompt_arg,
        conflicts=conflicts,
        listeners=[on_report] if callable(on_report) else list(on_report or ()),
    )
    for stage, checks in (("pre", pre), ("post", post), ("invariant", invariant)):
        for i, check in enumerate(_as_list(checks)):
            where = f"{decorator} on {fn.__qualname__}: {stage}[{i}]"
            if isinstance(check, str):
                loaded = _load_llmcl(check, where)
                spec.pre += [_enforced(c, level) for c in getattr(loaded, "input", ())]
                spec.post += [_enforced(c, level) for c in getattr(loaded, "output", ())]
                if spec.retries is None and getattr(loaded, "contract_retries", None):
                    spec.retries = int(loaded.contract_retries)
                spec.retry_message = spec.retry_message or getattr(loaded, "retry_message", None)
                continue
            if isinstance(check, Contract):
                made = _enforced(check, level)
                if stage == "pre":
                    spec.pre.append(made)
                elif stage == "post":
                    spec.post.append(made)
                else:
                    spec.before.append(made)
                    spec.after.append(made)
                continue
            if not callable(check):
                raise ContractConfigError(
                    f"{where} is {type(check).__name__} ({check!r}); expected a "
                    f"callable, a Contract or LLMCL source text"
                )
            params = _plan(
                check,
                fn_params,
                stage="pre" if stage == "pre" else "post",
                has_prompt=has_prompt,
                where=where,
            )
            name = getattr(check, "__name__", "check")
            if name == "<lambda>":
                name = f"{fn.__qualname__}.{stage}[{i}]"
            label = {"pre": "pre-condition", "post": "post-condition", "invariant": "invariant"}[stage]
            made = ArgumentContract(
                check,
                params,
                stage=stage,
                name=name,
                message=f"{label} {name} of {fn.__qualname__} does not hold",
                enforcement=level or Enforcement.STRICT,
                fail_open=False,
            )
            if stage == "pre":
                spec.pre.append(made)
            elif stage == "post":
                spec.post.append(made)
            else:
                if not any(p.source in _AFTER_ONLY for p in params):
                    spec.before.append(made)
                spec.after.append(made)
    return spec


# -- one call --------------------------------------------------------------------------------------


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)


def _answer(result: Any) -> tuple[LLMResponse, bool]:
    """Return the answer contracts judge, and whether the result was text."""
    if isinstance(result, LLMResponse):
        return result, True
    if isinstance(result, str):
        return LLMResponse(text=result), True
    from openai.types import Completion
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    from .providers._openai_routes import ROUTES

    for typ, endpoint in (
        (ChatCompletion, "/chat/completions"),
        (Response, "/responses"),
        (Completion, "/completions"),
    ):
        if isinstance(result, typ):
            answer = ROUTES[endpoint].responses.response(result, None)
            answer.raw = result
            return answer, True
    from .providers._registry import registered

    for spec in registered():  # another provider's answer (an anthropic Message...)
        read = spec.read_answer(result)
        if read is not None:
            read.raw = result
            return read, True
    if result is None:
        return LLMResponse(text="", raw=None), False
    dump = getattr(result, "model_dump_json", None)
    if callable(dump):  # a pydantic model: its JSON is what format contracts check
        return LLMResponse(text=str(dump()), raw=result), False
    if isinstance(result, (Mapping, list, tuple)):
        try:
            return LLMResponse(text=json.dumps(result, default=str), raw=result), False
        except (TypeError, ValueError):
            pass
    return LLMResponse(text=str(result), raw=result), False


class _Call:
    """The bound arguments, request and latest result of one call of a decorated function."""

    def __init__(self, spec: _Spec, signature: inspect.Signature, bound: inspect.BoundArguments) -> None:
        self.spec = spec
        self.signature = signature
        self.bound = bound
        view = signature.bind(*bound.args, **bound.kwargs)
        view.apply_defaults()
        self.arguments: dict[str, Any] = dict(view.arguments)
        self.accepts_feedback = "feedback" in signature.parameters
        self.result: Any = None
        self.textual = True
        self.source, self.request = self._request()

    def _request(self) -> tuple[str | None, LLMRequest]:
        fn = self.spec.fn
        args = self.arguments
        source = self.spec.prompt_arg or next((n for n in ("messages", "prompt") if n in args), None)
        messages: list[dict[str, Any]] = []
        if source is not None:
            value = args[source]
            if isinstance(value, str):
                if isinstance(args.get("system"), str):
                    messages.append({"role": "system", "content": args["system"]})
                messages.append({"role": "user", "content": value})
            elif isinstance(value, Sequence):
                for i, m in enumerate(value):
                    if isinstance(m, Message):
                        messages.append({"role": m.role, "content": m.content})
                    elif isinstance(m, Mapping):
                        messages.append(
                            {"role": str(m.get("role", "user")), "content": _content(m.get("content"))}
                        )
                    else:
                        raise ContractConfigError(
                            f"{fn.__qualname__}(): {source}[{i}] is "
                            f"{type(m).__name__}; expected a message dict with "
                            f"role and content"
                        )
            elif value is not None:
                raise ContractConfigError(
                    f"{fn.__qualname__}(): argument {source!r} must be a string or a "
                    f"list of messages to be checked; got {type(value).__name__}"
                )
        model = args.get("model") if isinstance(args.get("model"), str) else ""
        body = {"model": model, "messages": messages}
        return source, LLMRequest(
            model=str(model),
            messages=[Message(m["role"], m["content"]) for m in messages],
            body=body,
            provider="function",
            endpoint=f"{fn.__module__}.{fn.__qualname__}",
        )

    def context(self, context: ValidationContext) -> ValidationContext:
        context.metadata.update(
            arguments=self.arguments,
            function=self.spec.fn.__qualname__,
            result=self.result,
            textual=self.textual,
        )
        return context

    def to_response(self, parsed: Any, latency: float) -> LLMResponse:
        self.result = parsed
        answer, self.textual = _answer(parsed)
        if answer.latency_s is None:
            answer.latency_s = latency
        return answer

    def reask_body(self, body: dict[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        if self.spec.retry_message:
            feedback = f"{self.spec.retry_message}\n\n{feedback}"
        return {**body, _FEEDBACK_KEY: feedback}

    def arguments_for(self, body: dict[str, Any], is_retry: bool) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Return the call's args and kwargs: fixed by input contracts, with feedback on a re-ask."""
        bound = inspect.BoundArguments(self.signature, dict(self.bound.arguments))
        if body.get("messages") is not self.request.body["messages"] and self.source is not None:
            fixed = [m for m in body["messages"] if isinstance(m, Mapping)]
            if isinstance(self.arguments[self.source], str):
                users = [m for m in fixed if m.get("role") == "user"]
                bound.arguments[self.source] = _content(users[-1].get("content")) if users else ""
                systems = [m for m in fixed if m.get("role") == "system"]
                if systems and isinstance(self.arguments.get("system"), str):
                    bound.arguments["system"] = _content(systems[0].get("content"))
            else:
                bound.arguments[self.source] = [dict(m) for m in fixed]
            self.arguments.update(
                {k: bound.arguments[k] for k in (self.source, "system") if k in bound.arguments}
            )
        if is_retry and self.accepts_feedback and _FEEDBACK_KEY in body:
            bound.arguments["feedback"] = body[_FEEDBACK_KEY]
            self.arguments["feedback"] = body[_FEEDBACK_KEY]
        return bound.args, bound.kwargs


def _engine(spec: _Spec) -> CallSettings:
    engine = ContractEngine(conflicts=spec.conflicts)
    for c in (*spec.pre, *spec.before):
        engine.add_input(c)
    for c in (*spec.post, *spec.after):
        engine.add_output(c)
    return CallSettings(engine, spec.retries or 0, listeners=list(spec.listeners))


def _wrap(spec: _Spec) -> Callable[..., Any]:
    fn = spec.fn
    signature = inspect.signature(fn)
    settings = _engine(spec)
    engine = settings.engine

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Call, Any] | None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return None  # let the function raise its own TypeError for a bad call
        call = _Call(spec, signature, bound)
        gen = contracted_call(
            settings, call.request, to_response=call.to_response, reask_body=call.reask_body, stream=False
        )
        return call, gen

    def step(gen: Any, value: Any) -> tuple[Any, ...]:
        # Only our own decisions come out of the generator; a violation raised inside the
        # function (by a contracted client it calls) passes through untouched.
        try:
            return gen.send(value)  # type: ignore[no-any-return]
        except StopIteration as done:
            return (_DONE, done.value)
        except ContractViolationError as exc:
            wrapper.last_report = exc.report  # type: ignore[attr-defined]
            raise

    def finish(result: Any, report: ContractReport) -> Any:
        wrapper.last_report = report  # type: ignore[attr-defined]
        attach_report(result, report)
        return result

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = start(args, kwargs)
            if started is None:
                return await fn(*args, **kwargs)
            call, gen = started
            wrapper.last_report = None  # type: ignore[attr-defined]
            value: Any = None
            while True:
                op = step(gen, value)
                if op[0] == SEND:
                    a, kw = call.arguments_for(op[1], op[2])
                    value = await fn(*a, **kw)
                elif op[0] == PARSE:
                    value = op[1]
                elif op[0] == INPUT:
                    value = await engine.arun_input(op[1], call.context(op[2]), op[3])
                elif op[0] == _DONE:
                    return finish(*op[1])
                else:
                    value = await engine.arun_output(op[1], call.context(op[2]))

    else:

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = start(args, kwargs)
            if started is None:
                return fn(*args, **kwargs)
            call, gen = started
            wrapper.last_report = None  # type: ignore[attr-defined]
            value: Any = None
            while True:
                op = step(gen, value)
                if op[0] == SEND:
                    a, kw = call.arguments_for(op[1], op[2])
                    value = fn(*a, **kw)
                elif op[0] == PARSE:
                    value = op[1]
                elif op[0] == INPUT:
                    value = engine.run_input(op[1], call.context(op[2]), op[3])
                elif op[0] == _DONE:
                    return finish(*op[1])
                else:
                    value = engine.run_output(op[1], call.context(op[2]))

    spec.owner = wrapper
    wrapper.last_report = None  # type: ignore[attr-defined]
    wrapper.contract_engine = engine  # type: ignore[attr-defined]
    setattr(wrapper, _SPEC, spec)
    return wrapper


def _decorate(decorator: str, **options: Any) -> Callable[[F], F]:
    def apply(target: F) -> F:
        if isinstance(target, (classmethod, staticmethod)):
            # @contract above @classmethod / @staticmethod: contract the function inside.
            return type(target)(apply(target.__func__))
        if not callable(target):
            raise ContractConfigError(f"{decorator} decorates a function; got {type(target).__name__}")
        if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
            raise ContractConfigError(
                f"{decorator} cannot check {target.__qualname__}: it is a generator, "
                f"and its result is only known once consumed"
            )
        inner = getattr(target, _SPEC, None)
        if isinstance(inner, _Spec) and inner.owner is target:
            # Stacked decorators: one wrapper around the original function, outer checks first.
            spec = inner.under(_build(inner.fn, decorator, **options))
        else:
            spec = _build(target, decorator, **options)
        return _wrap(spec)  # type: ignore[return-value]

    return apply


def contract(
    *,
    pre: Checks = None,
    post: Checks = None,
    invariant: Checks = None,
    retries: int | None = None,
    enforcement: Enforcement | str | None = None,
    prompt_arg: str | None = None,
    on_report: Listener | Iterable[Listener] | None = None,
    conflicts: str = "resolve",
) -> Callable[[F], F]:
    """Check pre-conditions, post-conditions and invariants on every call of the function.

    Parameters:
        pre, post, invariant: a check or a list of checks: callables, Contract objects
            or LLMCL source (see the module docstring for what each receives).
        retries: how many times to call the function again after a post-condition
            violation (default 0, or the LLMCL source's ``on violation retry N``).
        enforcement: ``"strict"``, ``"warn"`` or ``"monitor"`` for every check given
            here (default: each contract's own; callables are strict).
        prompt_arg: the argument holding the prompt, when it is not ``messages``/``prompt``.
        on_report: callable(s) given each call's :class:`ContractReport`.
        conflicts: how contradicting checks are handled, as for the client
            (``"resolve"``, ``"strict"`` or ``"ignore"``).

    Example::

        @contract(pre=lambda prompt: prompt.strip() != "", post=LengthContract(max_words=50), retries=1)
        def summarize(prompt: str, feedback: str | None = None) -> str: ...
    """
    return _decorate(
        "@contract",
        pre=pre,
        post=post,
        invariant=invariant,
        retries=retries,
        enforcement=enforcement,
        prompt_arg=prompt_arg,
        on_report=on_report,
        conflicts=conflicts,
    )


def pre(
    *checks: Check, enforcement: Enforcement | str | None = None, prompt_arg: str | None = None
) -> Callable[[F], F]:
    """Check ``checks`` on the arguments before every call; see :func:`contract`."""
    return _decorate("@pre", pre=list(checks), enforcement=enforcement, prompt_arg=prompt_arg)


def post(
    *checks: Check, retries: int | None = None, enforcement: Enforcement | str | None = None
) -> Callable[[F], F]:
    """Check ``checks`` on every result, calling again up to ``retries`` times; see :func:`contract`."""
    return _decorate("@post", post=list(checks), retries=retries, enforcement=enforcement)


def invariant(*checks: Check, enforcement: Enforcement | str | None = None) -> Callable[[F], F]:
    """Check ``checks`` before and after every call; see :func:`contract`."""
    return _decorate("@invariant", invariant=list(checks), enforcement=enforcement)
