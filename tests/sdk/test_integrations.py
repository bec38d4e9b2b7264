"""The contracted client handed to libraries built on openai: instructor and langchain-openai."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from llm_contracts import ContractViolationError, FunctionContract, LLMResponse
from llm_contracts.testing import FakeReply

instructor = pytest.importorskip("instructor")
langchain_openai = pytest.importorskip("langchain_openai")

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer."}]


class Answer(pydantic.BaseModel):
    answer: str


def _no_forbidden(response: LLMResponse) -> bool:
    # Tool-mode answers carry the payload in tool-call arguments, not in the text.
    return "forbidden" not in response.text + "".join(c.arguments for c in response.tool_calls)


def contract() -> FunctionContract:
    return FunctionContract(_no_forbidden, name="no_forbidden", pass_value=True)


def json_reply(answer: str) -> str:
    return f'{{"answer": "{answer}"}}'


def tool_reply(answer: str) -> FakeReply:
    return FakeReply(tool_calls=[("Answer", {"answer": answer})])


MODES = {"JSON": json_reply, "TOOLS": tool_reply}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    return getattr(instructor.Mode, request.param), MODES[request.param]


class TestInstructor:
    def test_a_violation_is_re_asked_and_the_repaired_answer_returned(self, make_client, fake, mode):
        instructor_mode, reply = mode
        client = make_client(output_contracts=[contract()], contract_retries=1)
        fake.reply(reply("forbidden"), reply("fine"))

        result = instructor.from_openai(client, mode=instructor_mode).chat.completions.create(
            model=MODEL, response_model=Answer, messages=MESSAGES, max_retries=0
        )

        # instructor keeps the raw completion on the model, so compare the data.
        assert isinstance(result, Answer) and result.model_dump() == {"answer": "fine"}
        assert client.last_report.outcome == "repaired"
        assert len(fake.requests) == 2

    def test_a_violation_that_is_not_repaired_raises(self, make_client, fake, mode):
        instructor_mode, reply = mode
        client = make_client(output_contracts=[contract()])
        fake.reply(reply("forbidden"))

        with pytest.raises(Exception) as caught:
            instructor.from_openai(client, mode=instructor_mode).chat.completions.create(
                model=MODEL, response_model=Answer, messages=MESSAGES, max_retries=0
            )

        # instructor wraps errors of the call in its own retry exception, keeping ours as the cause.
        error = caught.value if isinstance(caught.value, ContractViolationError) else caught.value.__cause__
        assert isinstance(error, ContractViolationError)
        assert client.last_report.outcome == "violated"

    async def test_the_async_client_works_with_instructor_too(self, make_async_client, fake):
        client = make_async_client(output_contracts=[contract()], contract_retries=1)
        fake.reply(json_reply("forbidden"), json_reply("fine"))

        result = await instructor.from_openai(client, mode=instructor.Mode.JSON).chat.completions.create(
            model=MODEL, response_model=Answer, messages=MESSAGES, max_retries=0
        )

        assert isinstance(result, Answer) and result.model_dump() == {"answer": "fine"}


@pytest.fixture
def chat_model(make_client, make_async_client) -> Any:
    """Return a ChatOpenAI on contracted clients and the clients themselves.

    ChatOpenAI calls through ``root_client`` (chat.completions, responses, raw responses)
    and ``client`` (its chat.completions); given both it builds no clients of its own.
    """

    def build(**kwargs: Any) -> tuple[Any, Any, Any]:
        sync = make_client(output_contracts=[contract()], **kwargs)
        async_ = make_async_client(output_contracts=[contract()], **kwargs)
        model = langchain_openai.ChatOpenAI(
            model=MODEL,
            api_key="test-key",
            client=sync.chat.completions,
            root_client=sync,
            async_client=async_.chat.completions,
            root_async_client=async_,
        )
        return model, sync, async_

    return build


class TestLangChain:
    def test_invoke_is_re_asked_and_returns_the_repaired_answer(self, chat_model, fake):
        model, client, _ = chat_model(contract_retries=1)
        fake.reply("a forbidden answer", "a fine answer")

        message = model.invoke("Answer.")

        assert message.content == "a fine answer"
        assert client.last_report.outcome == "repaired"

    def test_invoke_raises_on_a_violation_that_is_not_repaired(self, chat_model, fake):
        model, client, _ = chat_model()
        fake.reply("a forbidden answer")

        with pytest.raises(ContractViolationError):
            model.invoke("Answer.")

    async def test_ainvoke_is_re_asked_too(self, chat_model, fake):
        model, _, client = chat_model(contract_retries=1)
        fake.reply("a forbidden answer", "a fine answer")

        message = await model.ainvoke("Answer.")

        assert message.content == "a fine answer"
        assert client.last_report.outcome == "repaired"

    def test_streaming_delivers_clean_text_and_raises_on_a_violation(self, chat_model, fake):
        model, _, _ = chat_model()
        fake.reply("a fine answer.", "a forbidden answer.")

        assert "".join(m.content for m in model.stream("Answer.")) == "a fine answer."
        with pytest.raises(ContractViolationError):
            list(model.stream("Answer."))

    def test_structured_output_goes_through_the_contracted_parse(self, chat_model, fake):
        model, client, _ = chat_model(contract_retries=1)
        fake.reply(json_reply("forbidden"), json_reply("fine"))

        result = model.with_structured_output(Answer, method="json_schema").invoke("Answer.")

        assert result == Answer(answer="fine")
        assert client.last_report.outcome == "repaired"
