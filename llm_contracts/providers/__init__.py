"""Drop-in clients of the provider SDKs with contracts enforced."""

from ._openai import AsyncImprovedOpenAIProvider, ImprovedOpenAIProvider

ContractOpenAI = ImprovedOpenAIProvider
AsyncContractOpenAI = AsyncImprovedOpenAIProvider

__all__ = ["AsyncContractOpenAI", "AsyncImprovedOpenAIProvider", "ContractOpenAI", "ImprovedOpenAIProvider"]
