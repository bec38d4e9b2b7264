"""The drop-in clients' constructors and copy() spell out openai's parameters and ours.

Every parameter of the installed openai's ``__init__`` and ``copy()`` is in ours with the
same kind, default and type, so IDEs and type checkers see them; and ``copy()`` takes
every parameter the constructor takes (openai's own rule, ``test_copy_signature``).
"""

from __future__ import annotations

import inspect
import types
import typing

import openai
import pytest

from llm_contracts import (
    AsyncContractAzureOpenAI,
    AsyncContractOpenAI,
    ContractAzureOpenAI,
    ContractOpenAI,
    FunctionContract,
    get_report,
)
from llm_contracts.enforcement import CircuitBreaker
from llm_contracts.testing import http_module

http = http_module()  # the HTTP library openai talks through: httpx2 for openai 3.x, httpx for 2.x

PAIRS = [
    (ContractOpenAI, openai.OpenAI),
    (AsyncContractOpenAI, openai.AsyncOpenAI),
    (ContractAzureOpenAI, openai.AzureOpenAI),
    (AsyncContractAzureOpenAI, openai.AsyncAzureOpenAI),
]
IDS = [ours.__name__ for ours, _ in PAIRS]
# Our own keywords, besides openai's, in the constructor and in copy().
OURS = [
    "client",
    "contracts",
    "input_contracts",
    "output_contracts",
    "contract_retries",
    "retry_budget_tokens",
    "stream_policy",
    "circuit_breaker",
    "on_report",
    "native_schema",
    "conflicts",
    "fallback",
    "reporter",
    "upload_traces",
    "project_contracts",
    "otel",
    "user_id",
    "project_contracts_timeout",
]


def _canonical(annotation: typing.Any) -> typing.Any:
    """Return ``annotation`` in a form where ``typing.X`` and ``collections.abc.X`` compare equal."""
    if isinstance(annotation, list):
        return tuple(_canonical(a) for a in annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is None:
        return annotation
    if origin in (typing.Union, types.UnionType):
        return ("union", frozenset(_canonical(a) for a in args))
    return (origin, tuple(_canonical(a) for a in args))


def _parameters(method: typing.Any) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(method).parameters.items() if name != "self"}


# The signatures are written against the openai 3.x line (the one `make typecheck` checks
# them with); on the 2.x line every openai parameter is there, but a few types and
# defaults differ from 2.x's own (its base_url defaults to None, it has no X509 identity).
WRITTEN_FOR_THIS_OPENAI = int(openai.__version__.split(".")[0]) >= 3


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("method", ["__init__", "copy", "with_options"])
def test_every_openai_parameter_is_spelled_out_the_same(ours, theirs, method):
    our_params = _parameters(getattr(ours, method))
    our_types = typing.get_type_hints(getattr(ours, method))
    their_types = typing.get_type_hints(getattr(theirs, method))

    for name, theirs_param in _parameters(getattr(theirs, method)).items():
        assert name in our_params, f"{ours.__name__}.{method} lacks openai's {name!r}"
        param = our_params[name]
        assert param.kind is theirs_param.kind, name
        if not WRITTEN_FOR_THIS_OPENAI:
            continue
        assert param.default == theirs_param.default, name
        assert _canonical(our_types.get(name)) == _canonical(their_types.get(name)), name


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
@pytest.mark.parametrize("method", ["__init__", "copy"])
def test_every_parameter_is_named_and_keyword_only(ours, theirs, method):
    params = _parameters(getattr(ours, method))

    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert set(OURS) <= set(params)


def test_openai_s_defaults_apply_where_no_value_is_given():
    ours, theirs = ContractOpenAI(api_key="k"), openai.OpenAI(api_key="k")

    assert ours.base_url == theirs.base_url
    assert (ours.timeout, ours.max_retries) == (theirs.timeout, theirs.max_retries)
    azure = {
        "api_key": "k",
        "api_version": "2024-10-21",
        "azure_endpoint": "https://example.openai.azure.com",
    }
    ours_azure, theirs_azure = ContractAzureOpenAI(**azure), openai.AzureOpenAI(**azure)
    assert (ours_azure.base_url, ours_azure.timeout) == (theirs_azure.base_url, theirs_azure.timeout)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=IDS)
def test_copy_takes_every_parameter_of_the_constructor(ours, theirs):
    init, copy = _parameters(ours.__init__), _parameters(ours.copy)
    # openai's rule: those three configure only a new client's transport or validation.
    exclude = {"transport", "proxies", "_strict_response_validation"}
    if issubclass(ours, openai.AzureOpenAI | openai.AsyncAzureOpenAI):
        # openai's Azure copy() keeps the endpoint and deployment (base_url changes them).
        exclude |= {"azure_endpoint", "azure_deployment"}

    assert sorted(set(init) - set(copy) - exclude) == []
    assert ours.with_options is ours.copy


# -- what copy() does with the keywords it now takes ----------------------------------------------


def _answer(text: str) -> dict[str, typing.Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
    }


def _http(texts: list[str], seen: list[typing.Any]) -> typing.Any:
    def handler(request: typing.Any) -> typing.Any:
        seen.append(request)
        return http.Response(200, json=_answer(texts[min(len(seen), len(texts)) - 1]))

    return http.Client(transport=http.MockTransport(handler))


def _no_x() -> FunctionContract:
    return FunctionContract(lambda text: "x" not in text, name="no_x")


MESSAGES = [{"role": "user", "content": "hi"}]


def test_copy_with_contract_retries_changes_them_and_keeps_the_contracts():
    seen: list[typing.Any] = []
    client = ContractOpenAI(
        api_key="t", http_client=_http(["x", "fine"], seen), max_retries=0, output_contracts=[_no_x()]
    )

    twin = client.copy(contract_retries=1)
    reply = twin.chat.completions.create(model="m", messages=MESSAGES)

    assert reply.choices[0].message.content == "fine"
    assert get_report(reply).outcome == "repaired"
    assert [c.name for c in twin.output_contracts] == ["no_x"]
    assert client.contract_retries == 0
    assert twin.circuit_breaker is client.circuit_breaker


def test_copy_with_contracts_replaces_them_on_the_copy_only():
    seen: list[typing.Any] = []
    client = ContractOpenAI(
        api_key="t", http_client=_http(["x"], seen), max_retries=0, output_contracts=[_no_x()]
    )
    breaker = CircuitBreaker()

    twin = client.with_options(output_contracts=[], circuit_breaker=breaker, timeout=3.0)
    reply = twin.chat.completions.create(model="m", messages=MESSAGES)

    assert reply.choices[0].message.content == "x"
    assert twin.output_contracts == [] and twin.circuit_breaker is breaker
    assert twin.timeout == 3.0
    assert [c.name for c in client.output_contracts] == ["no_x"]


def test_copy_keeps_contracts_added_after_construction():
    client = ContractOpenAI(api_key="t", max_retries=0)
    client.add_output_contract(_no_x())

    twin = client.copy(fallback="sorry")

    assert [c.name for c in twin.output_contracts] == ["no_x"]
    assert twin._contract_settings.fallback == "sorry"


def test_copy_with_client_wraps_that_client_with_the_same_contracts():
    seen: list[typing.Any] = []
    other = openai.OpenAI(api_key="other", base_url="http://other.test/v1", http_client=_http(["x"], seen))
    client = ContractOpenAI(api_key="t", max_retries=0, output_contracts=[_no_x()], fallback="sorry")

    twin = client.copy(client=other, max_retries=0)
    reply = twin.chat.completions.create(model="m", messages=MESSAGES)

    assert seen[0].url.host == "other.test"
    assert seen[0].headers["authorization"] == "Bearer other"
    assert reply.choices[0].message.content == "sorry"
    assert get_report(reply).outcome == "fallback"


async def test_the_async_copy_takes_the_same_keywords():
    seen: list[typing.Any] = []

    async def handler(request: typing.Any) -> typing.Any:
        seen.append(request)
        return http.Response(200, json=_answer("x" if len(seen) == 1 else "fine"))

    http_client = http.AsyncClient(transport=http.MockTransport(handler))
    client = AsyncContractOpenAI(
        api_key="t", http_client=http_client, max_retries=0, output_contracts=[_no_x()]
    )

    twin = client.with_options(contract_retries=1)
    reply = await twin.chat.completions.create(model="m", messages=MESSAGES)

    assert get_report(reply).outcome == "repaired"
    assert len(seen) == 2


@pytest.mark.parametrize("cls", [ContractOpenAI, AsyncContractOpenAI])
def test_a_wrong_keyword_is_refused_with_its_name(cls):
    with pytest.raises(TypeError, match="contract_retry"):
        cls(api_key="t", contract_retry=2)
    with pytest.raises(TypeError, match="timeouts"):
        cls(api_key="t").copy(timeouts=2)
