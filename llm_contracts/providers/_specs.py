"""The specs of the built-in providers, registered when the provider registry is first used.

Each names its clients by import path, so a vendor SDK is imported only when one of its
clients is first used.
"""

from __future__ import annotations

from ..contracts._limits import KNOWN_MODELS
from ._anthropic_views import MESSAGES, MESSAGES_RESPONSES, MODELS
from ._cohere_views import CHAT, CHAT_RESPONSES
from ._cohere_views import MODELS as COHERE_MODELS
from ._openai_routes import ROUTES
from ._registry import ProviderSpec, Route

__all__ = ["ANTHROPIC", "COHERE", "OPENAI"]

OPENAI = ProviderSpec(
    name="openai",
    routes=ROUTES,
    clients={
        "ContractOpenAI": "llm_contracts.providers._openai:ImprovedOpenAIProvider",
        "AsyncContractOpenAI": "llm_contracts.providers._openai:AsyncImprovedOpenAIProvider",
        "ContractAzureOpenAI": "llm_contracts.providers._azure:ContractAzureOpenAI",
        "AsyncContractAzureOpenAI": "llm_contracts.providers._azure:AsyncContractAzureOpenAI",
    },
    models=KNOWN_MODELS,
    requires="openai",
)

ANTHROPIC = ProviderSpec(
    name="anthropic",
    routes={"/v1/messages": Route("/v1/messages", MESSAGES, MESSAGES_RESPONSES)},
    clients={
        "ContractAnthropic": "llm_contracts.providers._anthropic:ContractAnthropic",
        "AsyncContractAnthropic": "llm_contracts.providers._anthropic:AsyncContractAnthropic",
    },
    models=MODELS,
    requires="anthropic",
    answers={
        "anthropic.types.message:Message": "/v1/messages",
        "anthropic.types.beta.beta_message:BetaMessage": "/v1/messages",
    },
)

# cohere's HTTP layer is given the path without its leading slash ("v2/chat").
COHERE = ProviderSpec(
    name="cohere",
    routes={"v2/chat": Route("/v2/chat", CHAT, CHAT_RESPONSES)},
    clients={
        "ContractCohere": "llm_contracts.providers._cohere:ContractCohere",
        "AsyncContractCohere": "llm_contracts.providers._cohere:AsyncContractCohere",
    },
    models=COHERE_MODELS,
    requires="cohere",
    answers={"cohere.v2.types.v2chat_response:V2ChatResponse": "v2/chat"},
)
