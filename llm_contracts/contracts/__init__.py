"""The contract model and the built-in contracts."""

from ._base import (
    AllOf,
    AnyOf,
    Category,
    Contract,
    Enforcement,
    FunctionContract,
    Not,
    Severity,
    ValidationContext,
    ValidationResult,
)
from ._types import LLMRequest, LLMResponse, Message, ToolCall, ToolSpec, Usage

__all__ = [
    "AllOf",
    "AnyOf",
    "Category",
    "Contract",
    "Enforcement",
    "FunctionContract",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "Not",
    "Severity",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "ValidationContext",
    "ValidationResult",
]
