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
    "LLMContractsError",
    "LLMRequest",
    "LLMResponse",
    "Not",
    "Severity",
    "StreamPolicy",
    "ValidationContext",
    "ValidationResult",
    "__version__",
    "get_report",
]
