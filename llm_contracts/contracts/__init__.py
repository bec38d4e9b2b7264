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
from ._json import JSONFormatContract, PydanticContract, schema_from_file
from ._output import LengthContract, RefusalContract, RegexContract
from ._performance import ResponseTimeContract, TokenBudgetContract
from ._pricing import cost_usd
from ._tools import ToolCallContract
from ._types import LLMRequest, LLMResponse, Message, ToolCall, ToolSpec, Usage

__all__ = [
    "AllOf",
    "AnyOf",
    "Category",
    "Contract",
    "Enforcement",
    "FunctionContract",
    "JSONFormatContract",
    "LLMRequest",
    "LLMResponse",
    "LengthContract",
    "Message",
    "Not",
    "PydanticContract",
    "RefusalContract",
    "RegexContract",
    "ResponseTimeContract",
    "Severity",
    "TokenBudgetContract",
    "ToolCall",
    "ToolCallContract",
    "ToolSpec",
    "Usage",
    "ValidationContext",
    "ValidationResult",
    "cost_usd",
    "schema_from_file",
]
