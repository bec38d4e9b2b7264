"""The pydantic-ai recipe: an agent on the drop-in async client, re-asks, streams and usage."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from llm_contracts import ContractViolationError, FunctionContract, LLMResponse
from llm_contracts.testing import FakeReply

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402


class Answer(pydantic.BaseModel):
    answer: str


def no_forbidden() -> FunctionContract:
    def check(response: LLMResponse) -> bool:
        return "forbidden" not in response.text + "".join(c.arguments for c in response.tool_calls)

    return FunctionContract(check, name="no_forbidden", pass_value=True)


@pytest.fixture(params=[OpenAIChatModel, OpenAIResponsesModel], ids=["chat", "responses"])
def agent_on(request, make_async_client) -> Any:
    """Build the recipe: pydantic-ai's OpenAI model on a contracted AsyncOpenAI."""

    def build(**kwargs: Any) -> tuple[Agent[Any, Any], Any]:
        kwargs.setdefault("output_contracts", [no_forbidden()])
        client = make_async_client(**kwargs)
        model = request.param("gpt-4o-mini", provider=OpenAIProvider(openai_client=client))
        return Agent(model), client

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

    result = await agent.run("Answer.")

    assert result.output == "a fine answer"
    assert client.last_report.outcome == "repaired"
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens) == served_usage(fake)
    assert usage.requests == 1  # the re-ask happened inside one request of the agent


async def test_a_violation_that_is_not_repaired_raises_out_of_the_run(agent_on, fake):
    agent, _ = agent_on()
    fake.reply("a forbidden answer")

    with pytest.raises(ContractViolationError):
        await agent.run("Answer.")


async def test_a_streamed_run_is_judged_and_reports_its_usage(agent_on, fake):
    agent, client = agent_on()
    fake.reply("a fine streamed answer.")

    async with agent.run_stream("Answer.") as result:
        text = "".join([delta async for delta in result.stream_text(delta=True)])

    assert text == "a fine streamed answer."
    assert client.last_report.outcome == "passed" and client.last_report.streamed
    assert (result.usage.input_tokens, result.usage.output_tokens) == served_usage(fake)

    fake.reply("a forbidden streamed answer.")
    with pytest.raises(ContractViolationError):
        async with agent.run_stream("Answer.") as result:
            [delta async for delta in result.stream_text(delta=True)]


async def test_structured_output_is_judged_and_re_asked(make_async_client, fake):
    client = make_async_client(output_contracts=[no_forbidden()], contract_retries=1)
    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, output_type=Answer)
    fake.reply(
        FakeReply(tool_calls=[("final_result", {"answer": "forbidden"})]),
        FakeReply(tool_calls=[("final_result", {"answer": "fine"})]),
    )

    result = await agent.run("Answer.")

    assert result.output == Answer(answer="fine")
    assert client.last_report.outcome == "repaired"
