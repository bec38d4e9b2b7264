"""JudgeContract: a model grades the answer; budgets, cache, failure modes, no recursion, usage apart."""

from __future__ import annotations

import json

import pytest

from llm_contracts import (
    AsyncContractOpenAI,
    ContractConfigError,
    ContractOpenAI,
    ContractViolationError,
    FunctionContract,
    get_report,
)
from llm_contracts.contracts import JudgeContract, LLMResponse
from llm_contracts.testing import FakeLLM, FakeReply

MODEL = "gpt-4o-mini"
QUESTION = [{"role": "user", "content": "Where is my parcel?"}]
POLITE = "Thank you for waiting! Your parcel arrives on Friday."
RUDE = "Read the tracking page yourself."


def verdict(score: float, reason: str = "") -> str:
    return json.dumps({"score": score, "reason": reason})


def _app(fake: FakeLLM, *contracts, **kwargs) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="test-key",
        http_client=fake.http_client(),
        max_retries=0,
        output_contracts=list(contracts),
        **kwargs,
    )


@pytest.fixture
def judge_fake() -> FakeLLM:
    return FakeLLM(default=verdict(0.9, "polite and clear"), model="gpt-4o-mini")


@pytest.fixture
def judge(judge_fake):
    return ContractOpenAI(api_key="test-key", http_client=judge_fake.http_client(), max_retries=0)


def test_a_low_score_is_a_violation_with_the_judge_s_reason_and_a_re_ask_fixes_it(judge, judge_fake):
    judge_fake.reply(verdict(0.2, "curt, no greeting"))
    app_fake = FakeLLM(default=POLITE).reply(RUDE)
    contract = JudgeContract("Is the answer polite?", judge=judge, threshold=0.7)
    client = _app(app_fake, contract, contract_retries=1)

    reply = client.chat.completions.create(model=MODEL, messages=QUESTION)

    assert reply.choices[0].message.content == POLITE
    first, second = (a.results[0] for a in get_report(reply).attempts)
    assert not first.is_valid and "curt, no greeting" in first.message and first.details["score"] == 0.2
    assert second.is_valid and second.details["score"] == 0.9
    # The judge saw the rubric and the answer, within its token budget.
    sent = judge_fake.requests[0]
    assert sent["max_tokens"] == 200 and "Is the answer polite?" in sent["messages"][-1]["content"]
    assert RUDE in sent["messages"][-1]["content"]


def test_judging_usage_and_cost_are_reported_apart_from_the_call_s(judge, judge_fake):
    app_fake = FakeLLM(default=POLITE)
    client = _app(app_fake, JudgeContract("Is the answer polite?", judge=judge))

    reply = client.chat.completions.create(model=MODEL, messages=QUESTION)

    report = get_report(reply)
    served = judge_fake.responses[0]["usage"]
    usage = report.output_results[0].details["judge_usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (
        served["prompt_tokens"],
        served["completion_tokens"],
    )
    assert usage["cost_usd"] is not None and usage["cost_usd"] > 0
    assert report.judge_usage["calls"] == 1
    assert report.judge_usage["prompt_tokens"] == served["prompt_tokens"]
    assert report.to_dict()["judge_usage"] == report.judge_usage
    # The call's own usage is the app model's only.
    assert report.total_usage.prompt_tokens == app_fake.responses[0]["usage"]["prompt_tokens"]
    assert reply.usage.total_tokens == app_fake.responses[0]["usage"]["total_tokens"]


def test_verdicts_are_cached_by_rubric_and_answer(judge, judge_fake):
    contract = JudgeContract("Is the answer polite?", judge=judge)
    other = JudgeContract("Is the answer short?", judge=judge)

    first = contract.validate(LLMResponse(text=POLITE))
    again = contract.validate(LLMResponse(text=POLITE))
    other.validate(LLMResponse(text=POLITE))
    contract.validate(LLMResponse(text=RUDE))

    assert len(judge_fake.requests) == 3
    assert first.details["cached"] is False and again.details["cached"] is True
    assert again.details["judge_usage"] is None and again.details["score"] == first.details["score"]


@pytest.mark.parametrize(
    "answer",
    [
        "I think it is polite.",
        verdict(1.5),
        FakeReply(status=500, error={"message": "overloaded", "type": "server_error"}),
    ],
)
def test_a_judge_that_cannot_grade_passes_if_fail_open_and_fails_if_fail_closed(judge, judge_fake, answer):
    judge_fake.reply(answer, answer)
    open_ = JudgeContract("Is the answer polite?", judge=judge, fail_open=True)
    closed = JudgeContract("Is the answer polite?", judge=judge, fail_open=False)

    passed = open_.validate(LLMResponse(text=POLITE))
    failed = closed.validate(LLMResponse(text=POLITE))

    assert passed.is_valid and "fail-open" in passed.message and passed.details["judge_error"]
    assert not failed.is_valid and "fail-closed" in failed.message
    # A failure is not cached: the next check asks again.
    assert open_.validate(LLMResponse(text=POLITE)).details["score"] == 0.9


def test_a_judge_call_through_the_judged_client_does_not_run_its_output_contracts():
    fake = FakeLLM(default=verdict(0.95, "fine")).reply(POLITE)
    seen: list[str] = []
    spy = FunctionContract(lambda text: seen.append(text) or True, name="spy")
    client = ContractOpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0)
    client_with_contracts = ContractOpenAI(
        api_key="test-key",
        http_client=fake.http_client(),
        max_retries=0,
        output_contracts=[spy, JudgeContract("Is the answer polite?", judge=client)],
    )
    # The judge is the very client being judged: the same contracts, the same engine.
    client_with_contracts.output_contracts[1].judge = client_with_contracts

    reply = client_with_contracts.chat.completions.create(model=MODEL, messages=QUESTION)

    assert reply.choices[0].message.content == POLITE
    assert len(fake.requests) == 2  # the answer, then one judge call: no recursion
    assert seen == [POLITE]  # the judge's own answer was not checked by the client's contracts
    assert get_report(reply).output_results[1].details["score"] == 0.95


async def test_the_async_client_awaits_an_async_judge(judge_fake):
    judge = AsyncContractOpenAI(api_key="test-key", http_client=judge_fake.async_http_client(), max_retries=0)
    judge_fake.reply(verdict(0.1, "rude"))
    app_fake = FakeLLM(default=RUDE)
    client = AsyncContractOpenAI(
        api_key="test-key",
        http_client=app_fake.async_http_client(),
        max_retries=0,
        output_contracts=[JudgeContract("Is the answer polite?", judge=judge)],
    )

    with pytest.raises(ContractViolationError) as caught:
        await client.chat.completions.create(model=MODEL, messages=QUESTION)

    assert caught.value.results[0].details["reason"] == "rude"
    assert len(judge_fake.requests) == 1


def test_a_sync_check_can_use_an_async_judge(judge_fake):
    judge = AsyncContractOpenAI(api_key="test-key", http_client=judge_fake.async_http_client(), max_retries=0)

    result = JudgeContract("Is the answer polite?", judge=judge).validate(LLMResponse(text=POLITE))

    assert result.is_valid and result.details["score"] == 0.9


@pytest.mark.parametrize(
    "kwargs, what",
    [
        ({"rubric": " "}, "needs a rubric"),
        ({"judge": object()}, "judge must be an OpenAI-compatible client"),
        ({"threshold": 7}, "threshold must be a number from 0 to 1"),
        ({"max_tokens": 0}, "max_tokens must be an int >= 1"),
        ({"timeout": -1}, "timeout must be a number of seconds > 0"),
    ],
)
def test_bad_settings_are_named(judge, kwargs, what):
    settings = {"rubric": "Is it polite?", "judge": judge, **kwargs}
    with pytest.raises(ContractConfigError, match=what):
        JudgeContract(settings.pop("rubric"), **settings)


def test_the_time_budget_reaches_the_judge_s_http_request_and_a_timeout_is_a_judge_failure():
    from llm_contracts.testing import http_module

    http = http_module()
    seen: list[dict] = []

    def slow(request):
        seen.append(request.extensions.get("timeout"))
        raise http.ReadTimeout("no answer in time", request=request)

    judge = ContractOpenAI(
        api_key="test-key", max_retries=0, http_client=http.Client(transport=http.MockTransport(slow))
    )
    contract = JudgeContract("Is the answer polite?", judge=judge, timeout=3.0, fail_open=False)

    result = contract.validate(LLMResponse(text=POLITE))

    assert seen and seen[0]["read"] == 3.0
    assert not result.is_valid and "Timeout" in result.details["judge_error"]
