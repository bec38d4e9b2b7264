"""The Anthropic and Cohere views read their common shapes on short paths: the same views as the long ones.

Anthropic's answers are its pydantic models (read by attribute), a raw call's answer is
the plain JSON (read by key); Cohere's HTTP layer judges the JSON it reads, cohere's own
models take the other path. A text turn given as a string reads like the same text in a
text block. Each pair must give contracts the same view.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import astuple
from typing import Any

import pytest

from llm_contracts import ContractCohere, RegexContract, get_report
from llm_contracts.contracts._types import LLMResponse

from .cohere_fake import MODEL as COHERE_MODEL
from .cohere_fake import FakeCohere, text

anthropic = pytest.importorskip("anthropic")
cohere = pytest.importorskip("cohere")

from llm_contracts.providers._anthropic_views import MESSAGES, MESSAGES_RESPONSES  # noqa: E402
from llm_contracts.providers._cohere_views import CHAT, CHAT_RESPONSES  # noqa: E402


class Frozen(Mapping[str, Any]):
    """A read-only Mapping that is not a dict: the views' general path reads it."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        # A tool call's input stays a dict: it is written out as JSON text as it is.
        self._data = {k: v if k == "input" else freeze(v) for k, v in data.items()}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return Frozen(value)
    if isinstance(value, list):
        return [freeze(v) for v in value]
    return value


def view(response: LLMResponse) -> tuple[Any, ...]:
    """Everything contracts see of an answer but the provider's own object."""
    return (
        response.text,
        response.model,
        [astuple(c) for c in response.tool_calls],
        response.finish_reason,
        response.refusal,
        None if response.usage is None else astuple(response.usage),
        response.latency_s,
    )


# -- Anthropic ----------------------------------------------------------------------------------------

ANTHROPIC_ANSWERS: list[dict[str, Any]] = [
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Plain answer.", "citations": None}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 4},
    },
    {
        "id": "msg_2",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
            {"type": "text", "text": "First part, ", "citations": None},
            {"type": "text", "text": "second part.", "citations": None},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "output_tokens": 9,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 7,
        },
    },
    {
        "id": "msg_3",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": "refusal",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 0},
    },
]


@pytest.mark.parametrize("answer", ANTHROPIC_ANSWERS, ids=["text", "tools-thinking-cache", "refusal"])
def test_an_anthropic_model_reads_as_its_json_does(answer: dict[str, Any]) -> None:
    from anthropic._models import construct_type
    from anthropic.types import Message

    model = construct_type(type_=Message, value=answer)

    by_attribute = MESSAGES_RESPONSES.choices(model, 0.25)
    by_key = MESSAGES_RESPONSES.choices(json.loads(json.dumps(answer)), 0.25)
    by_mapping = MESSAGES_RESPONSES.choices(freeze(answer), 0.25)

    assert [view(r) for r in by_attribute] == [view(r) for r in by_key] == [view(r) for r in by_mapping]
    assert by_attribute[0].raw is model


def test_an_anthropic_answer_mixing_models_and_dicts_reads_each_block_its_way() -> None:
    from anthropic.types import TextBlock

    answer = {
        "model": "claude-sonnet-4-5",
        "content": [
            TextBlock(type="text", text="From a model. "),
            {"type": "text", "text": "From a dict."},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }

    (read,) = MESSAGES_RESPONSES.choices(answer, None)

    assert read.text == "From a model. From a dict."
    assert [astuple(c) for c in read.tool_calls] == [("f", '{"a": 1}', "t1")]


ANTHROPIC_BODIES: list[dict[str, Any]] = [
    {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "What is the weather?"},
            {"role": "assistant", "content": "Which city?"},
            {"role": "user", "content": "Oslo."},
        ],
    },
    {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "temperature": 0.2,
        "top_k": 5,
        "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
                    },
                    {"type": "text", "text": "What city is this?"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny."}],
            },
            {"role": "user", "content": "Thanks."},
        ],
    },
]


def request_view(request: Any) -> tuple[Any, ...]:
    """Everything contracts see of a request but its body."""
    return (
        request.model,
        [astuple(m) for m in request.messages],
        request.params,
        list(request.params),  # in the same order too
        [astuple(t) for t in request.tools],
        request.provider,
        request.endpoint,
    )


@pytest.mark.parametrize("body", ANTHROPIC_BODIES, ids=["text-turns", "blocks-tools-images"])
def test_an_anthropic_body_reads_as_the_same_body_as_a_mapping(body: dict[str, Any]) -> None:
    assert request_view(MESSAGES.read(body)) == request_view(MESSAGES.read(freeze(body)))


def test_an_anthropic_text_turn_reads_as_the_same_text_in_a_text_block() -> None:
    body = ANTHROPIC_BODIES[0]
    blocks = {
        **body,
        "messages": [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in body["messages"]],
    }

    assert request_view(MESSAGES.read(body)) == request_view(MESSAGES.read(blocks))


def test_an_anthropic_body_reads_its_parameters_in_one_order() -> None:
    body = {"temperature": 0.5, "model": "m", "max_tokens": 9, "messages": [], "top_p": 0.9}

    assert list(MESSAGES.read(body).params) == ["temperature", "top_p", "max_tokens"]
    assert MESSAGES.read({"model": "m", "messages": []}).params == {}


# -- Cohere -------------------------------------------------------------------------------------------

COHERE_ANSWERS: list[dict[str, Any]] = [
    {
        "id": "c1",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Plain answer."}]},
        "usage": {
            "billed_units": {"input_tokens": 10, "output_tokens": 3},
            "tokens": {"input_tokens": 12, "output_tokens": 3},
        },
    },
    {
        "id": "c2",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Hmm."},
                {"type": "text", "text": "One, "},
                {"type": "text", "text": "two."},
            ],
            "tool_plan": "I will call the tools.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"a":1}'},
                },
            ],
        },
        "usage": {"billed_units": {"input_tokens": 4, "output_tokens": 2}},
    },
    {"id": "c3", "finish_reason": "ERROR", "message": {"role": "assistant"}},
]


@pytest.mark.parametrize("answer", COHERE_ANSWERS, ids=["text", "tools-thinking", "empty"])
def test_cohere_json_reads_as_coheres_own_model_does(answer: dict[str, Any]) -> None:
    from cohere.core.unchecked_base_model import construct_type

    model = construct_type(type_=cohere.V2ChatResponse, object_=answer)

    by_key = CHAT_RESPONSES.choices(json.loads(json.dumps(answer)), 0.5)
    by_attribute = CHAT_RESPONSES.choices(model, 0.5)
    by_mapping = CHAT_RESPONSES.choices(freeze(answer), 0.5)

    assert [view(r) for r in by_key] == [view(r) for r in by_attribute] == [view(r) for r in by_mapping]


COHERE_BODY: dict[str, Any] = {
    "model": COHERE_MODEL,
    "temperature": 0.3,
    "max_tokens": 100,
    "stream": False,
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        },
        {
            "role": "assistant",
            "tool_plan": "Look it up.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": [{"type": "document", "document": {"data": "x"}}],
        },
        {"role": "user", "content": "Thanks."},
    ],
}


def test_a_cohere_body_reads_as_the_same_body_as_a_mapping() -> None:
    plain = CHAT.read(COHERE_BODY)

    assert request_view(plain) == request_view(CHAT.read(freeze(COHERE_BODY)))
    assert list(plain.params) == ["temperature", "max_tokens"]
    assert CHAT.read({"model": COHERE_MODEL, "messages": []}).params == {}


def test_a_cohere_answer_judged_on_its_json_still_parses_afresh_for_the_caller() -> None:
    fake = FakeCohere(text("Ticket ABC-1 is open."))
    c = ContractCohere(
        api_key="k",
        httpx_client=fake.http_client(),
        max_retries=0,
        output_contracts=[RegexContract(r"ABC-\d+")],
    )

    raw = c.with_raw_response.chat(model=COHERE_MODEL, messages=[{"role": "user", "content": "Hi"}])

    assert raw.data.message.content[0].text == "Ticket ABC-1 is open."
    assert get_report(raw.data) is None or get_report(raw.data).outcome == "passed"
    assert c.last_report.outcome == "passed"
    # The HTTP answer's own json() reads its body, each call a new object, as httpx's does.
    first, second = raw._response.json(), raw._response.json()
    assert first == second == json.loads(raw._response.content)
    assert first is not second
    assert first["message"]["content"][0]["text"] == "Ticket ABC-1 is open."


# -- Cohere's HTTP layer: the one spelling out cohere's keywords, and the general one ------------------


def test_the_spelled_out_layer_is_used_only_for_the_signature_it_repeats() -> None:
    from cohere.core.http_client import HttpClient

    from llm_contracts.providers import _cohere

    def other(self: Any, path: Any = None, *, method: str, json: Any = None, retries: int = 0) -> None: ...

    assert _cohere._spelled_out(HttpClient.request) is (_cohere._SYNC_LAYER is _cohere._SpelledOutHttpClient)
    assert not _cohere._spelled_out(other)


def _calls(layer: type[Any] | None) -> list[Any]:
    """Make the same calls through a client using ``layer``; return what cohere sent and what came back."""
    from llm_contracts.providers import _cohere

    out: list[Any] = []
    for contracts in ([], [RegexContract(r"ABC-\d+")]):
        fake = FakeCohere(text("Ticket ABC-1."), text("Ticket ABC-2."))
        c = ContractCohere(
            api_key="k", httpx_client=fake.http_client(), max_retries=0, output_contracts=contracts
        )
        if layer is not None:
            _cohere._install(c, layer)
        answer = c.chat(model=COHERE_MODEL, messages=[{"role": "user", "content": "Hi"}], temperature=0.1)
        raw = c.with_raw_response.chat(model=COHERE_MODEL, messages=[{"role": "user", "content": "Again"}])
        report, raw_report = get_report(answer), c.last_report
        out.append(
            (
                fake.bodies,
                answer.message.content[0].text,
                raw.data.message.content[0].text,
                (report.outcome, report.provider, report.endpoint, report.model, len(report.results)),
                (raw_report.outcome, raw_report.model, len(raw_report.results)),
            )
        )
    return out


def test_the_general_layer_sends_and_reports_as_the_spelled_out_one() -> None:
    from llm_contracts.providers import _cohere

    assert _calls(_cohere._ContractHttpClient) == _calls(None)
