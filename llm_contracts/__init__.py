"""llm-contracts: Design by Contract for LLM APIs.

A drop-in ``openai`` client that checks preconditions on every request and
postconditions on every answer, re-asks the model to repair violations, and
reports what it found.
"""

from ._exceptions import ContractConfigError, ContractViolationError, LLMContractsError
from ._version import __version__
from .contracts import (
    AllOf,
    AnyOf,
    Category,
    ContentPolicyContract,
    Contract,
    Enforcement,
    FunctionContract,
    JSONFormatContract,
    KnownModelContract,
    LengthContract,
    LLMRequest,
    LLMResponse,
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
    ValidationContext,
    ValidationResult,
    count_tokens,
)
from .enforcement import CircuitBreaker, ContractReport, StreamPolicy, get_report
from .providers import (
    AsyncContractOpenAI,
    AsyncImprovedOpenAIProvider,
    ContractOpenAI,
    ImprovedOpenAIProvider,
)

__all__ = [
    "AllOf",
    "AnyOf",
    "AsyncContractOpenAI",
    "AsyncImprovedOpenAIProvider",
    "Category",
    "CircuitBreaker",
    "ContentPolicyContract",
    "Contract",
    "ContractConfigError",
    "ContractOpenAI",
    "ContractReport",
    "ContractViolationError",
    "Enforcement",
    "FunctionContract",
    "ImprovedOpenAIProvider",
    "JSONFormatContract",
    "KnownModelContract",
    "LLMContractsError",
    "LLMRequest",
    "LLMResponse",
    "LengthContract",
    "Not",
    "PIIContract",
    "PromptInjectionContract",
    "PromptLengthContract",
    "PydanticContract",
    "RefusalContract",
    "RegexContract",
    "RequestParametersContract",
    "ResponseTimeContract",
    "Severity",
    "StreamPolicy",
    "TokenBudgetContract",
    "ToolCallContract",
    "ValidationContext",
    "ValidationResult",
    "__version__",
    "count_tokens",
    "get_report",
]
