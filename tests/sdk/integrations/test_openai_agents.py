"""The OpenAI Agents SDK recipe: an agent whose model runs on the drop-in async client."""

from __future__ import annotations

from typing import Any

import pytest

from llm_contracts import ContractViolationError, FunctionContract

pytest.importorskip("agents")

from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, RunConfig, Runner  # noqa: E402

# The Agents SDK uploads traces to OpenAI unless told not to.
OFFLINE = RunConfig(tracing_disabled=True)


def no_forbidden() -> FunctionContract:
    return FunctionContract(lambda text: "forbidden" not in text, name="no_forbidden")


@pytest.fixture(params=[OpenAIChatCompletionsModel, OpenAIResponsesModel], ids=["chat", "responses"])
def agent_on(request, make_async_client) -> Any:
    """Build the recipe: the SDK's model class given the contracted AsyncOpenAI."""

    def build(**kwargs: Any) -> tuple[Agent[Any], Any]:
        kwargs.setdefault("output_contracts", [no_forbidden()])
        client = make_async_client(**kwargs)
        model = request.param(model="gpt-4o-mini", openai_client=client)
        return Agent(name="support", instructions="Be brief.", model=model), client

    return build


def served_usage(fake: Any) -> tuple[int, int]:
    usages = [r["usage"] for r in fake.responses]
    return (
        sum(u.get("prompt_tokens", u.get("input_tokens", 0)) for u in usages),
        sum(u.get("completion_tokens", u.get("output_tokens", 0)) for u in usages),
    )


async def test_a_run_is_re_asked_and_its_usage_counts_every_attempt(agent_on, fake):
    agent, client = agent_on(contract_retries=1)
    fake.reply("a forbidden answer", "a fine answer")

    result = await Runner.run(agent, "Answer.", run_config=OFFLINE)

    assert result.final_output == "a fine answer"
    assert client.last_report.outcome == "repaired"
    usage = result.context_wrapper.usage
    assert (usage.input_tokens, usage.output_tokens) == served_usage(fake)
    assert usage.requests == 1


async def test_a_violation_that_is_not_repaired_raises_out_of_the_run(agent_on, fake):
    agent, _ = agent_on()
    fake.reply("a forbidden answer")

    with pytest.raises(ContractViolationError):
        await Runner.run(agent, "Answer.", run_config=OFFLINE)


async def test_a_streamed_run_is_judged_and_reports_its_usage(agent_on, fake):
    agent, client = agent_on()
    fake.reply("a fine streamed answer.")

    result = Runner.run_streamed(agent, "Answer.", run_config=OFFLINE)
    deltas = [
        e.data.delta
        async for e in result.stream_events()
        if e.type == "raw_response_event" and getattr(e.data, "type", "") == "response.output_text.delta"
    ]

    assert "".join(deltas) == result.final_output == "a fine streamed answer."
    assert client.last_report.outcome == "passed" and client.last_report.streamed
    usage = result.context_wrapper.usage
    assert (usage.input_tokens, usage.output_tokens) == served_usage(fake)

    fake.reply("a forbidden streamed answer.")
    with pytest.raises(ContractViolationError):
        async for _ in Runner.run_streamed(agent, "Answer.", run_config=OFFLINE).stream_events():
            pass
