"""The contract model and the built-in contracts.

The contract model is imported with the package; each built-in contract is imported on
first use, so a client that uses two contracts does not pay for thirty.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
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

if TYPE_CHECKING:
    from ._embedding import (
        Embedder,
        OpenAIEmbedder,
        WordLlamaEmbedder,
    )
    from ._input import (
        KnownModelContract,
        PromptInjectionContract,
        PromptLengthContract,
        RequestParametersContract,
    )
    from ._json import (
        JSONFormatContract,
        PydanticContract,
        schema_from_file,
    )
    from ._judge import (
        JudgeContract,
        JudgeVerdict,
    )
    from ._output import (
        LengthContract,
        RefusalContract,
        RegexContract,
    )
    from ._performance import (
        ResponseTimeContract,
        TokenBudgetContract,
    )
    from ._pii import (
        PIIContract,
        find_pii,
        redact,
    )
    from ._policy import (
        ContentPolicyContract,
    )
    from ._pricing import (
        cost_usd,
    )
    from ._semantic import (
        RelevanceContract,
        SimilarityContract,
        TopicContract,
    )
    from ._temporal import (
        AlwaysContract,
        EventuallyContract,
        Invariant,
        NeverContract,
        NextContract,
        TemporalContract,
        UntilContract,
    )
    from ._tokens import (
        TokenCount,
        count_message_tokens,
        count_tokens,
    )
    from ._tools import (
        ToolCallContract,
    )
    from .composition import (
        Conflict,
        ContractConflictError,
        Resolution,
        resolve,
    )

_LAZY = {
    "Embedder": "._embedding",
    "OpenAIEmbedder": "._embedding",
    "WordLlamaEmbedder": "._embedding",
    "KnownModelContract": "._input",
    "PromptInjectionContract": "._input",
    "PromptLengthContract": "._input",
    "RequestParametersContract": "._input",
    "JSONFormatContract": "._json",
    "PydanticContract": "._json",
    "schema_from_file": "._json",
    "JudgeContract": "._judge",
    "JudgeVerdict": "._judge",
    "LengthContract": "._output",
    "RefusalContract": "._output",
    "RegexContract": "._output",
    "ResponseTimeContract": "._performance",
    "TokenBudgetContract": "._performance",
    "PIIContract": "._pii",
    "find_pii": "._pii",
    "redact": "._pii",
    "ContentPolicyContract": "._policy",
    "cost_usd": "._pricing",
    "RelevanceContract": "._semantic",
    "SimilarityContract": "._semantic",
    "TopicContract": "._semantic",
    "AlwaysContract": "._temporal",
    "EventuallyContract": "._temporal",
    "Invariant": "._temporal",
    "NeverContract": "._temporal",
    "NextContract": "._temporal",
    "TemporalContract": "._temporal",
    "UntilContract": "._temporal",
    "TokenCount": "._tokens",
    "count_message_tokens": "._tokens",
    "count_tokens": "._tokens",
    "ToolCallContract": "._tools",
    "Conflict": ".composition",
    "ContractConflictError": ".composition",
    "Resolution": ".composition",
    "resolve": ".composition",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

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
