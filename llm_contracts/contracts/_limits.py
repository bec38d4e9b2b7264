"""The published limits of OpenAI's models, kept apart from token counting so the provider
registry reads them without importing the tokenizer's tables.
"""

from __future__ import annotations

from .._dataclass import dataclass

__all__ = ["KNOWN_MODELS", "ModelLimits"]


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """What a model accepts: its context window, its largest answer, whether it reasons."""

    context_window: int
    max_output_tokens: int
    reasoning: bool = False


_O_SERIES = ModelLimits(200_000, 100_000, reasoning=True)
_GPT5 = ModelLimits(400_000, 128_000, reasoning=True)
_GPT41 = ModelLimits(1_047_576, 32_768)
_GPT4O = ModelLimits(128_000, 16_384)
_GPT4_TURBO = ModelLimits(128_000, 4_096)

# Published limits of OpenAI's models (platform.openai.com/docs/models).
KNOWN_MODELS: dict[str, ModelLimits] = {
    "gpt-5": _GPT5,
    "gpt-5-mini": _GPT5,
    "gpt-5-nano": _GPT5,
    "gpt-5-chat-latest": ModelLimits(128_000, 16_384),
    "gpt-4.1": _GPT41,
    "gpt-4.1-mini": _GPT41,
    "gpt-4.1-nano": _GPT41,
    "gpt-4.5-preview": _GPT4O,
    "gpt-4o": _GPT4O,
    "gpt-4o-mini": _GPT4O,
    "chatgpt-4o-latest": _GPT4O,
    "gpt-4-turbo": _GPT4_TURBO,
    "gpt-4-turbo-preview": _GPT4_TURBO,
    "gpt-4-1106-preview": _GPT4_TURBO,
    "gpt-4-0125-preview": _GPT4_TURBO,
    "gpt-4": ModelLimits(8_192, 8_192),
    "gpt-4-32k": ModelLimits(32_768, 8_192),
    "gpt-3.5-turbo": ModelLimits(16_385, 4_096),
    "gpt-3.5-turbo-instruct": ModelLimits(4_096, 4_096),
    "o1": _O_SERIES,
    "o1-pro": _O_SERIES,
    "o1-mini": ModelLimits(128_000, 65_536, reasoning=True),
    "o3": _O_SERIES,
    "o3-pro": _O_SERIES,
    "o3-mini": _O_SERIES,
    "o4-mini": _O_SERIES,
}
