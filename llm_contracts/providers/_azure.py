"""The drop-in Azure OpenAI clients: ``openai.AzureOpenAI`` / ``openai.AsyncAzureOpenAI`` with contracts.

Azure builds its own URLs (``/openai/deployments/<model>/...`` with an ``api-version``
query) and its own auth (an ``api-key`` header, or an Azure AD bearer token that may
come from a provider called on every request). Both live in openai's Azure classes,
so these clients subclass them and keep every byte of that; contracts are enforced in
the request layer exactly as for :class:`~llm_contracts.ContractOpenAI`.
"""

from __future__ import annotations

from typing import Any

import openai

from .._exceptions import ContractConfigError
from ._openai import AZURE_TWINS, AsyncImprovedOpenAIProvider, ImprovedOpenAIProvider, _client_options

__all__ = ["AsyncContractAzureOpenAI", "ContractAzureOpenAI"]

_AZURE_ROUTING = ("_azure_endpoint", "_azure_deployment")


def _azure_options(client: Any) -> dict[str, Any]:
    """Return the constructor options that recreate Azure ``client`` (sharing its HTTP client)."""
    if not isinstance(client, (openai.AzureOpenAI, openai.AsyncAzureOpenAI)):
        raise ContractConfigError(f"client= must be an openai.AzureOpenAI or openai.AsyncAzureOpenAI; "
                                  f"got {client!r}")
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


class ContractAzureOpenAI(ImprovedOpenAIProvider, openai.AzureOpenAI):  # type: ignore[misc]
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

    def __init__(self, *, client: openai.AzureOpenAI | None = None, **kwargs: Any) -> None:
        rebased = "base_url" in kwargs
        if client is not None:
            kwargs = {**_azure_options(client), **kwargs}
        super().__init__(**kwargs)
        if client is not None and not rebased:
            _keep_routing(self, client)


class AsyncContractAzureOpenAI(AsyncImprovedOpenAIProvider, openai.AsyncAzureOpenAI):  # type: ignore[misc]
    """``openai.AsyncAzureOpenAI`` with contracts; see :class:`ContractAzureOpenAI`."""

    def __init__(self, *, client: openai.AsyncAzureOpenAI | None = None, **kwargs: Any) -> None:
        rebased = "base_url" in kwargs
        if client is not None:
            kwargs = {**_azure_options(client), **kwargs}
        super().__init__(**kwargs)
        if client is not None and not rebased:
            _keep_routing(self, client)


AZURE_TWINS[ImprovedOpenAIProvider] = ContractAzureOpenAI
AZURE_TWINS[AsyncImprovedOpenAIProvider] = AsyncContractAzureOpenAI
