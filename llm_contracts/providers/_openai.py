"""The drop-in OpenAI clients: ``openai.OpenAI`` / ``openai.AsyncOpenAI`` with contracts.

Every generation call of openai (``create``, ``parse``, ``stream``, their
``with_raw_response`` and ``with_streaming_response`` forms, and a direct
``client.post(...)``) meets in the client's ``request`` method, so contracts are
enforced there, once, keyed on the endpoint. Everything else is openai's own code.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Self

import openai
import openai._base_client as _openai_base
from openai import AsyncStream, NotGiven, Stream, Timeout, not_given
from openai._constants import DEFAULT_MAX_RETRIES

from .._exceptions import ContractConfigError, ContractViolationError
from .._scope import ACTIVE_CONVERSATION
from ..contracts._base import Contract
from ..contracts._types import LLMRequest
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._pipeline import CallSettings, contracted_call, drive_async, drive_sync
from ..enforcement._report import ContractReport, attach_report, get_report
from ..enforcement._streaming import StreamPolicy
from ..reporting._reporter import Reporter
from ._body import BodyJudge, event_parser, install_async, install_sync
from ._client import ContractClientMixin, ParseGuard, guard_parse, pending_report, with_body
from ._openai_routes import Route, route_for

try:  # the raw-response wrappers moved between openai releases; both names exist in 1.x-3.x
    from openai._legacy_response import LegacyAPIResponse
    from openai._response import APIResponse, AsyncAPIResponse
except ImportError:  # pragma: no cover - very old openai
    LegacyAPIResponse = APIResponse = AsyncAPIResponse = ()  # type: ignore[assignment,misc]

__all__ = ["AsyncImprovedOpenAIProvider", "ImprovedOpenAIProvider"]

# The HTTP library openai itself talks through: httpx2 for openai 3.x, httpx for 2.x.
# Taken from openai so this module imports neither and follows whichever is installed.
_http: Any = getattr(_openai_base, "httpx2", None) or getattr(_openai_base, "httpx")  # noqa: B009
_HTTP_RESPONSE: type[Any] = _http.Response


def _openai_name(module: str, name: str) -> Any:
    """Return ``module.name`` from openai, or ``Any`` where the installed release lacks it."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return Any


# The types of openai's own constructor parameters, so the constructors below spell them
# as openai does (and they resolve at runtime, for ``typing.get_type_hints``).
if TYPE_CHECKING:
    import httpx2
    from openai._data_residency import DataResidency
    from openai._provider import _Provider
    from openai.auth import WorkloadIdentity, X509WorkloadIdentity
else:
    httpx2 = _http
    DataResidency = _openai_name("openai._data_residency", "DataResidency")
    _Provider = _openai_name("openai._provider", "_Provider")
    WorkloadIdentity = _openai_name("openai.auth", "WorkloadIdentity")
    X509WorkloadIdentity = _openai_name("openai.auth", "X509WorkloadIdentity")

ConflictMode = Literal["resolve", "strict", "ignore"]
UploadTraces = Literal["violations", "breakpoints", "all", "never"]
ReportListener = Callable[[ContractReport], None]

# The Azure twin of each client, registered by ``_azure`` (imported with this package):
# wrapping an Azure client builds the twin, and this module need not import ``_azure``.
AZURE_TWINS: dict[type[Any], type[Any]] = {}

_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


@functools.cache
def _defaults(method: Callable[..., Any]) -> dict[str, Any]:
    """Return the default of each keyword-only parameter of ``method`` but ``client``."""
    return {
        name: p.default
        for name, p in inspect.signature(method).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "client"
    }


def _given(values: Mapping[str, Any], method: Callable[..., Any]) -> dict[str, Any]:
    """Return the keyword arguments of a call to ``method`` that are not their default.

    ``values`` is the method's ``locals()`` taken before anything else. Leaving defaults
    out lets openai apply its own, and lets an openai release without some parameter
    work as long as the caller does not use it (openai then says which one it lacks).
    """
    return {name: values[name] for name, default in _defaults(method).items() if values[name] is not default}


def _client_options(client: Any) -> dict[str, Any]:
    """Return the constructor options that recreate ``client`` (sharing its HTTP client)."""
    if not isinstance(client, (openai.OpenAI, openai.AsyncOpenAI)):
        raise ContractConfigError(f"client= must be an openai.OpenAI or openai.AsyncOpenAI; got {client!r}")
    options: dict[str, Any] = {
        "api_key": getattr(client, "_api_key_provider", None) or client.api_key,
        "organization": client.organization,
        "project": client.project,
        "base_url": client.base_url,
        "timeout": client.timeout,
        "max_retries": client.max_retries,
        "default_headers": dict(client._custom_headers) or None,
        "default_query": dict(client._custom_query) or None,
        "http_client": client._client,
    }
    init = inspect.signature(type(client).__init__).parameters
    for name in ("webhook_secret", "websocket_base_url"):
        if name in init and getattr(client, name, None) is not None:
            options[name] = getattr(client, name)
    return {k: v for k, v in options.items() if v is not None}


def _native_format(settings: CallSettings, endpoint: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``body`` asking the provider to enforce the first schema contract natively.

    The caller's own ``response_format`` (or Responses ``text.format``) always wins; the
    answer is still verified after the call, since native enforcement is best effort.
    """
    fmt: dict[str, Any] | None = next(
        (
            format_for()
            for c in settings.engine.output_contracts
            if callable(format_for := getattr(c, "response_format", None))
        ),
        None,
    )
    if fmt is None:
        return body
    if endpoint == "/chat/completions" and "response_format" not in body:
        return {**body, "response_format": fmt}
    if endpoint == "/responses" and "format" not in (body.get("text") or {}):
        flat = {"type": "json_schema", **fmt["json_schema"]} if fmt["type"] == "json_schema" else fmt
        return {**body, "text": {**(body.get("text") or {}), "format": flat}}
    return body


def _prepare(settings: CallSettings, route: Route, options: Any) -> tuple[Any, LLMRequest]:
    """Return the options to send (with a native schema when asked) and their request view."""
    body = options.json_data
    if settings.native_schema:
        body = _native_format(settings, route.endpoint, body)
        if body is not options.json_data:
            options = with_body(options, body, False)
    return options, route.requests.read(body)


def _walk(
    settings: CallSettings, route: Route, request: LLMRequest, stream: bool, guard: ParseGuard | None = None
) -> Any:
    """Return the pipeline generator of one call on ``route``."""
    answers = route.responses
    return contracted_call(
        settings,
        request,
        to_response=answers.response,
        reask_body=route.requests.reask,
        stream=stream,
        conversation=ACTIVE_CONVERSATION.get(),
        substitute=answers.substitute,
        to_choices=answers.choices,
        misfits=guard.misfits if guard is not None else None,
        sum_usage=answers.sum_usage,
    )


def _wrap_parse(result: Any, stream_type: type[Any], wrap: Callable[[Any], Any]) -> None:
    """Make this one raw response's sync ``parse()`` hand back a contracted stream."""
    original = result.parse

    @functools.wraps(original)
    def parse(*a: Any, **kw: Any) -> Any:
        parsed = original(*a, **kw)
        if isinstance(parsed, stream_type) and get_report(parsed) is None:
            wrap(parsed)
        return parsed

    result.parse = parse  # this one response object only, never the class


def _streams_body(options: Any) -> bool:
    """Return True for a ``with_streaming_response`` call: openai hands it back unread."""
    headers = options.headers
    if type(headers) is not dict and not isinstance(headers, Mapping):  # the ABC check costs 10x
        return False
    return headers.get(_RAW_RESPONSE_HEADER) == "stream"


def _json_body(body: bytes, cast_to: Any) -> Any:
    """Return a complete JSON body as openai's type (for routes to read), or None."""
    try:
        return _coerce(json.loads(body), cast_to)
    except ValueError:
        return None


def _coerce(parsed: Any, cast_to: Any) -> Any:
    """Give routes an object with attributes even when a caller asked for a dict or raw HTTP."""
    if isinstance(parsed, _HTTP_RESPONSE):
        # client.post(..., cast_to=httpx.Response): the caller gets the raw HTTP response
        # back untouched; contracts judge the JSON it carries.
        try:
            parsed = parsed.json()
        except ValueError:
            return None
    elif type(parsed) is cast_to:  # openai's own type, as asked: the common case
        return parsed
    if isinstance(parsed, Mapping):
        from openai._models import construct_type

        model = {
            "/chat/completions": openai.types.chat.ChatCompletion,
            "/responses": openai.types.responses.Response,
            "/completions": openai.types.Completion,
        }
        for typ in model.values():
            if cast_to is typ:
                return construct_type(type_=typ, value=parsed)
        if "choices" in parsed:
            return construct_type(type_=model["/chat/completions"], value=parsed)
        if "output" in parsed:
            return construct_type(type_=model["/responses"], value=parsed)
    return parsed


class _ContractClientMixin(ContractClientMixin):
    """The shared client pieces, and the body judge of openai's ``with_streaming_response``."""

    def _judge_body(
        self, result: Any, route: Route, report: ContractReport, request: Any, *, sse: bool
    ) -> None:
        """Judge a ``with_streaming_response`` body as the caller reads it (see ``_body``)."""
        report.streamed = sse
        validator = self._validator(route, report, request)
        http_response = result.http_response
        stream_cls = getattr(result, "_stream_cls", None)
        chunk_type = None
        if sse and stream_cls is not None:
            from openai._streaming import extract_stream_chunk_type

            chunk_type = extract_stream_chunk_type(stream_cls)
        cast_to = result._cast_to
        judge = BodyJudge(
            validator,
            route=route,
            sse=sse,
            parse_event=event_parser(self, chunk_type, http_response),
            parse_body=lambda body: _json_body(body, cast_to),
        )
        if isinstance(result, AsyncAPIResponse):
            install_async(http_response, judge)
            original_async = result.parse

            @functools.wraps(original_async)
            async def aparse(*a: Any, **kw: Any) -> Any:
                parsed = await original_async(*a, **kw)
                attach_report(parsed, report)
                return parsed

            result.parse = aparse  # type: ignore[method-assign]  # this one response object only
        else:
            install_sync(http_response, judge)
            original = result.parse

            @functools.wraps(original)
            def parse(*a: Any, **kw: Any) -> Any:
                parsed = original(*a, **kw)
                attach_report(parsed, report)
                return parsed

            result.parse = parse  # this one response object only, never the class


class ImprovedOpenAIProvider(_ContractClientMixin, openai.OpenAI):
    """``openai.OpenAI`` with contracts on every generation call.

    Constructed exactly like ``openai.OpenAI`` (the installed openai's keyword arguments,
    spelled out with their types, and its environment fallbacks), or around an existing
    client with ``client=``. Extra keywords:

    Parameters:
        contracts: contracts routed by category (input ones before the call).
        input_contracts / output_contracts: contracts placed explicitly.
        contract_retries: how many times to re-ask the model after an output violation
            (default 0, or what a contract set in ``contracts=`` declares). openai's
            ``max_retries`` keeps its meaning: HTTP retries.
        retry_budget_tokens: stop re-asking once the attempts used this many tokens.
        stream_policy: ``"immediate"`` (default), ``"hold_back:N"``, ``"sentence"``,
            ``"buffer"`` or a :class:`StreamPolicy`.
        circuit_breaker: a :class:`CircuitBreaker` (one with defaults otherwise).
        on_report: callable(s) given each call's :class:`ContractReport`.
        native_schema: when the caller sets no ``response_format``, send the first
            output schema contract's as a strict ``response_format`` so the provider
            enforces it too; the answer is still verified after the call.
        fallback: text to answer with when re-asks run out, instead of raising
            (non-streamed calls that return openai's parsed type). The answer keeps
            openai's type, ``get_report(reply).outcome == "fallback"``, and every real
            answer stays in the report; a warning is logged.
        conflicts: ``"resolve"`` (default) runs :func:`~llm_contracts.contracts.composition.resolve`
            as contracts are added: duplicates merge at the stricter severity, the higher
            priority wins a conflict, conflicts of equal priority keep both; every conflict
            is logged and listed in ``contract_conflicts``. ``"strict"`` raises
            ``ContractConflictError`` on any conflict; ``"ignore"`` enforces what was given.

    Example::

        client = ContractOpenAI(output_contracts=[JSONFormatContract(schema=TICKET)],
                                contract_retries=2)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        get_report(reply).outcome   # "passed", "repaired", ...
    """

    def __new__(cls, *args: Any, client: Any = None, **kwargs: Any) -> ImprovedOpenAIProvider:
        # Wrapping an Azure client keeps Azure's URLs and auth: build the Azure twin.
        if isinstance(client, openai.AzureOpenAI) and not issubclass(cls, openai.AzureOpenAI):
            cls = AZURE_TWINS[ImprovedOpenAIProvider]
        return super().__new__(cls)

    def __init__(
        self,
        *,
        api_key: str | Callable[[], str] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        provider: _Provider | None = None,
        base_url: str | httpx2.URL | None | NotGiven = not_given,
        data_residency: DataResidency | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | None | NotGiven = not_given,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.Client | None = None,
        _strict_response_validation: bool = False,
        _enforce_credentials: bool = True,
        client: openai.OpenAI | None = None,
        contracts: Iterable[Contract] | None = None,
        input_contracts: Iterable[Contract] | None = None,
        output_contracts: Iterable[Contract] | None = None,
        contract_retries: int | NotGiven = not_given,
        retry_budget_tokens: int | None = None,
        stream_policy: StreamPolicy | str | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        on_report: ReportListener | Iterable[ReportListener] | None = None,
        native_schema: bool = False,
        conflicts: ConflictMode = "resolve",
        fallback: str | None | NotGiven = not_given,
        reporter: Reporter | None = None,
        upload_traces: UploadTraces = "violations",
        project_contracts: bool = False,
        otel: Any = None,
        user_id: str | None = None,
        project_contracts_timeout: float = 1.0,
    ) -> None:
        options = _given(locals(), ImprovedOpenAIProvider.__init__)
        self._construct(options, client, _client_options, super().__init__)

    def copy(
        self,
        *,
        api_key: str | Callable[[], str] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        provider: _Provider | None | NotGiven = not_given,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        base_url: str | httpx2.URL | None | NotGiven = not_given,
        data_residency: DataResidency | None = None,
        timeout: float | Timeout | None | NotGiven = not_given,
        http_client: httpx2.Client | None = None,
        max_retries: int | NotGiven = not_given,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        _enforce_credentials: bool | None = None,
        _extra_kwargs: Mapping[str, Any] = {},  # noqa: B006 - openai's own default
        client: openai.OpenAI | None = None,
        contracts: Iterable[Contract] | None | NotGiven = not_given,
        input_contracts: Iterable[Contract] | None | NotGiven = not_given,
        output_contracts: Iterable[Contract] | None | NotGiven = not_given,
        contract_retries: int | NotGiven = not_given,
        retry_budget_tokens: int | None | NotGiven = not_given,
        stream_policy: StreamPolicy | str | None | NotGiven = not_given,
        circuit_breaker: CircuitBreaker | None | NotGiven = not_given,
        on_report: ReportListener | Iterable[ReportListener] | None | NotGiven = not_given,
        native_schema: bool | NotGiven = not_given,
        conflicts: ConflictMode | NotGiven = not_given,
        fallback: str | None | NotGiven = not_given,
        reporter: Reporter | None | NotGiven = not_given,
        upload_traces: UploadTraces | NotGiven = not_given,
        project_contracts: bool | NotGiven = not_given,
        otel: Any = not_given,
        user_id: str | None | NotGiven = not_given,
        project_contracts_timeout: float | NotGiven = not_given,
    ) -> Self:
        """Return a copy with the options given changed, and the same contracts and settings otherwise.

        openai's options work as in openai's ``copy()``; ``client=`` wraps another openai
        client instead. Contracts given replace all of this client's, ``on_report`` its
        report listeners; the copy shares the circuit breaker and the metrics unless a
        breaker is given.
        """
        return self._copy(_given(locals(), ImprovedOpenAIProvider.copy), client, super().copy)

    # openai aliases with_options = copy at class level; the alias must see our copy.
    with_options = copy

    def request(self, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        route = route_for(options.method, options.url)
        body = options.json_data
        if route is None or (type(body) is not dict and not isinstance(body, Mapping)):
            return super().request(cast_to, options, *args, **kwargs)
        stream = bool(kwargs.get("stream", args[0] if args else False))
        if (stream or not callable(options.post_parser)) and self._quiet():
            # No contracts, listeners, tracer or conversation, and no parse helper to guard
            # (guard_parse would leave the options as they are): openai's own path, with
            # only a vacuous report attached so get_report() works the same everywhere.
            result = super().request(cast_to, options, *args, **kwargs)
            vacuous = pending_report(route, body, stream)
            self._last_report = vacuous
            attach_report(result, vacuous)
            return result
        body_streamed = _streams_body(options)
        parent = super().request
        settings = self._call_settings()
        options, guard = guard_parse(options, stream)
        options, llm_request = _prepare(settings, route, options)
        parsed_objects: list[Any] = []

        def send(new_body: dict[str, Any], is_retry: bool) -> Any:
            # The pipeline hands back the request view's body: unchanged, send the
            # caller's options as they are rather than a copy.
            unchanged = new_body is llm_request.body and not is_retry
            opts = options if unchanged else with_body(options, new_body, is_retry)
            return parent(cast_to, opts, *args, **kwargs)

        def parse(result: Any) -> Any:
            if isinstance(result, (LegacyAPIResponse, APIResponse)):
                result = result.parse()
                parsed_objects.append(result)
            return _coerce(result, cast_to)

        # A with_streaming_response body is judged as it is read, like a stream.
        gen = _walk(settings, route, llm_request, stream or body_streamed, guard)
        try:
            result, report = drive_sync(gen, engine=settings.engine, send=send, parse=parse)
        except ContractViolationError as exc:
            self.last_report = exc.report
            # A parse helper's answer that never fit is pydantic's error too, as openai's is.
            raised = guard.raised(exc) if guard is not None else exc
            if raised is exc:
                raise
            raise raised from None
        if body_streamed and isinstance(result, APIResponse):
            self._judge_body(result, route, report, llm_request, sse=stream)
        elif stream:
            result = self._wrap_stream(result, route, report, llm_request)
        self._remember(result, report, parsed_objects)
        return result

    def _wrap_stream(self, result: Any, route: Route, report: ContractReport, request: Any) -> Any:
        if isinstance(result, Stream):
            validator = self._validator(route, report, request)
            chunks = validator.wrap(result._iterator, result.response.close)
            result._iterator = chunks
            # A weak reference: a closure holding the stream it is stored on would make
            # every stream a reference cycle, freed only by the garbage collector.
            stream_ref = weakref.ref(result)

            def close_stream() -> None:
                # Closing early must end our generator too, so the report says so now
                # rather than whenever the garbage collector gets to it.
                chunks.close()
                validator.abandon()
                stream = stream_ref()
                if stream is not None:
                    type(stream).close(stream)

            result.close = close_stream  # type: ignore[method-assign]  # this stream only
            attach_report(result, report)
        elif isinstance(result, (LegacyAPIResponse, APIResponse)):
            _wrap_parse(result, Stream, lambda parsed: self._wrap_stream(parsed, route, report, request))
        else:
            self._unvalidated(report)
        return result


class AsyncImprovedOpenAIProvider(_ContractClientMixin, openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` with contracts; see :class:`ImprovedOpenAIProvider`.

    Input contracts of a call run concurrently, and so do its output contracts.
    """

    def __new__(cls, *args: Any, client: Any = None, **kwargs: Any) -> AsyncImprovedOpenAIProvider:
        if isinstance(client, openai.AsyncAzureOpenAI) and not issubclass(cls, openai.AsyncAzureOpenAI):
            cls = AZURE_TWINS[AsyncImprovedOpenAIProvider]
        return super().__new__(cls)

    def __init__(
        self,
        *,
        api_key: str | Callable[[], Awaitable[str]] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        provider: _Provider | None = None,
        base_url: str | httpx2.URL | None | NotGiven = not_given,
        data_residency: DataResidency | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | None | NotGiven = not_given,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.AsyncClient | None = None,
        _strict_response_validation: bool = False,
        _enforce_credentials: bool = True,
        client: openai.AsyncOpenAI | None = None,
        contracts: Iterable[Contract] | None = None,
        input_contracts: Iterable[Contract] | None = None,
        output_contracts: Iterable[Contract] | None = None,
        contract_retries: int | NotGiven = not_given,
        retry_budget_tokens: int | None = None,
        stream_policy: StreamPolicy | str | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        on_report: ReportListener | Iterable[ReportListener] | None = None,
        native_schema: bool = False,
        conflicts: ConflictMode = "resolve",
        fallback: str | None | NotGiven = not_given,
        reporter: Reporter | None = None,
        upload_traces: UploadTraces = "violations",
        project_contracts: bool = False,
        otel: Any = None,
        user_id: str | None = None,
        project_contracts_timeout: float = 1.0,
    ) -> None:
        options = _given(locals(), AsyncImprovedOpenAIProvider.__init__)
        self._construct(options, client, _client_options, super().__init__)

    def copy(
        self,
        *,
        api_key: str | Callable[[], Awaitable[str]] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        provider: _Provider | None | NotGiven = not_given,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        base_url: str | httpx2.URL | None | NotGiven = not_given,
        data_residency: DataResidency | None = None,
        timeout: float | Timeout | None | NotGiven = not_given,
        http_client: httpx2.AsyncClient | None = None,
        max_retries: int | NotGiven = not_given,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        _enforce_credentials: bool | None = None,
        _extra_kwargs: Mapping[str, Any] = {},  # noqa: B006 - openai's own default
        client: openai.AsyncOpenAI | None = None,
        contracts: Iterable[Contract] | None | NotGiven = not_given,
        input_contracts: Iterable[Contract] | None | NotGiven = not_given,
        output_contracts: Iterable[Contract] | None | NotGiven = not_given,
        contract_retries: int | NotGiven = not_given,
        retry_budget_tokens: int | None | NotGiven = not_given,
        stream_policy: StreamPolicy | str | None | NotGiven = not_given,
        circuit_breaker: CircuitBreaker | None | NotGiven = not_given,
        on_report: ReportListener | Iterable[ReportListener] | None | NotGiven = not_given,
        native_schema: bool | NotGiven = not_given,
        conflicts: ConflictMode | NotGiven = not_given,
        fallback: str | None | NotGiven = not_given,
        reporter: Reporter | None | NotGiven = not_given,
        upload_traces: UploadTraces | NotGiven = not_given,
        project_contracts: bool | NotGiven = not_given,
        otel: Any = not_given,
        user_id: str | None | NotGiven = not_given,
        project_contracts_timeout: float | NotGiven = not_given,
    ) -> Self:
        """Return a copy with the options given changed, and the same contracts and settings otherwise.

        openai's options work as in openai's ``copy()``; ``client=`` wraps another openai
        client instead. Contracts given replace all of this client's, ``on_report`` its
        report listeners; the copy shares the circuit breaker and the metrics unless a
        breaker is given.
        """
        return self._copy(_given(locals(), AsyncImprovedOpenAIProvider.copy), client, super().copy)

    # openai aliases with_options = copy at class level; the alias must see our copy.
    with_options = copy

    async def request(self, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        route = route_for(options.method, options.url)
        body = options.json_data
        if route is None or (type(body) is not dict and not isinstance(body, Mapping)):
            return await super().request(cast_to, options, *args, **kwargs)
        stream = bool(kwargs.get("stream", args[0] if args else False))
        if (stream or not callable(options.post_parser)) and self._quiet():
            # No contracts, listeners, tracer or conversation, and no parse helper to guard
            # (guard_parse would leave the options as they are): openai's own path, with
            # only a vacuous report attached so get_report() works the same everywhere.
            result = await super().request(cast_to, options, *args, **kwargs)
            vacuous = pending_report(route, body, stream)
            self._last_report = vacuous
            attach_report(result, vacuous)
            return result
        body_streamed = _streams_body(options)
        parent = super().request
        settings = self._call_settings()
        options, guard = guard_parse(options, stream)
        options, llm_request = _prepare(settings, route, options)
        parsed_objects: list[Any] = []

        async def send(new_body: dict[str, Any], is_retry: bool) -> Any:
            # The pipeline hands back the request view's body: unchanged, send the
            # caller's options as they are rather than a copy.
            unchanged = new_body is llm_request.body and not is_retry
            opts = options if unchanged else with_body(options, new_body, is_retry)
            return await parent(cast_to, opts, *args, **kwargs)

        async def parse(result: Any) -> Any:
            if isinstance(result, AsyncAPIResponse):
                result = await result.parse()
                parsed_objects.append(result)
            elif isinstance(result, (LegacyAPIResponse, APIResponse)):
                result = result.parse()
                parsed_objects.append(result)
            return _coerce(result, cast_to)

        gen = _walk(settings, route, llm_request, stream or body_streamed, guard)
        try:
            result, report = await drive_async(gen, engine=settings.engine, send=send, parse=parse)
        except ContractViolationError as exc:
            self.last_report = exc.report
            # A parse helper's answer that never fit is pydantic's error too, as openai's is.
            raised = guard.raised(exc) if guard is not None else exc
            if raised is exc:
                raise
            raise raised from None
        if body_streamed and isinstance(result, AsyncAPIResponse):
            self._judge_body(result, route, report, llm_request, sse=stream)
        elif stream:
            result = self._wrap_stream(result, route, report, llm_request)
        self._remember(result, report, parsed_objects)
        return result

    def _wrap_stream(self, result: Any, route: Route, report: ContractReport, request: Any) -> Any:
        if isinstance(result, AsyncStream):
            validator = self._validator(route, report, request)
            chunks = validator.awrap(result._iterator, result.response.aclose)
            result._iterator = chunks
            stream_ref = weakref.ref(result)

            async def close_stream() -> None:
                # Await our generator's aclose: left to the garbage collector it would
                # close outside any task and the report would not say the stream ended.
                await chunks.aclose()
                validator.abandon()
                stream = stream_ref()
                if stream is not None:
                    await type(stream).close(stream)

            result.close = close_stream  # type: ignore[method-assign]  # this stream only
            attach_report(result, report)
        elif isinstance(result, AsyncAPIResponse):
            original_async = result.parse

            @functools.wraps(original_async)
            async def aparse(*a: Any, **kw: Any) -> Any:
                parsed = await original_async(*a, **kw)
                if isinstance(parsed, AsyncStream) and get_report(parsed) is None:
                    self._wrap_stream(parsed, route, report, request)
                return parsed

            result.parse = aparse  # type: ignore[method-assign]  # this one response object only
        elif isinstance(result, LegacyAPIResponse):
            _wrap_parse(result, AsyncStream, lambda parsed: self._wrap_stream(parsed, route, report, request))
        else:
            self._unvalidated(report)
        return result
