"""llm-contracts: Design by Contract for LLM APIs.

Drop-in ``openai`` and ``anthropic`` clients that check preconditions on every request and
postconditions on every answer, re-asks the model to repair violations, and
reports what it found.
"""

from typing import TYPE_CHECKING, Any

from ._exceptions import ContractConfigError, ContractViolationError, LLMContractsError
from ._version import __version__
from .contracts import (
    AllOf,
    AlwaysContract,
    AnyOf,
    Category,
    ContentPolicyContract,
    Contract,
    ContractConflictError,
    Enforcement,
    EventuallyContract,
    FunctionContract,
    Invariant,
    JSONFormatContract,
    KnownModelContract,
    LengthContract,
    LLMRequest,
    LLMResponse,
    NeverContract,
    NextContract,
    Not,
    PIIContract,
    PromptInjectionContract,
    PromptLengthContract,
    PydanticContract,
    RefusalContract,
    RegexContract,
    RequestParametersContract,
    ResponseTimeContract,
    Severity,
    TokenBudgetContract,
    ToolCallContract,
    UntilContract,
    ValidationContext,
    ValidationResult,
    count_tokens,
)
from .conversation import ConversationState, ConversationStateManager, Turn
from .decorators import contract, invariant, post, pre
from .enforcement import CircuitBreaker, ContractReport, StreamPolicy, get_report
from .experiments import experiment_context
from .providers import (
    AsyncContractAzureOpenAI,
    AsyncContractOpenAI,
    AsyncImprovedOpenAIProvider,
    ContractAzureOpenAI,
    ContractOpenAI,
    ImprovedOpenAIProvider,
)
from .reporting import Reporter

if TYPE_CHECKING:
    from .providers._anthropic import AsyncContractAnthropic as AsyncContractAnthropic
    from .providers._anthropic import ContractAnthropic as ContractAnthropic
    from .providers._cohere import AsyncContractCohere as AsyncContractCohere
    from .providers._cohere import ContractCohere as ContractCohere

_LAZY = ("AsyncContractAnthropic", "AsyncContractCohere", "ContractAnthropic", "ContractCohere")


def __getattr__(name: str) -> Any:
    # The Anthropic and Cohere clients import their vendor SDK: only when first used.
    if name in _LAZY:
        from . import providers

        return getattr(providers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AllOf",
    "AlwaysContract",
    "AnyOf",
    "AsyncContractAzureOpenAI",
    "AsyncContractOpenAI",
    "AsyncImprovedOpenAIProvider",
    "Category",
    "CircuitBreaker",
    "ContentPolicyContract",
    "Contract",
    "ContractAzureOpenAI",
    "ContractConfigError",
    "ContractConflictError",
    "ContractOpenAI",
    "ContractReport",
    "ContractViolationError",
    "ConversationState",
    "ConversationStateManager",
    "Enforcement",
    "EventuallyContract",
    "FunctionContract",
    "ImprovedOpenAIProvider",
    "Invariant",
    "JSONFormatContract",
    "KnownModelContract",
    "LLMContractsError",
    "LLMRequest",
    "LLMResponse",
    "LengthContract",
    "NeverContract",
    "NextContract",
    "Not",
    "PIIContract",
    "PromptInjectionContract",
    "PromptLengthContract",
    "PydanticContract",
    "RefusalContract",
    "RegexContract",
    "Reporter",
    "RequestParametersContract",
    "ResponseTimeContract",
    "Severity",
    "StreamPolicy",
    "TokenBudgetContract",
    "ToolCallContract",
    "Turn",
    "UntilContract",
    "ValidationContext",
    "ValidationResult",
    "__version__",
    "contract",
    "count_tokens",
    "experiment_context",
    "get_report",
    "invariant",
    "post",
    "pre",
]
