"""The drop-in Cohere clients: ``cohere.ClientV2`` / ``AsyncClientV2`` with contracts.

cohere's ``v2.chat`` and ``v2.chat_stream`` (and their ``with_raw_response`` forms) send
through one HTTP layer, the client wrapper's ``httpx_client`` (cohere's ``HttpClient``,
around an ``httpx.Client``): its ``request`` (a whole answer) and ``stream`` (server-sent
events). The drop-in client puts its own subclass of that layer in place; contracts are
enforced there with the same engine and stream policies as for openai and anthropic, on
the JSON body cohere would send. Every other call (embed, rerank, v1 chat...) is cohere's
own code path. An HTTP error is handed back unread, so cohere raises its own exception.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import json
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Self

import cohere
import httpx
from cohere.core.http_client import AsyncHttpClient, HttpClient
from cohere.core.jsonable_encoder import jsonable_encoder

from .._exceptions import ContractConfigError, ContractViolationError
from .._scope import ACTIVE_CONVERSATION
from ..enforcement._pipeline import CallSettings, contracted_call, drive_async, drive_sync
from ..enforcement._report import ContractReport, PendingReport, attach_report
from ._body import BodyJudge, _Other, install_async, install_sync
from ._client import ContractClientMixin
from ._registry import Route
from ._specs import COHERE

__all__ = ["AsyncContractCohere", "ContractCohere"]

_ROUTES = COHERE.routes

# The reports of the contracted HTTP calls made inside one chat() call, for its answer.
_REPORTS: contextvars.ContextVar[list[ContractReport | PendingReport] | None] = contextvars.ContextVar(
    "llm_contracts_cohere_reports", default=None
)


class _Refused(Exception):
    """An HTTP error answer: handed back to cohere unread, for cohere to raise its own error."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _walk(settings: CallSettings, route: Route, request: Any, stream: bool) -> Any:
    answers = route.responses
    return contracted_call(
        settings,
        request,
        to_response=answers.response,
        reask_body=route.requests.reask,
        stream=stream,
        conversation=ACTIVE_CONVERSATION.get(),
        to_choices=answers.choices,
        sum_usage=answers.sum_usage,
        substitute=answers.substitute,
    )


class _NotPlain(Exception):
    """A value :func:`_plain` leaves to cohere's own encoder."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """Return what cohere's ``jsonable_encoder`` makes of plain JSON data, without its checks.

    Dicts with str keys, lists, strings, numbers, booleans and None only (exact types):
    a copy, with ``...`` (cohere's "omitted") left out as the encoder leaves it out. Raise
    ``_NotPlain`` for anything else. Messages are plain data on almost every call, and the
    encoder tries a dozen types on each of their values.
    """
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            if item is not Ellipsis:
                # A string or a number is itself: no call for it.
                out[key] = item if type(item) in _SCALARS else _plain(item)
        return out
    if kind is list:
        return [item if type(item) in _SCALARS else _plain(item) for item in value if item is not Ellipsis]
    if kind in _SCALARS:
        return value
    raise _NotPlain


def _wire_body(json_body: Any, request_options: Any, omit: Any) -> tuple[dict[str, Any], Any]:
    """Return the JSON body cohere would send, and request options that add nothing more to it."""
    plain = type(json_body) is dict or isinstance(json_body, Mapping)
    given = {k: v for k, v in json_body.items() if v is not omit} if plain else {}
    try:
        body: dict[str, Any] = _plain(given)
    except (_NotPlain, RecursionError):
        body = dict(jsonable_encoder(given) or {})
    if (
        request_options is not None
        and isinstance(request_options, Mapping)
        and "additional_body_parameters" in request_options
    ):
        body.update(jsonable_encoder(request_options["additional_body_parameters"]) or {})
        # Merged into the body already: an input fix that drops one must not see it come back.
        request_options = {k: v for k, v in request_options.items() if k != "additional_body_parameters"}
    return body, request_options


def _answer(response: httpx.Response) -> dict[str, Any]:
    if not 200 <= response.status_code < 300:
        response.read()
        raise _Refused(response)
    try:
        data = response.json()
    except ValueError:
        raise _Refused(response) from None  # cohere reports a body it cannot read
    if not isinstance(data, dict):
        raise _Refused(response)
    return data


async def _aanswer(response: httpx.Response) -> dict[str, Any]:
    await response.aread()
    return _answer(response)


def _rebuilt(response: httpx.Response, data: Mapping[str, Any]) -> httpx.Response:
    """Return ``response`` carrying ``data`` (the kept answer, its usage summed) as its body."""
    headers = [
        (k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=json.dumps(data).encode(),
        request=response.request,
    )


def _same(answer: dict[str, Any]) -> dict[str, Any]:
    return answer


def _parse_event(block: bytes) -> Any:
    """Read one SSE event block of cohere's chat stream into its JSON object, as cohere reads it.

    Lines end at \r\n, \r or \n only (not at the other Unicode line breaks, which JSON text
    may carry unescaped); a ``data`` field loses one leading space; its lines join with \n.
    """
    text = block.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    data = []
    for line in text.split("\n"):
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if not data:
        return _Other()
    try:
        event = json.loads("\n".join(data))
    except ValueError:  # not ours to reject: cohere's own reader skips it
        return _Other()
    return event if isinstance(event, dict) else _Other()


def _judge(owner: Any, route: Route, report: ContractReport, request: Any) -> BodyJudge:
    return BodyJudge(
        owner._validator(route, report, request),
        route=route,
        sse=True,
        parse_event=_parse_event,
        parse_body=lambda body: None,
    )


def _route(owner: Any, path: Any, method: Any, json_body: Any, retries: Any) -> Route | None:
    """Return the route of a contracted call (None for every other call, or without an owner)."""
    if owner is None or json_body is None or retries:
        # cohere retries a failed send by calling request() again: that is the same send.
        return None
    if method == "POST":
        # The common case, cohere's own path: one look-up (what route_for finds for it).
        route = _ROUTES.get(path)
        if route is not None:
            return route
    return COHERE.route_for(method, path or "")


def _model(json_body: Any) -> str:
    if type(json_body) is dict or isinstance(json_body, Mapping):
        return str(json_body.get("model", ""))
    return ""


def _vacuous(owner: Any, route: Route, json_body: Any, stream: bool) -> None:
    """Give a call with nothing to check, record or report its vacuous report.

    cohere's own path ran; the report is built only if it is read, so get_report() works
    the same everywhere.
    """
    requests = route.requests
    report = PendingReport(requests.provider, route.endpoint, _model(json_body), stream)
    owner._last_report = report
    reports = _REPORTS.get()
    if reports is not None:
        reports.append(report)


def _hand_over(owner: Any, report: ContractReport | PendingReport) -> None:
    owner._last_report = report
    reports = _REPORTS.get()
    if reports is not None:
        reports.append(report)


class _JsonOnce:
    """An HTTP answer's ``json()``: the JSON object contracts judged, then httpx's own.

    The answer was read into that object to be judged; cohere reads it next, with
    ``json()``, and gets it without reading the body again. Any later call (or one with
    arguments) is httpx's ``json()``, reading the body anew.
    """

    __slots__ = ("_data", "_response")

    def __init__(self, response: httpx.Response, data: dict[str, Any]) -> None:
        self._response = weakref.ref(response)
        self._data: dict[str, Any] | None = data

    def __call__(self, **kwargs: Any) -> Any:
        data, self._data = self._data, None
        if data is not None and not kwargs:
            return data
        response = self._response()
        if response is None:  # pragma: no cover - called through the response itself
            raise ReferenceError("the response is gone")
        return type(response).json(response, **kwargs)


def _answered(
    responses: list[httpx.Response], kept: dict[str, Any], report: ContractReport
) -> httpx.Response:
    """Return the HTTP answer cohere parses: the last one as received, or carrying ``kept``.

    ``kept`` differs from the last body received after a re-ask (its usage is the sum over
    every attempt) and when the declared fallback answered.
    """
    if len(responses) > 1 or report.outcome == "fallback":
        return _rebuilt(responses[-1], kept)
    response = responses[-1]
    response.json = _JsonOnce(response, kept)  # type: ignore[method-assign]  # this response only
    return response


class _ContractHttpClient(HttpClient):
    """cohere's sync HTTP layer, enforcing the owner client's contracts on chat calls."""

    _contract_owner: weakref.ref[ContractCohere]

    # Every call of the client passes here, contracts or not: cohere's keywords are passed
    # on as they came, and read only for the route.
    def request(self, path: str | None = None, **kwargs: Any) -> httpx.Response:
        owner = self._contract_owner()
        # _route(), inline: this is every call of a client, contracts or not.
        json_body = kwargs.get("json")
        if owner is None or json_body is None or kwargs.get("retries"):
            return HttpClient.request(self, path, **kwargs)
        method: Any = kwargs.get("method")
        route = _ROUTES.get(path or "") if method == "POST" else None
        if route is None:
            route = COHERE.route_for(method, path or "")
            if route is None:
                return HttpClient.request(self, path, **kwargs)
        if owner._quiet():
            response = HttpClient.request(self, path, **kwargs)
            _vacuous(owner, route, json_body, False)
            return response
        return self._contracted(owner, route, path, kwargs)

    def _contracted(
        self, owner: Any, route: Route, path: str | None, kwargs: dict[str, Any]
    ) -> httpx.Response:
        json_body = kwargs.pop("json")
        request_options = kwargs.pop("request_options", None)
        settings = owner._call_settings()
        body, options = _wire_body(json_body, request_options, kwargs.pop("omit", None))
        llm_request = route.requests.read(body)
        responses: list[httpx.Response] = []

        # A send reads its answer's JSON: that object is what contracts judge and what a
        # declared fallback replaces; cohere gets it back as the HTTP body it parses.
        def send(new_body: dict[str, Any], is_retry: bool) -> dict[str, Any]:
            response = HttpClient.request(self, path, json=new_body, request_options=options, **kwargs)
            responses.append(response)
            return _answer(response)

        try:
            result, report = drive_sync(
                _walk(settings, route, llm_request, False), engine=settings.engine, send=send, parse=_same
            )
        except _Refused as refused:
            return refused.response
        except ContractViolationError as exc:
            owner.last_report = exc.report
            raise
        _hand_over(owner, report)
        return _answered(responses, result, report)

    @contextlib.contextmanager
    def stream(self, path: str | None = None, **kwargs: Any) -> Iterator[httpx.Response]:
        owner = self._contract_owner()
        route = _route(owner, path, kwargs.get("method"), kwargs.get("json"), 0)
        parent = super().stream
        if route is None or owner is None:
            with parent(path, **kwargs) as response:
                yield response
            return
        settings = owner._call_settings()
        if owner._unobserved(settings):
            with parent(path, **kwargs) as response:
                _vacuous(owner, route, kwargs["json"], True)
                yield response
            return
        json_body = kwargs.pop("json")
        body, options = _wire_body(json_body, kwargs.pop("request_options", None), kwargs.pop("omit", None))
        llm_request = route.requests.read(body)
        with contextlib.ExitStack() as stack:

            def send(new_body: dict[str, Any], is_retry: bool) -> httpx.Response:
                return stack.enter_context(parent(path, json=new_body, request_options=options, **kwargs))

            try:
                result, report = drive_sync(
                    _walk(settings, route, llm_request, True),
                    engine=settings.engine,
                    send=send,
                    parse=lambda response: response,
                )
            except ContractViolationError as exc:
                owner.last_report = exc.report
                raise
            if 200 <= result.status_code < 300:
                install_sync(result, _judge(owner, route, report, llm_request))
            _hand_over(owner, report)
            yield result


# The parameters of cohere's HttpClient.request, with their defaults, in the releases whose
# signature _SpelledOutHttpClient repeats (None: a required keyword).
_REQUEST_SIGNATURE = (
    ("path", None),
    ("method", inspect.Parameter.empty),
    ("base_url", None),
    ("params", None),
    ("json", None),
    ("data", None),
    ("content", None),
    ("files", None),
    ("headers", None),
    ("request_options", None),
    ("retries", 0),
    ("omit", None),
    ("optional_body", False),
    ("force_multipart", None),
)


def _spelled_out(request: Any) -> bool:
    """Return True when cohere's ``request`` takes exactly the parameters of ``_REQUEST_SIGNATURE``."""
    try:
        parameters = list(inspect.signature(request).parameters.values())[1:]
    except (TypeError, ValueError):  # pragma: no cover - a request() inspect cannot read
        return False
    return [(p.name, p.default) for p in parameters] == list(_REQUEST_SIGNATURE) and [
        p.kind for p in parameters
    ] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] + [inspect.Parameter.KEYWORD_ONLY] * (len(parameters) - 1)


class _SpelledOutHttpClient(_ContractHttpClient):
    """The sync layer for the cohere releases whose ``request`` signature it repeats.

    Keywords named at the call cost less than a dict of them passed on, and this runs on
    every call of a client: a call without contracts goes to cohere's ``request`` with its
    keywords as they came. Other releases use ``_ContractHttpClient`` itself.
    """

    def request(  # type: ignore[override]
        self,
        path: str | None = None,
        *,
        method: str,
        base_url: Any = None,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        content: Any = None,
        files: Any = None,
        headers: Any = None,
        request_options: Any = None,
        retries: int = 0,
        omit: Any = None,
        optional_body: bool = False,
        force_multipart: Any = None,
    ) -> httpx.Response:
        owner = self._contract_owner()
        # What _ContractHttpClient.request does, with the keywords spelled out.
        route = None
        if owner is not None and json is not None and not retries:
            route = _ROUTES.get(path or "") if method == "POST" else None
            if route is None:
                route = COHERE.route_for(method, path or "")
        if owner is None or route is None or owner._quiet():
            response = HttpClient.request(
                self,
                path,
                method=method,
                base_url=base_url,
                params=params,
                json=json,
                data=data,
                content=content,
                files=files,
                headers=headers,
                request_options=request_options,
                retries=retries,
                omit=omit,
                optional_body=optional_body,
                force_multipart=force_multipart,
            )
            if owner is not None and route is not None:
                _vacuous(owner, route, json, False)
            return response
        kwargs = {
            "method": method,
            "base_url": base_url,
            "params": params,
            "json": json,
            "data": data,
            "content": content,
            "files": files,
            "headers": headers,
            "request_options": request_options,
            "retries": retries,
            "omit": omit,
            "optional_body": optional_body,
            "force_multipart": force_multipart,
        }
        return self._contracted(owner, route, path, kwargs)


_SYNC_LAYER: type[_ContractHttpClient] = (
    _SpelledOutHttpClient if _spelled_out(HttpClient.request) else _ContractHttpClient
)


class _AsyncContractHttpClient(AsyncHttpClient):
    """cohere's async HTTP layer, enforcing the owner client's contracts on chat calls."""

    _contract_owner: weakref.ref[AsyncContractCohere]

    async def request(self, path: str | None = None, **kwargs: Any) -> httpx.Response:
        owner = self._contract_owner()
        route = _route(owner, path, kwargs.get("method"), kwargs.get("json"), kwargs.get("retries"))
        if route is None or owner is None:
            return await AsyncHttpClient.request(self, path, **kwargs)
        if owner._quiet():
            response = await AsyncHttpClient.request(self, path, **kwargs)
            _vacuous(owner, route, kwargs["json"], False)
            return response
        return await self._contracted(owner, route, path, kwargs)

    async def _contracted(
        self, owner: Any, route: Route, path: str | None, kwargs: dict[str, Any]
    ) -> httpx.Response:
        json_body = kwargs.pop("json")
        request_options = kwargs.pop("request_options", None)
        settings = owner._call_settings()
        body, options = _wire_body(json_body, request_options, kwargs.pop("omit", None))
        llm_request = route.requests.read(body)
        responses: list[httpx.Response] = []

        async def send(new_body: dict[str, Any], is_retry: bool) -> dict[str, Any]:
            response = await AsyncHttpClient.request(
                self, path, json=new_body, request_options=options, **kwargs
            )
            responses.append(response)
            return await _aanswer(response)

        async def parse(answer: dict[str, Any]) -> dict[str, Any]:
            return answer

        try:
            result, report = await drive_async(
                _walk(settings, route, llm_request, False), engine=settings.engine, send=send, parse=parse
            )
        except _Refused as refused:
            return refused.response
        except ContractViolationError as exc:
            owner.last_report = exc.report
            raise
        _hand_over(owner, report)
        return _answered(responses, result, report)

    @contextlib.asynccontextmanager
    async def stream(self, path: str | None = None, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        owner = self._contract_owner()
        route = _route(owner, path, kwargs.get("method"), kwargs.get("json"), 0)
        parent = super().stream
        if route is None or owner is None:
            async with parent(path, **kwargs) as response:
                yield response
            return
        settings = owner._call_settings()
        if owner._unobserved(settings):
            async with parent(path, **kwargs) as response:
                _vacuous(owner, route, kwargs["json"], True)
                yield response
            return
        json_body = kwargs.pop("json")
        body, options = _wire_body(json_body, kwargs.pop("request_options", None), kwargs.pop("omit", None))
        llm_request = route.requests.read(body)
        async with contextlib.AsyncExitStack() as stack:

            async def send(new_body: dict[str, Any], is_retry: bool) -> httpx.Response:
                return await stack.enter_async_context(
                    parent(path, json=new_body, request_options=options, **kwargs)
                )

            async def parse(response: httpx.Response) -> httpx.Response:
                return response

            try:
                result, report = await drive_async(
                    _walk(settings, route, llm_request, True), engine=settings.engine, send=send, parse=parse
                )
            except ContractViolationError as exc:
                owner.last_report = exc.report
                raise
            if 200 <= result.status_code < 300:
                install_async(result, _judge(owner, route, report, llm_request))
            _hand_over(owner, report)
            yield result


def _client_options(client: Any, kind: type[Any]) -> dict[str, Any]:
    """Return the constructor options that recreate ``client`` (sharing its httpx client).

    cohere's clients keep what they were built with in their client wrapper: the key (or
    key callable), base URL, timeout, HTTP retries, client name and the httpx client.
    """
    if not isinstance(client, kind):
        raise ContractConfigError(f"client= must be a cohere.{kind.__name__}; got {client!r}")
    wrapper = client._client_wrapper
    options: dict[str, Any] = {
        "api_key": getattr(wrapper, "_token", None),
        "base_url": wrapper.get_base_url(),
        "timeout": wrapper.get_timeout(),
        "client_name": getattr(wrapper, "_client_name", None),
        "httpx_client": getattr(wrapper.httpx_client, "httpx_client", None),
    }
    max_retries = getattr(wrapper, "get_max_retries", None)
    if callable(max_retries):
        options["max_retries"] = max_retries()
    executor = getattr(client, "_executor", None)
    if executor is not None:
        options["thread_pool_executor"] = executor
    # cohere wraps chat_stream on the instance only when it logs warnings for experimental features.
    options["log_warning_experimental_features"] = "chat_stream" in vars(client)
    return {k: v for k, v in options.items() if v is not None}


def _install(client: Any, layer: type[Any]) -> None:
    """Put the contract-enforcing HTTP layer in place of cohere's own, sharing its state."""
    wrapper = client._client_wrapper
    http = object.__new__(layer)
    http.__dict__.update(wrapper.httpx_client.__dict__)
    http._contract_owner = weakref.ref(client)
    wrapper.httpx_client = http


# cohere's own ClientV2 joins its v1 and v2 clients, whose methods differ (it ignores that too).
class ContractCohere(ContractClientMixin, cohere.ClientV2):  # type: ignore[misc]
    """``cohere.ClientV2`` with contracts on every v2 chat call (``chat`` and ``chat_stream``).

    Constructed exactly like ``cohere.ClientV2`` (``api_key``, ``base_url``,
    ``httpx_client``, ``max_retries``...), or around an existing one with ``client=``
    (its key, base URL, timeout, HTTP retries and httpx client are kept). The contract keywords are those of
    :class:`~llm_contracts.ContractOpenAI` (``contracts``, ``input_contracts``,
    ``output_contracts``, ``contract_retries``, ``stream_policy``, ``on_report``...).

    Example::

        co = ContractCohere(api_key=..., output_contracts=[JSONFormatContract(schema=TICKET)],
                            contract_retries=2)
        answer = co.chat(model="command-a-03-2025",
                         messages=[{"role": "user", "content": "..."}])
        get_report(answer).outcome   # "passed", "repaired", ...
    """

    def __init__(self, *args: Any, client: cohere.ClientV2 | None = None, **kwargs: Any) -> None:
        self._init_contracts(kwargs)
        if client is not None:
            kwargs = {**_client_options(client, cohere.ClientV2), **kwargs}
        super().__init__(*args, **kwargs)
        _install(self, _SYNC_LAYER)

    def copy(self, **options: Any) -> Self:
        """Return a new client with this one's options, contracts and settings, and ``options`` applied.

        cohere's clients have no ``copy()``; this one is shaped like anthropic's and openai's.
        cohere's constructor keywords (``api_key``, ``base_url``, ``timeout``, ``max_retries``,
        ``client_name``, ``httpx_client``...) change the HTTP side, whose httpx client is
        shared unless another is given; the contract keywords (``output_contracts``,
        ``contract_retries``, ``stream_policy``, ``on_report``...) change the contracts.
        ``copy.copy(client)`` is ``client.copy()``. Each client reports its own calls.
        """
        return self._copy(options, None, self._derived)

    with_options = copy

    def _derived(self, **options: Any) -> Self:
        return type(self)(**{**_client_options(self, cohere.ClientV2), **options})

    def __copy__(self) -> Self:
        return self.copy()

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        reports: list[ContractReport | PendingReport] = []
        token = _REPORTS.set(reports)
        try:
            result = super().chat(*args, **kwargs)
        finally:
            _REPORTS.reset(token)
        if reports:
            attach_report(result, reports[-1])
        return result


class AsyncContractCohere(ContractClientMixin, cohere.AsyncClientV2):  # type: ignore[misc]
    """``cohere.AsyncClientV2`` with contracts; see :class:`ContractCohere`."""

    def __init__(self, *args: Any, client: cohere.AsyncClientV2 | None = None, **kwargs: Any) -> None:
        self._init_contracts(kwargs)
        if client is not None:
            kwargs = {**_client_options(client, cohere.AsyncClientV2), **kwargs}
        super().__init__(*args, **kwargs)
        _install(self, _AsyncContractHttpClient)

    def copy(self, **options: Any) -> Self:
        """Return a new client with ``options`` applied; see :meth:`ContractCohere.copy`."""
        return self._copy(options, None, self._derived)

    with_options = copy

    def _derived(self, **options: Any) -> Self:
        return type(self)(**{**_client_options(self, cohere.AsyncClientV2), **options})

    def __copy__(self) -> Self:
        return self.copy()

    async def chat(self, *args: Any, **kwargs: Any) -> Any:
        reports: list[ContractReport | PendingReport] = []
        token = _REPORTS.set(reports)
        try:
            result = await super().chat(*args, **kwargs)
        finally:
            _REPORTS.reset(token)
        if reports:
            attach_report(result, reports[-1])
        return result
