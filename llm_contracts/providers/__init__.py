"""Drop-in clients of the provider SDKs with contracts enforced, and the provider registry.

``ContractAnthropic`` / ``AsyncContractAnthropic`` and ``ContractCohere`` /
``AsyncContractCohere`` are imported (with ``anthropic`` / ``cohere``) only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._azure import AsyncContractAzureOpenAI, ContractAzureOpenAI
from ._openai import AsyncImprovedOpenAIProvider, ImprovedOpenAIProvider
from ._registry import (
    ProviderSpec,
    Route,
    broken_plugins,
    discover,
    get_provider,
    provider_names,
    register,
)
from ._specs import ANTHROPIC, COHERE, OPENAI

if TYPE_CHECKING:
    from ._anthropic import AsyncContractAnthropic as AsyncContractAnthropic
    from ._anthropic import ContractAnthropic as ContractAnthropic
    from ._cohere import AsyncContractCohere as AsyncContractCohere
    from ._cohere import ContractCohere as ContractCohere

ContractOpenAI = ImprovedOpenAIProvider
AsyncContractOpenAI = AsyncImprovedOpenAIProvider

register(OPENAI)
register(ANTHROPIC)
register(COHERE)

# The clients of a vendor SDK that is not a dependency: imported on first use.
_LAZY_CLIENTS = {
    "ContractAnthropic": ANTHROPIC,
    "AsyncContractAnthropic": ANTHROPIC,
    "ContractCohere": COHERE,
    "AsyncContractCohere": COHERE,
}


def __getattr__(name: str) -> Any:
    spec = _LAZY_CLIENTS.get(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return spec.client(name)


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
