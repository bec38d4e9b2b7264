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
    Contract,
    Enforcement,
    FunctionContract,
    JSONFormatContract,
    LengthContract,
    LLMRequest,
    LLMResponse,
    Not,
    PydanticContract,
    RefusalContract,
    RegexContract,
    ResponseTimeContract,
    Severity,
    TokenBudgetContract,
    ToolCallContract,
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

__all__ = [
    "AllOf",
    "AnyOf",
    "AsyncContractOpenAI",
    "AsyncImprovedOpenAIProvider",
    "Category",
    "CircuitBreaker",
    "Contract",
    "ContractConfigError",
    "ContractOpenAI",
    "ContractReport",
    "ContractViolationError",
    "Enforcement",
    "FunctionContract",
    "ImprovedOpenAIProvider",
    "JSONFormatContract",
    "LLMContractsError",
    "LLMRequest",
    "LLMResponse",
    "LengthContract",
    "Not",
    "PydanticContract",
    "RefusalContract",
    "RegexContract",
    "ResponseTimeContract",
    "Severity",
    "StreamPolicy",
    "TokenBudgetContract",
    "ToolCallContract",
    "ValidationContext",
    "ValidationResult",
    "__version__",
    "get_report",
]
