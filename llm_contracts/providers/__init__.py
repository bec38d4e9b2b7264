"""Drop-in clients of the provider SDKs with contracts enforced, and the provider registry.

``ContractAnthropic`` / ``AsyncContractAnthropic`` and ``ContractCohere`` /
``AsyncContractCohere`` are imported (with ``anthropic`` / ``cohere``) only when first used,
and so are the Azure clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._openai import AsyncImprovedOpenAIProvider, ImprovedOpenAIProvider
from ._registry import (
    ProviderSpec,
    Route,
    broken_plugins,
    discover,
    get_provider,
    provider_names,
    register,
    register_built_ins,
)

if TYPE_CHECKING:
    from ._anthropic import AsyncContractAnthropic as AsyncContractAnthropic
    from ._anthropic import ContractAnthropic as ContractAnthropic
    from ._azure import AsyncContractAzureOpenAI as AsyncContractAzureOpenAI
    from ._azure import ContractAzureOpenAI as ContractAzureOpenAI
    from ._cohere import AsyncContractCohere as AsyncContractCohere
    from ._cohere import ContractCohere as ContractCohere

ContractOpenAI = ImprovedOpenAIProvider
AsyncContractOpenAI = AsyncImprovedOpenAIProvider


def _built_ins() -> tuple[ProviderSpec, ...]:
    from ._specs import ANTHROPIC, COHERE, OPENAI

    return OPENAI, ANTHROPIC, COHERE


# The built-in providers are registered when the registry is first used: their specs (the
# Anthropic and Cohere views, the models' limits) are not needed to build or call a client.
register_built_ins(_built_ins)

# The clients of a vendor SDK that is not a dependency, and the Azure clients: imported on first use.
_LAZY_CLIENTS = {
    "ContractAzureOpenAI": "OPENAI",
    "AsyncContractAzureOpenAI": "OPENAI",
    "ContractAnthropic": "ANTHROPIC",
    "AsyncContractAnthropic": "ANTHROPIC",
    "ContractCohere": "COHERE",
    "AsyncContractCohere": "COHERE",
}


def __getattr__(name: str) -> Any:
    spec = _LAZY_CLIENTS.get(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _specs

    return getattr(_specs, spec).client(name)


__all__ = [
    "AsyncContractAzureOpenAI",
    "AsyncContractOpenAI",
    "AsyncImprovedOpenAIProvider",
    "ContractAzureOpenAI",
    "ContractOpenAI",
    "ImprovedOpenAIProvider",
    "ProviderSpec",
    "Route",
    "broken_plugins",
    "discover",
    "get_provider",
    "provider_names",
    "register",
]
