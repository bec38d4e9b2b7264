"""llm-contracts: Design by Contract for LLM APIs.

Drop-in ``openai`` and ``anthropic`` clients that check preconditions on every request and
postconditions on every answer, re-asks the model to repair violations, and
reports what it found.
"""

from typing import TYPE_CHECKING

from ._exceptions import (
    ContractConfigError,
    ContractViolationError,
    LLMContractsError,
    ResponseFormatViolationError,
)
from ._lazy import lazy_exports
from ._version import __version__
from .contracts import (
    AllOf,
    AnyOf,
    Category,
    Contract,
    Enforcement,
    FunctionContract,
    LLMRequest,
    LLMResponse,
    Not,
    Severity,
    ValidationContext,
    ValidationResult,
)
from .enforcement import CircuitBreaker, ContractReport, StreamPolicy, get_report
from .providers import (
    AsyncContractOpenAI,
    AsyncImprovedOpenAIProvider,
    ContractOpenAI,
    ImprovedOpenAIProvider,
)
from .reporting import Reporter

if TYPE_CHECKING:
    from .contracts import (
        AlwaysContract,
        ContentPolicyContract,
        ContractConflictError,
        EventuallyContract,
        Invariant,
        JSONFormatContract,
        KnownModelContract,
        LengthContract,
        NeverContract,
        NextContract,
        PIIContract,
        PromptInjectionContract,
        PromptLengthContract,
        PydanticContract,
        RefusalContract,
        RegexContract,
        RequestParametersContract,
        ResponseTimeContract,
        TokenBudgetContract,
        ToolCallContract,
        UntilContract,
        count_tokens,
    )
    from .conversation import ConversationState, ConversationStateManager, Turn
    from .decorators import contract, invariant, post, pre
    from .experiments import experiment_context
    from .providers import AsyncContractAnthropic as AsyncContractAnthropic
    from .providers import AsyncContractAzureOpenAI as AsyncContractAzureOpenAI
    from .providers import AsyncContractCohere as AsyncContractCohere
    from .providers import ContractAnthropic as ContractAnthropic
    from .providers import ContractAzureOpenAI as ContractAzureOpenAI
    from .providers import ContractCohere as ContractCohere

# Imported on first use: the built-in contracts, conversations, decorators and experiments
# (so the client's import pays only for what it runs), the Anthropic and Cohere clients
# (they import their vendor SDK) and the Azure clients.
_LAZY = {
    **dict.fromkeys(
        (
            "AlwaysContract",
            "ContentPolicyContract",
            "ContractConflictError",
            "EventuallyContract",
            "Invariant",
            "JSONFormatContract",
            "KnownModelContract",
            "LengthContract",
            "NeverContract",
            "NextContract",
            "PIIContract",
            "PromptInjectionContract",
            "PromptLengthContract",
            "PydanticContract",
            "RefusalContract",
            "RegexContract",
            "RequestParametersContract",
            "ResponseTimeContract",
            "TokenBudgetContract",
            "ToolCallContract",
            "UntilContract",
            "count_tokens",
        ),
        ".contracts",
    ),
    **dict.fromkeys(("ConversationState", "ConversationStateManager", "Turn"), ".conversation"),
    **dict.fromkeys(("contract", "invariant", "post", "pre"), ".decorators"),
    "experiment_context": ".experiments",
    **dict.fromkeys(
        (
            "AsyncContractAnthropic",
            "AsyncContractAzureOpenAI",
            "AsyncContractCohere",
            "ContractAnthropic",
            "ContractAzureOpenAI",
            "ContractCohere",
        ),
        ".providers",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

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
    "ResponseFormatViolationError",
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
