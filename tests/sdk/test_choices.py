"""Calls with several choices (``n > 1``): every choice is judged; a violation re-asks the whole call."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pydantic
import pytest

from llm_contracts import AsyncContractOpenAI, ContractOpenAI, ContractViolationError, get_report
from llm_contracts.contracts import JSONFormatContract
from llm_contracts.testing import http_module

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer in JSON."}]


class ChoicesServer:
    """A chat endpoint that answers each request with the next list of choice texts."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = deque(answers)
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: Any) -> Any:
        body = json.loads(request.content)
        self.requests.append(body)
        texts = self.answers.popleft()
        assert len(texts) == body.get("n", 1)
        if request.url.path.endswith("/v1/completions"):  # the legacy text completions
            return http_module().Response(
                200,
                json={
                    "id": "cmpl-1",
                    "object": "text_completion",
                    "created": 0,
                    "model": MODEL,
                    "choices": [
                        {"index": i, "text": text, "finish_reason": "stop", "logprobs": None}
                        for i, text in enumerate(texts)
                    ],
                },
            )
        return http_module().Response(
            200,
            json={
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": MODEL,
                "choices": [
                    {
                        "index": i,
                        "finish_reason": "stop",
                        "logprobs": None,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                    }
                    for i, text in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    def client(self, **kwargs: Any) -> ContractOpenAI:
        http = http_module()
        return ContractOpenAI(
            api_key="test-key",
            max_retries=0,
            http_client=http.Client(transport=http.MockTransport(self.handler)),
            **kwargs,
        )

    def async_client(self, **kwargs: Any) -> AsyncContractOpenAI:
        http = http_module()

        async def handler(request: Any) -> Any:
            await request.aread()
            return self.handler(request)

        http_client = http.AsyncClient(transport=http.MockTransport(handler))
        return AsyncContractOpenAI(api_key="test-key", max_retries=0, http_client=http_client, **kwargs)


def test_a_bad_second_choice_is_a_violation_with_a_verdict_per_choice():
    server = ChoicesServer(['{"a": 1}', "NOT JSON", '{"c": 3}'])
    client = server.client(output_contracts=[JSONFormatContract()])

    with pytest.raises(ContractViolationError) as caught:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, n=3)

    report = caught.value.report
    assert report.outcome == "violated"
    assert [[r.is_valid for r in verdicts] for verdicts in report.choice_results] == [[True], [False], [True]]
    assert report.attempts[0].choices_passed == [True, False, True]


def test_a_violation_in_any_choice_re_asks_the_whole_call():
    server = ChoicesServer(['{"a": 1}', "NOT JSON"], ['{"a": 2}', '{"b": 2}'])
    client = server.client(output_contracts=[JSONFormatContract()], contract_retries=1)

    reply = client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2)

    assert [c.message.content for c in reply.choices] == ['{"a": 2}', '{"b": 2}']
    report = get_report(reply)
    assert report.outcome == "repaired"
    assert report.attempts[0].choices_passed == [True, False]
    assert report.attempts[1].choices_passed == [True, True]
    # One re-ask for the whole call, n unchanged, quoting the failing choice only.
    assert len(server.requests) == 2
    again = server.requests[1]
    assert again["n"] == 2
    assert again["messages"][-2] == {"role": "assistant", "content": "NOT JSON"}
    feedback = again["messages"][-1]["content"]
    assert "choice 1: " in feedback and '"NOT JSON"' in feedback
    assert "choice 0" not in feedback


def test_a_single_choice_report_has_one_verdict_list():
    server = ChoicesServer(['{"a": 1}'])
    client = server.client(output_contracts=[JSONFormatContract()])

    reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)

    report = get_report(reply)
    assert len(report.choice_results) == 1 and report.choice_results[0][0].is_valid
    assert report.attempts[0].choice_results == []


class Answer(pydantic.BaseModel):
    answer: str


def test_parse_judges_every_choice_against_the_response_format():
    server = ChoicesServer(['{"answer": "x"}', '{"wrong": 1}'], ['{"answer": "x"}', '{"answer": "y"}'])
    client = server.client(contract_retries=1)

    reply = client.chat.completions.parse(model=MODEL, messages=MESSAGES, response_format=Answer, n=2)

    assert [c.message.parsed for c in reply.choices] == [Answer(answer="x"), Answer(answer="y")]
    first = get_report(reply).attempts[0]
    assert first.choices_passed == [True, False]
    assert first.choice_results[1][0].contract_name == "response_format"


async def test_the_async_client_judges_every_choice_too():
    server = ChoicesServer(['{"a": 1}', "NOT JSON"])
    client = server.async_client(output_contracts=[JSONFormatContract()])

    with pytest.raises(ContractViolationError) as caught:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2)

    assert caught.value.report.attempts[0].choices_passed == [True, False]


def test_a_fallback_answers_in_every_choice():
    server = ChoicesServer(['{"a": 1}', "NOT JSON"])
    client = server.client(output_contracts=[JSONFormatContract()], fallback="{}")

    reply = client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2)

    assert get_report(reply).outcome == "fallback"
    assert [(c.index, c.message.content) for c in reply.choices] == [(0, "{}"), (1, "{}")]


def test_the_legacy_completions_judge_every_choice_too():
    server = ChoicesServer(['{"a": 1}', "NOT JSON"])
    client = server.client(output_contracts=[JSONFormatContract()])

    with pytest.raises(ContractViolationError) as caught:
        client.completions.create(model=MODEL, prompt="Answer in JSON.", n=2)

    assert caught.value.report.attempts[0].choices_passed == [True, False]
