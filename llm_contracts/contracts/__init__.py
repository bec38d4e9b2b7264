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
from ._embedding import Embedder, OpenAIEmbedder, WordLlamaEmbedder
from ._input import (
    KnownModelContract,
    PromptInjectionContract,
    PromptLengthContract,
    RequestParametersContract,
)
from ._json import JSONFormatContract, PydanticContract, schema_from_file
from ._judge import JudgeContract, JudgeVerdict
from ._output import LengthContract, RefusalContract, RegexContract
from ._performance import ResponseTimeContract, TokenBudgetContract
from ._pii import PIIContract, find_pii, redact
from ._policy import ContentPolicyContract
from ._pricing import cost_usd
from ._semantic import RelevanceContract, SimilarityContract, TopicContract
from ._temporal import (
    AlwaysContract,
    EventuallyContract,
    Invariant,
    NeverContract,
    NextContract,
    TemporalContract,
    UntilContract,
)
from ._tokens import TokenCount, count_message_tokens, count_tokens
from ._tools import ToolCallContract
from ._types import (
    DROP,
    LLMRequest,
    LLMResponse,
    Message,
    ParamSpec,
    RequestEdit,
    RequestView,
    ResponseView,
    ToolCall,
    ToolDelta,
    ToolSpec,
    Usage,
)
from .composition import Conflict, ContractConflictError, Resolution, resolve

__all__ = [
    "AllOf",
    "AlwaysContract",
    "AnyOf",
    "Category",
    "Conflict",
    "ContentPolicyContract",
    "Contract",
    "ContractConflictError",
    "DROP",
    "Embedder",
    "Enforcement",
    "EventuallyContract",
    "FunctionContract",
    "Invariant",
    "JSONFormatContract",
    "JudgeContract",
    "JudgeVerdict",
    "KnownModelContract",
    "LLMRequest",
    "LLMResponse",
    "LengthContract",
    "Message",
    "NeverContract",
    "NextContract",
    "Not",
    "OpenAIEmbedder",
    "PIIContract",
    "ParamSpec",
    "PromptInjectionContract",
    "PromptLengthContract",
    "PydanticContract",
    "RefusalContract",
    "RegexContract",
    "RelevanceContract",
    "RequestEdit",
    "RequestParametersContract",
    "RequestView",
    "Resolution",
    "ResponseTimeContract",
    "ResponseView",
    "Severity",
    "SimilarityContract",
    "TemporalContract",
    "TokenBudgetContract",
    "TokenCount",
    "ToolCall",
    "ToolCallContract",
    "ToolDelta",
    "ToolSpec",
    "TopicContract",
    "UntilContract",
    "Usage",
    "ValidationContext",
    "ValidationResult",
    "WordLlamaEmbedder",
    "cost_usd",
    "count_message_tokens",
    "count_tokens",
    "find_pii",
    "redact",
    "resolve",
    "schema_from_file",
]
