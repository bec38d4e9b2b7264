"""What every scenario shares: the answer model, prebuilt wire responses and a lean transport.

Every client in the benchmark talks to the same kind of mock transport, whose handler
only wraps prebuilt bytes in a response, so the transport costs the same for every
scenario and the differences measured are the clients' own.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, Literal

import openai
from pydantic import BaseModel, Field

from llm_contracts.testing._fake import http_module

MODEL = "gpt-4o-mini"
BASE_URL = "http://bench.invalid/v1"
STREAM_CHUNKS = 200


class Ticket(BaseModel):
    """The answer every validating scenario expects."""

    title: str
    priority: Literal["low", "medium", "high"]
    tags: list[str]
    estimate_hours: int = Field(ge=0)


# The same rules as ``Ticket``, written as JSON Schema for JSONFormatContract.
TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "priority": {"enum": ["low", "medium", "high"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "estimate_hours": {"type": "integer", "minimum": 0},
    },
    "required": ["title", "priority", "tags", "estimate_hours"],
}

# The valid answer matches it; so does the invalid one (its fault is the schema).
TICKET_PATTERN = r'"priority":\s*"(?:low|medium|high)"'

VALID_ANSWER = json.dumps(
    {
        "title": "Login page times out after password reset",
        "priority": "high",
        "tags": ["auth", "frontend", "regression"],
        "estimate_hours": 6,
    }
)
INVALID_ANSWER = json.dumps(
    {
        "title": "Login page times out after password reset",
        "priority": "high",
        "tags": ["auth", "frontend", "regression"],
        "estimate_hours": "six",
    }
)

MESSAGES: list[Any] = [
    {
        "role": "system",
        "content": "You turn bug reports into JSON tickets with the fields title, "
        "priority (low, medium or high), tags and estimate_hours.",
    },
    {
        "role": "user",
        "content": "After I reset my password the login page spins for a minute and then "
        "shows a timeout. It worked last week. Chrome and Firefox both do it.",
    },
]

# A streamed answer must not contain this (a streaming check with must_match=False).
FORBIDDEN_PATTERN = r"(?i)\b(?:password|api[_ ]key)\s*[:=]"


def _completion(content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                }
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
        }
    ).encode()


STREAM_TEXT = (
    "the ticket describes a login timeout that started after the last release and "
    "affects every browser the reporter tried so the fix should start at the session "
    "service where the reset flow changed"
)
STREAM_WORDS = STREAM_TEXT.split()


def stream_pieces(chunks: int = STREAM_CHUNKS) -> list[str]:
    """Return the text of each streamed chunk: one word (with its leading space) per chunk."""
    return [(" " if i else "") + STREAM_WORDS[i % len(STREAM_WORDS)] for i in range(chunks)]


def _sse(pieces: list[str]) -> bytes:
    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    parts = [event({"role": "assistant", "content": ""})]
    parts += [event({"content": piece}) for piece in pieces]
    parts.append(event({}, "stop"))
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


VALID_BODY = _completion(VALID_ANSWER)
INVALID_BODY = _completion(INVALID_ANSWER)
STREAM_BODY = _sse(stream_pieces())
_JSON = [("content-type", "application/json")]
_SSE = [("content-type", "text/event-stream")]
# A re-ask carries the rejected answer back as an assistant message; a first ask has none.
_REASK_MARKERS = (b'"role":"assistant"', b'"role": "assistant"')


class Transport:
    """Lean mock transport handlers; ``requests`` counts what reached them."""

    def __init__(self) -> None:
        self.requests = 0

    def valid(self, request: Any) -> Any:
        self.requests += 1
        return http_module().Response(200, headers=_JSON, content=VALID_BODY)

    def invalid_then_valid(self, request: Any) -> Any:
        self.requests += 1
        content = request.content
        reask = any(marker in content for marker in _REASK_MARKERS)
        return http_module().Response(200, headers=_JSON, content=VALID_BODY if reask else INVALID_BODY)

    def stream(self, request: Any) -> Any:
        self.requests += 1
        return http_module().Response(200, headers=_SSE, content=STREAM_BODY)


def client_options(handler: Callable[[Any], Any]) -> dict[str, Any]:
    """Return the openai constructor options of a client served by ``handler``."""
    http = http_module()
    return {
        "api_key": "bench",
        "base_url": BASE_URL,
        "max_retries": 0,
        "http_client": http.Client(transport=http.MockTransport(handler)),
    }


def raw_client(handler: Callable[[Any], Any]) -> openai.OpenAI:
    return openai.OpenAI(**client_options(handler))


# -- text for the token counting scenarios ------------------------------------------------

_VOCAB_TEXT = (
    "the of and to in is that for it as with was on be by this are from at or an have not but "
    "which you all were they their one has more been will can about there also when its would "
    "into only other some time than these two may first then do any like could such our new "
    "after most over what where request response model token prompt contract answer schema "
    "validate retry stream latency budget user system message session login service timeout "
    "release browser reset password config cache queue worker error warning ticket priority "
    "deploy rollback metric health report chunk buffer limit count encode decode parse field "
    "value string integer array object number boolean null true false python django openai "
    "customer invoice payment refund shipping address order product price discount account "
    "because however therefore although whether between through during without within against"
)
_VOCAB = _VOCAB_TEXT.split()
_PUNCT = (".", ",", ".", "?", ":", ";", "!", " -")


def words_text(rng: random.Random, words: int) -> str:
    """Return prose-like text of ``words`` words with punctuation and numbers mixed in."""
    out = []
    for i in range(words):
        word = rng.choice(_VOCAB)
        roll = rng.random()
        if roll < 0.04:
            word = str(rng.randrange(10, 100_000))
        elif roll < 0.10:
            word = word.capitalize()
        out.append(word)
        if rng.random() < 0.08:
            out[-1] += rng.choice(_PUNCT)
        if i and rng.random() < 0.01:
            out[-1] += "\n\n"
    return " ".join(out)
