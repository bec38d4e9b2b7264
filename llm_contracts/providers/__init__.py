"""Drop-in clients of the provider SDKs with contracts enforced."""

from ._azure import AsyncContractAzureOpenAI, ContractAzureOpenAI
from ._openai import AsyncImprovedOpenAIProvider, ImprovedOpenAIProvider

ContractOpenAI = ImprovedOpenAIProvider
AsyncContractOpenAI = AsyncImprovedOpenAIProvider

__all__ = [
    "AsyncContractAzureOpenAI",
    "AsyncContractOpenAI",
    "AsyncImprovedOpenAIProvider",
    "ContractAzureOpenAI",
    "ContractOpenAI",
    "ImprovedOpenAIProvider",
]
