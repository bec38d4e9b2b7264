"""The drop-in Anthropic clients: ``anthropic.Anthropic`` / ``AsyncAnthropic`` with contracts.

``messages.create`` (streamed or not), ``messages.stream``, ``messages.parse``, their
``with_raw_response`` forms and ``beta.messages.*`` (the same path with ``?beta=true``)
all meet in the client's ``request`` method, as openai's calls do; contracts are enforced
there with the same engine and stream policies. Every other call (``count_tokens``,
batches, models, files) is anthropic's own code path.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Mapping
from typing import Any, Self

import anthropic
from anthropic import AsyncStream, Stream
from anthropic._response import APIResponse, AsyncAPIResponse

from .._exceptions import ContractConfigError, ContractViolationError
from .._scope import ACTIVE_CONVERSATION
from ..enforcement._pipeline import CallSettings, contracted_call, drive_async, drive_sync
from ..enforcement._report import ContractReport, PendingReport, attach_report
from ._body import BodyJudge, event_parser, install_async, install_sync
from ._client import ContractClientMixin, ParseGuard, guard_parse, with_body
from ._registry import Route
from ._specs import ANTHROPIC

__all__ = ["AsyncContractAnthropic", "ContractAnthropic"]

_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
# The "not given" markers anthropic leaves in a body (Omit is newer than NotGiven).
_SENTINELS = tuple(t for t in (getattr(anthropic, "Omit", None), anthropic.NotGiven) if isinstance(t, type))


def _client_options(client: Any) -> dict[str, Any]:
    """Return the constructor options that recreate ``client`` (sharing its HTTP client)."""
    if not isinstance(client, (anthropic.Anthropic, anthropic.AsyncAnthropic)):
        raise ContractConfigError(
            f"client= must be an anthropic.Anthropic or anthropic.AsyncAnthropic; got {client!r}"
        )
    options: dict[str, Any] = {
        "api_key": client.api_key,
        "auth_token": None if client.api_key else client.auth_token,
        "base_url": client.base_url,
        "timeout": client.timeout,
        "max_retries": client.max_retries,
        "default_headers": dict(client._custom_headers) or None,
        "default_query": dict(client._custom_query) or None,
        "http_client": client._client,
        # A credential provider (a profile, workload identity) when there is no key or token.
        "credentials": None if client.api_key or client.auth_token else getattr(client, "credentials", None),
    }
    return {k: v for k, v in options.items() if v is not None}


_CREDENTIAL_ARGS = ("api_key", "auth_token", "credentials", "config", "profile")


def _chain_credentials(kwargs: Mapping[str, Any]) -> Any:
    """Resolve anthropic's default credential chain for a client given no credential.

    anthropic runs its chain (``ANTHROPIC_PROFILE``, workload identity federation, the
    active profile on disk) only for its own two classes, not for subclasses; a drop-in
    must find the same credential. Returns anthropic's ``CredentialResult``, or None
    (a credential was given, the environment holds a key or token, nothing was found,
    or an anthropic release without the chain).
    """
    try:
        from anthropic._client import has_explicit_credential, static_credential_from_env
        from anthropic.lib.credentials import default_credentials
    except ImportError:
        return None
    if has_explicit_credential(**{name: kwargs.get(name) for name in _CREDENTIAL_ARGS}):
        return None
    if any(static_credential_from_env(warn=False)):
        return None
    base_url = kwargs.get("base_url") or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
    return default_credentials(base_url=str(base_url))


def _adopt_chain(client: Any, kwargs: Mapping[str, Any], chained: Any) -> None:
    """Give ``client`` what anthropic's own constructor takes from a chained credential."""
    client._credential_headers = dict(getattr(chained, "extra_headers", None) or {})
    chosen = kwargs.get("base_url") or os.environ.get("ANTHROPIC_BASE_URL")
    if chained.base_url and not chosen:
        client.base_url = chained.base_url
        client._unchosen_base_url = client.base_url


def _copy_credentials(client: Any, kwargs: dict[str, Any]) -> None:
    # anthropic's copy() keeps a credentials provider for its own classes only.
    if not any(kwargs.get(name) is not None for name in _CREDENTIAL_ARGS) and "credentials" not in kwargs:
        provider = getattr(client, "credentials", None)
        if provider is not None and client.api_key is None and client.auth_token is None:
            kwargs["credentials"] = provider


_ROUTES = ANTHROPIC.routes


def _route(options: Any) -> Route | None:
    """Return the route of a Messages call with a JSON body, or None for every other call."""
    if type(options.json_data) is not dict and not isinstance(options.json_data, Mapping):
        return None
    if options.method == "post":
        # The common case, a plain path: one look-up (what route_for finds for it).
        route = _ROUTES.get(options.url)
        if route is not None:
            return route
    return ANTHROPIC.route_for(options.method, options.url)


def _streams_body(options: Any) -> bool:
    """Return True for a ``with_streaming_response`` call: anthropic hands it back unread."""
    headers = options.headers
    if type(headers) is not dict and not isinstance(headers, Mapping):
        return False
    return headers.get(_RAW_RESPONSE_HEADER) == "stream"


def _given(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``body`` without the parameters anthropic marks as not given."""
    # anthropic's transform usually dropped them already: then the body is kept as it is.
    for value in body.values():
        if isinstance(value, _SENTINELS):
            return {k: v for k, v in body.items() if not isinstance(v, _SENTINELS)}
    return body  # type: ignore[return-value]


def _walk(settings: CallSettings, route: Route, request: Any, stream: bool, guard: ParseGuard | None) -> Any:
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


class _AnthropicClientMixin(ContractClientMixin):
    """The request-layer pieces the sync and async clients share."""

    def _judge_body(
        self, result: Any, route: Route, report: ContractReport, request: Any, *, sse: bool
    ) -> None:
        """Judge a ``with_streaming_response`` body as the caller reads it (see ``_body``)."""
        from anthropic._models import construct_type
        from anthropic._streaming import extract_stream_chunk_type

        report.streamed = sse
        validator = self._validator(route, report, request)
        http_response = result.http_response
        stream_cls = getattr(result, "_stream_cls", None)
        chunk_type = extract_stream_chunk_type(stream_cls) if sse and stream_cls is not None else None
        cast_to = result._cast_to

        def parse_body(body: bytes) -> Any:
            try:
                return construct_type(type_=cast_to, value=json.loads(body))
            except ValueError:
                return None

        judge = BodyJudge(
            validator,
            route=route,
            sse=sse,
            parse_event=event_parser(self, chunk_type, http_response),
            parse_body=parse_body,
        )
        original = result.parse
        if isinstance(result, AsyncAPIResponse):
            install_async(http_response, judge)

            async def aparse(*a: Any, **kw: Any) -> Any:
                parsed = await original(*a, **kw)
                attach_report(parsed, report)
                return parsed

            result.parse = aparse  # type: ignore[method-assign]  # this one response object only
        else:
            install_sync(http_response, judge)

            def parse(*a: Any, **kw: Any) -> Any:
                parsed = original(*a, **kw)
                attach_report(parsed, report)
                return parsed

            result.parse = parse  # this one response object only

    def _unvalidated(self, report: ContractReport) -> None:
        """Report a stream handed back without being parsed: nothing checked it."""
        report.outcome = "skipped"
        report.stop_reason = "raw HTTP stream returned to the caller: output not validated"
        self._contract_settings.engine.metrics.record_call(outcome="skipped")
        self._contract_settings.emit(report)


class ContractAnthropic(_AnthropicClientMixin, anthropic.Anthropic):
    """``anthropic.Anthropic`` with contracts on every Messages call.

    Constructed exactly like ``anthropic.Anthropic`` (same keyword arguments and
    environment fallbacks), or around an existing client with ``client=``. The contract
    keywords are those of :class:`~llm_contracts.ContractOpenAI` (``contracts``,
    ``input_contracts``, ``output_contracts``, ``contract_retries``, ``stream_policy``,
    ``on_report``, ``fallback``, ``reporter``...); anthropic's ``max_retries`` keeps its
    meaning (HTTP retries).

    Example::

        client = ContractAnthropic(output_contracts=[JSONFormatContract(schema=TICKET)],
                                   contract_retries=2)
        message = client.messages.create(model="claude-sonnet-4-5", max_tokens=512,
                                         messages=[{"role": "user", "content": "..."}])
        get_report(message).outcome   # "passed", "repaired", ...
    """

    def __init__(self, *, client: anthropic.Anthropic | None = None, **kwargs: Any) -> None:
        self._init_contracts(kwargs)
        if client is not None:
            kwargs = {**_client_options(client), **kwargs}
        chained = _chain_credentials(kwargs)
        if chained is not None:
            kwargs["credentials"] = chained.provider
        super().__init__(**kwargs)
        if chained is not None:
            _adopt_chain(self, kwargs, chained)

    def copy(self, **kwargs: Any) -> Self:
        """Return a copy with changed anthropic options and the same contracts and settings."""
        _copy_credentials(self, kwargs)
        twin = super().copy(**kwargs)
        twin._adopt(self)
        return twin

    # anthropic aliases with_options = copy at class level; the alias must see our copy.
    with_options = copy

    def request(self, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        route = _route(options)
        if route is None:
            return super().request(cast_to, options, *args, **kwargs)
        stream = bool(kwargs.get("stream", False))
        if (stream or not callable(options.post_parser)) and self._quiet():
            # No contracts, listeners, tracer or conversation, and no parse helper to guard:
            # anthropic's own path, with only a vacuous report attached so get_report()
            # works the same everywhere (built only if it is read).
            result = super().request(cast_to, options, *args, **kwargs)
            vacuous = PendingReport(
                route.requests.provider, route.endpoint, str(options.json_data.get("model", "")), stream
            )
            self._last_report = vacuous
            attach_report(result, vacuous)
            return result
        # with_streaming_response: anthropic hands the body back unread; it is judged as read.
        body_streamed = _streams_body(options)
        parent = super().request
        settings = self._call_settings()
        # messages.parse: an answer that does not fit output_format is a violation, re-asked.
        options, guard = guard_parse(options, stream, "output_format")
        llm_request = route.requests.read(_given(options.json_data))
        parsed_objects: list[Any] = []

        def send(new_body: dict[str, Any], is_retry: bool) -> Any:
            unchanged = new_body is llm_request.body and not is_retry
            return parent(
                cast_to, options if unchanged else with_body(options, new_body, is_retry), *args, **kwargs
            )

        def parse(result: Any) -> Any:
            if isinstance(result, APIResponse):
                result = result.parse()
                parsed_objects.append(result)
            return result

        try:
            result, report = drive_sync(
                _walk(settings, route, llm_request, stream or body_streamed, guard),
                engine=settings.engine,
                send=send,
                parse=parse,
            )
        except ContractViolationError as exc:
            self.last_report = exc.report
            # A parse helper's answer that never fit is pydantic's error too, as openai's is.
            raised = guard.raised(exc) if guard is not None else exc
            if raised is exc:
                raise
            raise raised from None
        if body_streamed and isinstance(result, (APIResponse, AsyncAPIResponse)):
            self._judge_body(result, route, report, llm_request, sse=stream)
        elif stream:
            result = self._wrap_stream(result, route, report, llm_request)
        self._remember(result, report, parsed_objects)
        return result

    def _wrap_stream(self, result: Any, route: Route, report: ContractReport, request: Any) -> Any:
        if isinstance(result, Stream):
            validator = self._validator(route, report, request)
            events = validator.wrap(result._iterator, result.response.close)
            result._iterator = events  # type: ignore[misc]  # this stream's cached iterator
            # A weak reference: a closure holding the stream it is stored on would make
            # every stream a reference cycle, freed only by the garbage collector.
            stream_ref = weakref.ref(result)

            def close_stream() -> None:
                events.close()
                validator.abandon()
                stream = stream_ref()
                if stream is not None:
                    type(stream).close(stream)

            result.close = close_stream  # type: ignore[method-assign]  # this stream only
            attach_report(result, report)
        elif isinstance(result, APIResponse):
            original = result.parse

            def parse(*a: Any, **kw: Any) -> Any:
                parsed = original(*a, **kw)
                if isinstance(parsed, Stream) and not hasattr(parsed, "_llm_contracts_wrapped"):
                    parsed._llm_contracts_wrapped = True  # type: ignore[attr-defined]
                    self._wrap_stream(parsed, route, report, request)
                return parsed

            result.parse = parse  # type: ignore[method-assign]  # this one response object only
        else:
            self._unvalidated(report)
        return result


class AsyncContractAnthropic(_AnthropicClientMixin, anthropic.AsyncAnthropic):
    """``anthropic.AsyncAnthropic`` with contracts; see :class:`ContractAnthropic`.

    Input contracts of a call run concurrently, and so do its output contracts.
    """

    def __init__(self, *, client: anthropic.AsyncAnthropic | None = None, **kwargs: Any) -> None:
        self._init_contracts(kwargs)
        if client is not None:
            kwargs = {**_client_options(client), **kwargs}
        chained = _chain_credentials(kwargs)
        if chained is not None:
            kwargs["credentials"] = chained.provider
        super().__init__(**kwargs)
        if chained is not None:
            _adopt_chain(self, kwargs, chained)

    def copy(self, **kwargs: Any) -> Self:
        """Return a copy with changed anthropic options and the same contracts and settings."""
        _copy_credentials(self, kwargs)
        twin = super().copy(**kwargs)
        twin._adopt(self)
        return twin

    with_options = copy

    async def request(self, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        route = _route(options)
        if route is None:
            return await super().request(cast_to, options, *args, **kwargs)
        stream = bool(kwargs.get("stream", False))
        if (stream or not callable(options.post_parser)) and self._quiet():
            result = await super().request(cast_to, options, *args, **kwargs)
            vacuous = PendingReport(
                route.requests.provider, route.endpoint, str(options.json_data.get("model", "")), stream
            )
            self._last_report = vacuous
            attach_report(result, vacuous)
            return result
        # with_streaming_response: anthropic hands the body back unread; it is judged as read.
        body_streamed = _streams_body(options)
        parent = super().request
        settings = self._call_settings()
        # messages.parse: an answer that does not fit output_format is a violation, re-asked.
        options, guard = guard_parse(options, stream, "output_format")
        llm_request = route.requests.read(_given(options.json_data))
        parsed_objects: list[Any] = []

        async def send(new_body: dict[str, Any], is_retry: bool) -> Any:
            unchanged = new_body is llm_request.body and not is_retry
            return await parent(
                cast_to, options if unchanged else with_body(options, new_body, is_retry), *args, **kwargs
            )

        async def parse(result: Any) -> Any:
            if isinstance(result, AsyncAPIResponse):
                result = await result.parse()
                parsed_objects.append(result)
            return result

        try:
            result, report = await drive_async(
                _walk(settings, route, llm_request, stream or body_streamed, guard),
                engine=settings.engine,
                send=send,
                parse=parse,
            )
        except ContractViolationError as exc:
            self.last_report = exc.report
            # A parse helper's answer that never fit is pydantic's error too, as openai's is.
            raised = guard.raised(exc) if guard is not None else exc
            if raised is exc:
                raise
            raise raised from None
        if body_streamed and isinstance(result, (APIResponse, AsyncAPIResponse)):
            self._judge_body(result, route, report, llm_request, sse=stream)
        elif stream:
            result = self._wrap_stream(result, route, report, llm_request)
        self._remember(result, report, parsed_objects)
        return result

    def _wrap_stream(self, result: Any, route: Route, report: ContractReport, request: Any) -> Any:
        if isinstance(result, AsyncStream):
            validator = self._validator(route, report, request)
            events = validator.awrap(result._iterator, result.response.aclose)
            result._iterator = events  # type: ignore[misc]
            stream_ref = weakref.ref(result)

            async def close_stream() -> None:
                # Await our generator's aclose: left to the garbage collector it would
                # close outside any task and the report would not say the stream ended.
                await events.aclose()
                validator.abandon()
                stream = stream_ref()
                if stream is not None:
                    await type(stream).close(stream)

            result.close = close_stream  # type: ignore[method-assign]  # this stream only
            attach_report(result, report)
        elif isinstance(result, AsyncAPIResponse):
            original = result.parse

            async def aparse(*a: Any, **kw: Any) -> Any:
                parsed = await original(*a, **kw)
                if isinstance(parsed, AsyncStream) and not hasattr(parsed, "_llm_contracts_wrapped"):
                    parsed._llm_contracts_wrapped = True  # type: ignore[attr-defined]
                    self._wrap_stream(parsed, route, report, request)
                return parsed

            result.parse = aparse  # type: ignore[method-assign]  # this one response object only
        else:
            self._unvalidated(report)
        return result
