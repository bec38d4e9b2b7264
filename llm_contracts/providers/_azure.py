"""The drop-in Azure OpenAI clients: ``openai.AzureOpenAI`` / ``openai.AsyncAzureOpenAI`` with contracts.

Azure builds its own URLs (``/openai/deployments/<model>/...`` with an ``api-version``
query) and its own auth (an ``api-key`` header, or an Azure AD bearer token that may
come from a provider called on every request). Both live in openai's Azure classes,
so these clients subclass them and keep every byte of that; contracts are enforced in
the request layer exactly as for :class:`~llm_contracts.ContractOpenAI`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self

import openai
from openai import NOT_GIVEN, NotGiven, Timeout, not_given
from openai._constants import DEFAULT_MAX_RETRIES

from .._exceptions import ContractConfigError
from ..contracts._base import Contract
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._streaming import StreamPolicy
from ..reporting._reporter import Reporter
from ._openai import (
    AZURE_TWINS,
    AsyncImprovedOpenAIProvider,
    ConflictMode,
    ImprovedOpenAIProvider,
    ReportListener,
    UploadTraces,
    _client_options,
    _given,
    _openai_name,
)

# openai's parameter types, as in ``_openai``.
if TYPE_CHECKING:
    import httpx2
    from openai._data_residency import DataResidency
    from openai._provider import _Provider
    from openai.auth import WorkloadIdentity, X509WorkloadIdentity
    from openai.lib.azure import AsyncAzureADTokenProvider, AzureADTokenProvider
else:
    from ._openai import DataResidency, WorkloadIdentity, X509WorkloadIdentity, _Provider, httpx2

    AzureADTokenProvider = _openai_name("openai.lib.azure", "AzureADTokenProvider")
    AsyncAzureADTokenProvider = _openai_name("openai.lib.azure", "AsyncAzureADTokenProvider")

__all__ = ["AsyncContractAzureOpenAI", "ContractAzureOpenAI"]

_AZURE_ROUTING = ("_azure_endpoint", "_azure_deployment")


def _azure_options(client: Any) -> dict[str, Any]:
    """Return the constructor options that recreate Azure ``client`` (sharing its HTTP client)."""
    if not isinstance(client, (openai.AzureOpenAI, openai.AsyncAzureOpenAI)):
        raise ContractConfigError(
            f"client= must be an openai.AzureOpenAI or openai.AsyncAzureOpenAI; got {client!r}"
        )
    options = _client_options(client)
    # base_url already carries /openai[/deployments/<name>]; the api-version query is
    # added back by the constructor from api_version.
    options["api_version"] = client._api_version
    query = {k: v for k, v in (options.pop("default_query", None) or {}).items() if k != "api-version"}
    if query:
        options["default_query"] = query
    # Without an API key the key is openai's own sentinel, which its constructor accepts
    # next to a token, as its own copy() does.
    for name in ("azure_ad_token", "azure_ad_token_provider"):
        value = getattr(client, f"_{name}", None)
        if value is not None:
            options[name] = value
    return options


def _keep_routing(wrapper: Any, client: Any) -> None:
    # Given a base_url, openai's constructor forgets the endpoint and deployment that route
    # the non-deployment endpoints (/models, /files); openai's copy() keeps them the same way.
    for name in _AZURE_ROUTING:
        if hasattr(client, name):
            setattr(wrapper, name, getattr(client, name))


class ContractAzureOpenAI(ImprovedOpenAIProvider, openai.AzureOpenAI):
    """``openai.AzureOpenAI`` with contracts on every generation call.

    Constructed exactly like ``openai.AzureOpenAI`` (``azure_endpoint``,
    ``azure_deployment``, ``api_version``, ``api_key`` or ``azure_ad_token`` /
    ``azure_ad_token_provider``, same environment fallbacks), or around an existing
    Azure client with ``client=``; the contract keywords are those of
    :class:`~llm_contracts.ContractOpenAI`. ``ContractOpenAI(client=openai.AzureOpenAI(...))``
    builds one of these.

    Example::

        client = ContractAzureOpenAI(azure_endpoint="https://example.openai.azure.com",
                                     api_version="2024-10-21", azure_ad_token_provider=token,
                                     output_contracts=[JSONFormatContract()])
    """

    def __init__(
        self,
        *,
        api_version: str | None = None,
        azure_endpoint: str | None = None,
        azure_deployment: str | None = None,
        api_key: str | Callable[[], str] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: AzureADTokenProvider | None = None,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        base_url: str | None = None,
        timeout: float | Timeout | None | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.Client | None = None,
        _strict_response_validation: bool = False,
        _enforce_credentials: bool = True,
        client: openai.AzureOpenAI | None = None,
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
        options = _given(locals(), ContractAzureOpenAI.__init__)
        self._construct(options, client, _azure_options, super(ImprovedOpenAIProvider, self).__init__)
        if client is not None and "base_url" not in options:
            _keep_routing(self, client)

    # An Azure client wraps only an Azure client: client= is narrower than ContractOpenAI's.
    def copy(  # type: ignore[override]
        self,
        *,
        api_key: str | Callable[[], str] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        provider: _Provider | None | NotGiven = NOT_GIVEN,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        api_version: str | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: AzureADTokenProvider | None = None,
        base_url: str | httpx2.URL | None | NotGiven = NOT_GIVEN,
        data_residency: DataResidency | None = None,
        timeout: float | Timeout | None | NotGiven = NOT_GIVEN,
        http_client: httpx2.Client | None = None,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        _enforce_credentials: bool | None = None,
        _extra_kwargs: Mapping[str, Any] = {},  # noqa: B006 - openai's own default
        client: openai.AzureOpenAI | None = None,
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
        """Return a copy with the options given changed; see :meth:`ContractOpenAI.copy`."""
        options = _given(locals(), ContractAzureOpenAI.copy)
        return self._copy(options, client, super(ImprovedOpenAIProvider, self).copy)

    with_options = copy  # type: ignore[assignment]  # the copy above


class AsyncContractAzureOpenAI(AsyncImprovedOpenAIProvider, openai.AsyncAzureOpenAI):
    """``openai.AsyncAzureOpenAI`` with contracts; see :class:`ContractAzureOpenAI`."""

    def __init__(
        self,
        *,
        api_version: str | None = None,
        azure_endpoint: str | None = None,
        azure_deployment: str | None = None,
        api_key: str | Callable[[], Awaitable[str]] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: AsyncAzureADTokenProvider | None = None,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        base_url: str | None = None,
        timeout: float | Timeout | None | NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.AsyncClient | None = None,
        _strict_response_validation: bool = False,
        _enforce_credentials: bool = True,
        client: openai.AsyncAzureOpenAI | None = None,
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
        options = _given(locals(), AsyncContractAzureOpenAI.__init__)
        self._construct(options, client, _azure_options, super(AsyncImprovedOpenAIProvider, self).__init__)
        if client is not None and "base_url" not in options:
            _keep_routing(self, client)

    # An Azure client wraps only an Azure client: client= is narrower than ContractOpenAI's.
    def copy(  # type: ignore[override]
        self,
        *,
        api_key: str | Callable[[], Awaitable[str]] | None = None,
        admin_api_key: str | None = None,
        workload_identity: WorkloadIdentity | X509WorkloadIdentity | None = None,
        provider: _Provider | None | NotGiven = NOT_GIVEN,
        organization: str | None = None,
        project: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        api_version: str | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: AsyncAzureADTokenProvider | None = None,
        base_url: str | httpx2.URL | None | NotGiven = NOT_GIVEN,
        data_residency: DataResidency | None = None,
        timeout: float | Timeout | None | NotGiven = NOT_GIVEN,
        http_client: httpx2.AsyncClient | None = None,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
        _enforce_credentials: bool | None = None,
        _extra_kwargs: Mapping[str, Any] = {},  # noqa: B006 - openai's own default
        client: openai.AsyncAzureOpenAI | None = None,
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
        """Return a copy with the options given changed; see :meth:`ContractOpenAI.copy`."""
        options = _given(locals(), AsyncContractAzureOpenAI.copy)
        return self._copy(options, client, super(AsyncImprovedOpenAIProvider, self).copy)

    with_options = copy  # type: ignore[assignment]  # the copy above


AZURE_TWINS[ImprovedOpenAIProvider] = ContractAzureOpenAI
AZURE_TWINS[AsyncImprovedOpenAIProvider] = AsyncContractAzureOpenAI
