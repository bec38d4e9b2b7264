"""Contracts on any LangChain chat model: an enforcing wrapper and a recording callback handler.

``ContractChatModel(model=...)`` is a ``BaseChatModel`` around any other chat model
(``ChatOpenAI``, ``ChatAnthropic``, a local one): ``invoke``, ``ainvoke``, ``stream``,
``astream``, ``batch``, ``bind_tools`` and ``with_structured_output`` go through the same
engine, re-ask loop, stream policies and reporting as the drop-in client. The wrapped
model's own calls are made without the caller's callbacks, so callbacks, tracers and
stream consumers see one chat-model run, the wrapper's: its tokens are the ones a stream
policy released and its ``usage_metadata`` is the sum over every attempt.

``ContractCallbackHandler`` enforces nothing: attached to any LangChain model call it
judges the request and the answer and reports the verdicts (monitor mode).

Example::

    from langchain_openai import ChatOpenAI
    from llm_contracts.integrations.langchain import ContractChatModel

    model = ContractChatModel(model=ChatOpenAI(model="gpt-4o-mini"),
                              output_contracts=[JSONFormatContract(schema=TICKET)], contract_retries=2)
    model.invoke("Open a ticket for ...")
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import (
        AIMessage,
        AIMessageChunk,
        BaseMessage,
        convert_to_messages,
        convert_to_openai_messages,
    )
    from langchain_core.messages.ai import UsageMetadata, add_usage
    from langchain_core.messages.tool import tool_call_chunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, LLMResult
    from langchain_core.runnables import Runnable, RunnableBinding, RunnableParallel, RunnableSequence
    from langchain_core.runnables.fallbacks import RunnableWithFallbacks
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from pydantic import PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    from ._common import missing_extra

    raise missing_extra("llm_contracts.integrations.langchain", "langchain-core", "langchain") from exc

from .._exceptions import ContractConfigError, ContractViolationError
from ..contracts._base import Contract, Enforcement, ValidationContext, ValidationResult
from ..contracts._types import LLMRequest, LLMResponse, ToolCall, ToolSpec, Usage
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._engine import is_blocking
from ..enforcement._pipeline import CallSettings, contracted_call, drive_async, drive_sync
from ..enforcement._report import Attempt, ContractReport, attach_report
from ..enforcement._streaming import StreamPolicy, StreamValidator, ToolDelta
from ..providers._openai_requests import CHAT
from ..reporting._client import ClientTelemetry
from ._common import ReportListeners, build_settings, call_settings

__all__ = ["ContractCallbackHandler", "ContractChatModel"]

log = logging.getLogger("llm_contracts")

_ROLES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "function",
    "developer": "developer",
    "AIMessageChunk": "assistant",
    "HumanMessageChunk": "user",
}
_PARAM_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "seed",
    "stop",
    "tool_choice",
)


# -- the neutral views of LangChain messages ------------------------------------------------------


def _text(message: BaseMessage) -> str:
    return str(message.text)


def _as_dict(message: BaseMessage) -> dict[str, Any]:
    """Return ``message`` as an OpenAI-style chat message, the form input contracts edit."""
    try:
        converted = convert_to_openai_messages(message)
    except Exception:  # content blocks of a provider the converter does not know
        converted = None
    if not isinstance(converted, dict):
        converted = {"role": _ROLES.get(message.type, message.type), "content": _text(message)}
    return converted


def _tool_specs(tools: Any) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        try:
            fn = convert_to_openai_tool(tool)["function"]
        except Exception:  # a provider-specific tool (a server-side search...): not ours to judge
            continue
        specs.append(ToolSpec(fn["name"], fn.get("parameters"), bool(fn.get("strict"))))
    return specs


def _usage(usage: Mapping[str, Any] | None) -> Usage | None:
    if not usage:
        return None
    return Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))


def _response(
    message: BaseMessage, latency_s: float | None, llm_output: Mapping[str, Any] | None
) -> LLMResponse:
    """Return the neutral view of one answer of a LangChain chat model."""
    calls = [
        ToolCall(str(tc.get("name") or ""), json.dumps(tc.get("args") or {}), tc.get("id"))
        for tc in getattr(message, "tool_calls", None) or ()
    ]
    # Arguments LangChain could not parse stay as the model wrote them, for tool contracts to reject.
    calls += [
        ToolCall(str(tc.get("name") or ""), str(tc.get("args") or ""), tc.get("id"))
        for tc in getattr(message, "invalid_tool_calls", None) or ()
    ]
    meta = message.response_metadata or {}
    model = meta.get("model_name") or meta.get("model") or (llm_output or {}).get("model_name") or ""
    finish = meta.get("finish_reason") or meta.get("stop_reason")
    refusal = message.additional_kwargs.get("refusal")
    usage = _usage(getattr(message, "usage_metadata", None))
    if usage is None and llm_output:
        token_usage = llm_output.get("token_usage") or {}
        if token_usage:
            usage = Usage(
                int(token_usage.get("prompt_tokens") or 0), int(token_usage.get("completion_tokens") or 0)
            )
    return LLMResponse(
        text=_text(message),
        model=str(model),
        tool_calls=calls,
        finish_reason=finish,
        refusal=refusal if isinstance(refusal, str) else None,
        usage=usage,
        latency_s=latency_s,
        raw=message,
    )


def _identity(model: BaseChatModel, stop: list[str] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Return LangChain's own description of the wrapped model (provider, model name, parameters)."""
    try:
        return dict(model._get_ls_params(stop=stop, **kwargs))
    except Exception:  # a model whose parameters cannot be described without a call
        return {}


class _Call:
    """One call of the wrapped model: the request contracts see and how to send a (fixed) body."""

    def __init__(
        self,
        model: BaseChatModel,
        messages: Sequence[BaseMessage],
        stop: list[str] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        identity = _identity(model, stop, kwargs)
        self.provider = str(identity.get("ls_provider") or "langchain")
        self.endpoint = f"langchain:{type(model).__name__}"
        name = (
            identity.get("ls_model_name") or getattr(model, "model_name", None) or getattr(model, "model", "")
        )
        self.model_name = name if isinstance(name, str) else ""
        dicts = [_as_dict(m) for m in messages]
        # Unchanged messages go back to the model as the caller's own objects; only a message
        # an input contract rewrote (or a re-ask added) is converted back from its dict.
        self.originals = {id(d): m for d, m in zip(dicts, messages, strict=True)}
        params = {k: kwargs[k] for k in _PARAM_KEYS if k in kwargs}
        for key, name in (
            ("ls_temperature", "temperature"),
            ("ls_max_tokens", "max_tokens"),
            ("ls_stop", "stop"),
        ):
            if identity.get(key) is not None:
                params.setdefault(name, identity[key])
        body: dict[str, Any] = {"model": self.model_name, "messages": dicts}
        if kwargs.get("tools"):
            body["tools"] = kwargs["tools"]
        # LangChain's messages in OpenAI's chat form: its request view reads them and writes
        # input fixes back into them, as for the drop-in client.
        self.request = dataclasses.replace(
            CHAT.read(body),
            model=self.model_name,
            params=params,
            tools=_tool_specs(kwargs.get("tools")),
            provider=self.provider,
            endpoint=self.endpoint,
        )

    def messages_for(self, body: Mapping[str, Any]) -> list[BaseMessage]:
        out: list[BaseMessage] = []
        for d in body.get("messages") or ():
            original = self.originals.get(id(d))
            out.append(original if original is not None else convert_to_messages([d])[0])
        return out

    def walk(self, settings: CallSettings, *, stream: bool) -> Any:
        return contracted_call(
            settings,
            self.request,
            to_response=_first_response,
            reask_body=_reask_body,
            stream=stream,
            substitute=_substitute,
            to_choices=_choices,
            sum_usage=_sum_usage,
        )


def _first_response(result: LLMResult, latency_s: float) -> LLMResponse:
    return _choices(result, latency_s)[0]


def _choices(result: LLMResult, latency_s: float) -> list[LLMResponse]:
    generations = result.generations[0] if result.generations else []
    views = [
        _response(g.message, latency_s, result.llm_output)
        for g in generations
        if isinstance(g, ChatGeneration)
    ]
    return views or [LLMResponse(text="", latency_s=latency_s)]


def _reask_body(body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
    new = dict(body)
    new["messages"] = [
        *(body.get("messages") or ()),
        {"role": "assistant", "content": answer.text or ""},
        {"role": "user", "content": feedback},
    ]
    return new


def _substitute(result: LLMResult, text: str) -> LLMResult:
    return LLMResult(
        generations=[[ChatGeneration(message=AIMessage(content=text))]], llm_output=result.llm_output
    )


def _usage_metadata(result: LLMResult) -> UsageMetadata | None:
    for generation in result.generations[0] if result.generations else ():
        usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
        if usage:
            return usage  # type: ignore[no-any-return]
    return None


def _sum_usage(kept: LLMResult, answers: Sequence[LLMResult]) -> None:
    """Make the kept answer's ``usage_metadata`` the sum over every attempt of the call."""
    total: UsageMetadata | None = None
    for answer in answers:
        usage = _usage_metadata(answer)
        if usage:
            total = add_usage(total, usage)
    for generation in kept.generations[0] if kept.generations else ():
        message = getattr(generation, "message", None)
        if total is not None and isinstance(message, AIMessage):
            message.usage_metadata = total


# -- streaming ------------------------------------------------------------------------------------


def _as_chunk(message: Any) -> AIMessageChunk:
    """Return a streamed item as a chunk: a model without streaming yields its whole message once."""
    if isinstance(message, AIMessageChunk):
        return message
    calls = [
        tool_call_chunk(name=tc.get("name"), args=json.dumps(tc.get("args") or {}), id=tc.get("id"), index=i)
        for i, tc in enumerate(getattr(message, "tool_calls", None) or ())
    ]
    return AIMessageChunk(
        content=message.content,
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata=dict(message.response_metadata),
        id=message.id,
        usage_metadata=getattr(message, "usage_metadata", None),
        tool_call_chunks=calls,
        chunk_position="last",
    )


def _chunks(source: Iterator[Any]) -> Iterator[AIMessageChunk]:
    try:
        for item in source:
            yield _as_chunk(item)
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()  # the wrapped model's stream ends with ours (its HTTP response is released)


async def _achunks(source: AsyncIterator[Any]) -> AsyncIterator[AIMessageChunk]:
    try:
        async for item in source:
            yield _as_chunk(item)
    finally:
        close = getattr(source, "aclose", None)
        if callable(close):
            await close()


def _chunk_text(chunk: AIMessageChunk) -> str | None:
    return _text(chunk) or None


class _StreamUsage:
    """Sum the usage chunks report (some models send input and output tokens in separate chunks)."""

    def __init__(self) -> None:
        self.total: UsageMetadata | None = None

    def __call__(self, chunk: AIMessageChunk) -> Usage | None:
        if not chunk.usage_metadata:
            return None
        self.total = add_usage(self.total, chunk.usage_metadata)
        return _usage(self.total)


def _finish_reason(chunk: AIMessageChunk) -> str | None:
    meta = chunk.response_metadata or {}
    reason = meta.get("finish_reason") or meta.get("stop_reason")
    return reason if isinstance(reason, str) else None


def _tool_deltas(chunk: AIMessageChunk) -> list[ToolDelta]:
    out: list[ToolDelta] = []
    for tc in chunk.tool_call_chunks or ():
        key: Any = tc.get("index")
        if key is None:
            key = tc.get("id") or 0
        out.append(ToolDelta(key, 0, tc.get("name") or "", tc.get("args") or "", tc.get("id")))
    if chunk.chunk_position == "last" or _finish_reason(chunk) is not None:
        out.append(ToolDelta(None, 0, done=True))  # the answer is over: its last call is complete
    return out


# -- runnables LangChain builds around the wrapped model ------------------------------------------


def _rebind(runnable: Any, inner: BaseChatModel, outer: BaseChatModel, found: list[bool]) -> Any:
    """Return ``runnable`` with every binding of ``inner`` bound to ``outer`` instead.

    ``bind_tools`` and ``with_structured_output`` of a chat model return its own bindings
    (tools, ``response_format``) followed by parsers; the same chain over the wrapper keeps
    the wrapped model's provider-specific choices and puts the contracts in front of them.
    """
    if runnable is inner:
        found.append(True)
        return outer
    if isinstance(runnable, RunnableBinding):
        bound = _rebind(runnable.bound, inner, outer, found)
        return runnable if bound is runnable.bound else runnable.model_copy(update={"bound": bound})
    if isinstance(runnable, RunnableSequence):
        steps = [_rebind(s, inner, outer, found) for s in runnable.steps]
        if all(a is b for a, b in zip(steps, runnable.steps, strict=True)):
            return runnable
        return runnable.model_copy(update={"first": steps[0], "middle": steps[1:-1], "last": steps[-1]})
    if isinstance(runnable, RunnableParallel):
        branches = {k: _rebind(v, inner, outer, found) for k, v in runnable.steps__.items()}
        if all(branches[k] is v for k, v in runnable.steps__.items()):
            return runnable
        return runnable.model_copy(update={"steps__": branches})
    if isinstance(runnable, RunnableWithFallbacks):
        first = _rebind(runnable.runnable, inner, outer, found)
        fallbacks = [_rebind(f, inner, outer, found) for f in runnable.fallbacks]
        return runnable.model_copy(update={"runnable": first, "fallbacks": fallbacks})
    return runnable


# -- the enforcing wrapper ------------------------------------------------------------------------


class ContractChatModel(BaseChatModel):
    """A LangChain chat model that enforces contracts on the chat model it wraps.

    Parameters:
        model: the chat model to wrap (any ``BaseChatModel``).
        contracts, input_contracts, output_contracts, contract_retries, retry_budget_tokens,
        stream_policy, circuit_breaker, on_report, fallback, conflicts: as for ``ContractOpenAI``.
            A re-ask sends the conversation again through the wrapped model, with the
            rejected answer and the violation feedback added.
        reporter, upload_traces, project_contracts, otel, user_id, project_contracts_timeout:
            reporting to the control plane, as for ``ContractOpenAI``.

    ``last_report`` is the :class:`~llm_contracts.ContractReport` of the last call (any
    thread); ``get_report(message)`` gives it for a message returned by ``invoke``.
    """

    model: BaseChatModel

    _settings: CallSettings = PrivateAttr()
    _telemetry: ClientTelemetry | None = PrivateAttr(default=None)
    _last_report: ContractReport | None = PrivateAttr(default=None)

    def __init__(
        self,
        *,
        model: BaseChatModel,
        contracts: Iterable[Contract] | None = None,
        input_contracts: Iterable[Contract] | None = None,
        output_contracts: Iterable[Contract] | None = None,
        contract_retries: int | None = None,
        retry_budget_tokens: int | None = None,
        stream_policy: StreamPolicy | str | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        on_report: ReportListeners = None,
        fallback: str | None = None,
        conflicts: str = "resolve",
        reporter: Any = None,
        upload_traces: str = "violations",
        project_contracts: bool = False,
        otel: Any = None,
        user_id: str | None = None,
        project_contracts_timeout: float = 1.0,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model, BaseChatModel):
            raise ContractConfigError(
                f"ContractChatModel(model=...) needs a LangChain chat model "
                f"(a BaseChatModel); got {type(model).__name__}"
            )
        # pydantic's __init__ takes this class's fields, which BaseChatModel's signature does not list.
        super().__init__(model=model, **kwargs)  # type: ignore[call-arg]
        self._settings, self._telemetry = build_settings(
            contracts=contracts,
            input_contracts=input_contracts,
            output_contracts=output_contracts,
            contract_retries=contract_retries,
            retry_budget_tokens=retry_budget_tokens,
            stream_policy=stream_policy,
            circuit_breaker=circuit_breaker,
            on_report=on_report,
            fallback=fallback,
            conflicts=conflicts,
            reporter=reporter,
            upload_traces=upload_traces,
            project_contracts=project_contracts,
            otel=otel,
            user_id=user_id,
            project_contracts_timeout=project_contracts_timeout,
        )

    # -- introspection -----------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return f"contract-{self.model._llm_type}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            **self.model._identifying_params,
            "contracts": [c.name for c in (*self.input_contracts, *self.output_contracts)],
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        # Tracers name the provider and the model that really answered.
        return self.model._get_ls_params(stop=stop, **kwargs)

    @property
    def last_report(self) -> ContractReport | None:
        return self._last_report

    @property
    def input_contracts(self) -> list[Contract]:
        return list(self._settings.engine.input_contracts)

    @property
    def output_contracts(self) -> list[Contract]:
        return list(self._settings.engine.output_contracts)

    def get_health_report(self) -> dict[str, Any]:
        """Return per-contract calls, violations, errors, latency and auto-fix rates."""
        return self._settings.engine.health_report()

    # -- tools and structured output ---------------------------------------------------------

    def _over_self(self, built: Any, what: str) -> Any:
        found: list[bool] = []
        rebound = _rebind(built, self.model, self, found)
        if not found:
            raise NotImplementedError(
                f"{type(self.model).__name__}.{what} returned a runnable that does not call the model "
                f"itself; ContractChatModel cannot put its contracts in front of it"
            )
        return rebound

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        """Bind tools the way the wrapped model does; its calls still go through the contracts."""
        return self._over_self(self.model.bind_tools(tools, **kwargs), "bind_tools")  # type: ignore[no-any-return]

    def with_structured_output(self, schema: Any = None, **kwargs: Any) -> Runnable[Any, Any]:
        """Ask for structured output the way the wrapped model does, with the contracts in front."""
        structured = self.model.with_structured_output(schema, **kwargs)
        return self._over_self(structured, "with_structured_output")  # type: ignore[no-any-return]

    # -- calls -------------------------------------------------------------------------------

    def _finish(self, result: LLMResult, report: ContractReport) -> ChatResult:
        self._last_report = report
        generations = [
            g for g in (result.generations[0] if result.generations else ()) if isinstance(g, ChatGeneration)
        ]
        for generation in generations:
            attach_report(generation.message, report)
        return ChatResult(generations=generations, llm_output=result.llm_output)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        settings = call_settings(self._settings, self._telemetry)
        call = _Call(self.model, messages, stop, kwargs)

        def send(body: dict[str, Any], is_retry: bool) -> LLMResult:
            return self.model.generate([call.messages_for(body)], stop=stop, **kwargs)

        try:
            result, report = drive_sync(
                call.walk(settings, stream=False), engine=settings.engine, send=send, parse=lambda r: r
            )
        except ContractViolationError as exc:
            self._last_report = exc.report
            raise
        return self._finish(result, report)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        settings = call_settings(self._settings, self._telemetry)
        call = _Call(self.model, messages, stop, kwargs)

        async def send(body: dict[str, Any], is_retry: bool) -> LLMResult:
            return await self.model.agenerate([call.messages_for(body)], stop=stop, **kwargs)

        async def parse(result: LLMResult) -> LLMResult:
            return result

        try:
            result, report = await drive_async(
                call.walk(settings, stream=False), engine=settings.engine, send=send, parse=parse
            )
        except ContractViolationError as exc:
            self._last_report = exc.report
            raise
        return self._finish(result, report)

    def _validator(
        self, settings: CallSettings, report: ContractReport, request: LLMRequest
    ) -> StreamValidator:
        engine = settings.engine

        def done(final: ContractReport) -> None:
            self._last_report = final
            engine.metrics.record_call(outcome=final.outcome)
            settings.emit(final)

        return StreamValidator(
            engine=engine,
            policy=settings.stream_policy,
            report=report,
            context=ValidationContext(request=request),
            delta_text=_chunk_text,
            chunk_usage=_StreamUsage(),
            on_done=done,
            validate=report.outcome != "skipped",
            tool_deltas=_tool_deltas,
            finish_reason=_finish_reason,
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        settings = call_settings(self._settings, self._telemetry)
        call = _Call(self.model, messages, stop, kwargs)

        def send(body: dict[str, Any], is_retry: bool) -> Iterator[Any]:
            return self.model.stream(call.messages_for(body), stop=stop, **kwargs)

        try:
            source, report = drive_sync(
                call.walk(settings, stream=True), engine=settings.engine, send=send, parse=lambda r: r
            )
        except ContractViolationError as exc:
            self._last_report = exc.report
            raise
        validator = self._validator(settings, report, call.request)
        for chunk in validator.wrap(_chunks(iter(source)), _nothing):
            yield ChatGenerationChunk(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        settings = call_settings(self._settings, self._telemetry)
        call = _Call(self.model, messages, stop, kwargs)

        async def send(body: dict[str, Any], is_retry: bool) -> AsyncIterator[Any]:
            return self.model.astream(call.messages_for(body), stop=stop, **kwargs)

        async def parse(result: Any) -> Any:
            return result

        try:
            source, report = await drive_async(
                call.walk(settings, stream=True), engine=settings.engine, send=send, parse=parse
            )
        except ContractViolationError as exc:
            self._last_report = exc.report
            raise
        validator = self._validator(settings, report, call.request)
        async for chunk in validator.awrap(_achunks(source), _anothing):
            yield ChatGenerationChunk(message=chunk)


def _nothing() -> None:
    """Close nothing: the wrapped model's stream is closed by the validator itself."""


async def _anothing() -> None:
    """Close nothing: the wrapped model's stream is closed by the validator itself."""


# -- the recording handler ------------------------------------------------------------------------


class _Pending:
    __slots__ = ("context", "input_results", "request", "started")

    def __init__(
        self, request: LLMRequest, context: ValidationContext, input_results: list[ValidationResult]
    ) -> None:
        self.request = request
        self.context = context
        self.input_results = input_results
        self.started = time.perf_counter()


class ContractCallbackHandler(BaseCallbackHandler):
    """Judge every LangChain model call it is attached to and report the verdicts; enforce nothing.

    Attach it like any callback (``model.invoke(..., config={"callbacks": [handler]})`` or
    ``ChatX(callbacks=[handler])``). Input contracts judge the prompt when the call starts,
    output contracts every answer when it ends (a stream when it is complete). Each verdict is
    recorded with enforcement ``monitor``: the answer reaches the caller whatever the contracts
    say, and the report's outcome is ``passed`` or ``warned``. Contracts run in the callback,
    on the thread LangChain calls it from.

    Parameters:
        contracts, input_contracts, output_contracts, circuit_breaker, on_report: as for
            ``ContractOpenAI``.
        reporter, upload_traces, otel: reporting to the control plane, as for ``ContractOpenAI``.
        max_pending: how many started calls are remembered while waiting for their end (the
            oldest is forgotten first, so a call that never ends cannot grow memory).
    """

    raise_error = False

    def __init__(
        self,
        *,
        contracts: Iterable[Contract] | None = None,
        input_contracts: Iterable[Contract] | None = None,
        output_contracts: Iterable[Contract] | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        on_report: ReportListeners = None,
        reporter: Any = None,
        upload_traces: str = "violations",
        otel: Any = None,
        max_pending: int = 1000,
    ) -> None:
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ContractConfigError(f"max_pending must be an int >= 1; got {max_pending!r}")
        self._settings, _ = build_settings(
            contracts=contracts,
            input_contracts=input_contracts,
            output_contracts=output_contracts,
            circuit_breaker=circuit_breaker,
            on_report=on_report,
            reporter=reporter,
            upload_traces=upload_traces,
            otel=otel,
        )
        self._pending: OrderedDict[UUID, _Pending] = OrderedDict()
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self.last_report: ContractReport | None = None

    def get_health_report(self) -> dict[str, Any]:
        """Return per-contract calls, violations, errors, latency and auto-fix rates."""
        return self._settings.engine.health_report()

    # -- LangChain's events ------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        dicts = [_as_dict(m) for m in (messages[0] if messages else ())]
        self._start(run_id, dicts, metadata, kwargs.get("invocation_params"))

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        dicts = [{"role": "user", "content": prompts[0]}] if prompts else []
        self._start(run_id, dicts, metadata, kwargs.get("invocation_params"), endpoint="langchain:llm")

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            pending = self._pending.pop(run_id, None)
        if pending is None:
            return
        try:
            self._judge_answer(pending, response)
        except Exception:  # a bug here must never reach the app's call
            self._settings.engine.metrics.record_internal_error()
            log.exception("llm_contracts callback handler failed")

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            self._pending.pop(run_id, None)

    # -- judging -----------------------------------------------------------------------------

    def _start(
        self,
        run_id: UUID,
        dicts: list[dict[str, Any]],
        metadata: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        endpoint: str = "langchain:chat",
    ) -> None:
        try:
            meta = metadata or {}
            invocation = params or {}
            model = meta.get("ls_model_name") or invocation.get("model") or invocation.get("model_name") or ""
            provider = meta.get("ls_provider") or "langchain"
            request = dataclasses.replace(
                CHAT.read({"model": str(model), "messages": dicts}),
                provider=str(provider),
                endpoint=endpoint,
                params={k: invocation[k] for k in _PARAM_KEYS if k in invocation},
                tools=_tool_specs(invocation.get("tools")),
            )
            context = ValidationContext(request=request)
            engine = self._settings.engine
            results = [_monitored(engine.run_one(c, request, context)) for c in engine.input_contracts]
            with self._lock:
                self._pending[run_id] = _Pending(request, context, results)
                while len(self._pending) > self._max_pending:
                    self._pending.popitem(last=False)
        except Exception:  # a bug here must never reach the app's call
            self._settings.engine.metrics.record_internal_error()
            log.exception("llm_contracts callback handler failed")

    def _judge_answer(self, pending: _Pending, response: LLMResult) -> None:
        latency = time.perf_counter() - pending.started
        engine = self._settings.engine
        generations = response.generations[0] if response.generations else []
        answers = [
            _response(g.message, latency, response.llm_output)
            if isinstance(g, ChatGeneration)
            else LLMResponse(text=g.text, latency_s=latency)
            for g in generations
        ]
        if not answers:
            answers = [LLMResponse(text="", latency_s=latency)]
        per_choice = [[_monitored(r) for r in engine.run_output(a, pending.context)] for a in answers]
        report = ContractReport(
            provider=pending.request.provider,
            endpoint=pending.request.endpoint,
            model=answers[0].model or pending.request.model,
            request=pending.request,
            input_results=pending.input_results,
        )
        report.llm_latency_s = latency
        report.total_usage.add(answers[0].usage)
        results = [r for verdicts in per_choice for r in verdicts]
        report.attempts.append(
            Attempt(
                0,
                answers[0].text,
                results,
                answers[0].usage,
                latency,
                model=answers[0].model,
                choice_results=per_choice if len(per_choice) > 1 else [],
            )
        )
        report.outcome = "warned" if any(not r.is_valid for r in report.results) else "passed"
        self.last_report = report
        engine.metrics.record_call(outcome=report.outcome)
        self._settings.emit(report)


def _monitored(result: ValidationResult) -> ValidationResult:
    """Mark a verdict as recorded only: the handler enforces nothing."""
    if is_blocking(result):
        result.details["would_block"] = True
    result.enforcement = Enforcement.MONITOR
    return result
