"""ContractChatModel: contracts on any LangChain chat model, through LangChain's own interfaces."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from llm_contracts import ContractViolationError, FunctionContract, LLMResponse, get_report
from llm_contracts.contracts import PIIContract, PromptLengthContract, ToolCallContract
from llm_contracts.testing import FakeReply

pytest.importorskip("langchain_core")

from langchain_core.callbacks import BaseCallbackHandler, UsageMetadataCallbackHandler  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage  # noqa: E402

from llm_contracts.integrations.langchain import ContractChatModel  # noqa: E402


class Answer(pydantic.BaseModel):
    answer: str


def no_forbidden() -> FunctionContract:
    def check(response: LLMResponse) -> bool:
        return "forbidden" not in response.text + "".join(c.arguments for c in response.tool_calls)

    return FunctionContract(check, name="no_forbidden", pass_value=True, message="the answer says forbidden")


def scripted(*answers: str | AIMessage) -> GenericFakeChatModel:
    """Return langchain-core's own fake chat model: not an OpenAI model, answers in order."""
    return GenericFakeChatModel(messages=iter(answers))


def sent_messages(fake: Any, index: int = -1) -> list[dict[str, Any]]:
    return fake.requests[index]["messages"]


class TestInvoke:
    @pytest.mark.parametrize("kind", ["langchain fake", "ChatOpenAI"])
    def test_a_violation_is_re_asked_through_the_wrapped_model(self, kind, chat_openai, fake):
        if kind == "ChatOpenAI":
            fake.reply("a forbidden answer", "a fine answer")
            inner = chat_openai()
        else:
            inner = scripted("a forbidden answer", "a fine answer")
        model = ContractChatModel(model=inner, output_contracts=[no_forbidden()], contract_retries=1)

        message = model.invoke("Answer.")

        assert isinstance(message, AIMessage) and message.content == "a fine answer"
        assert get_report(message).outcome == "repaired"
        assert model.last_report is get_report(message)
        assert [a.text for a in model.last_report.attempts] == ["a forbidden answer", "a fine answer"]

    def test_the_re_ask_quotes_the_rejected_answer_and_the_violation(self, chat_openai, fake):
        fake.reply("a forbidden answer", "a fine answer")
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()], contract_retries=1)

        model.invoke([SystemMessage("Be brief."), HumanMessage("Answer.")])

        first, second = sent_messages(fake, 0), sent_messages(fake, 1)
        assert (
            second[:2]
            == first
            == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Answer."}]
        )
        assert second[2] == {"role": "assistant", "content": "a forbidden answer"}
        assert second[3]["role"] == "user"
        assert "the answer says forbidden" in second[3]["content"]
        assert json.dumps("a forbidden answer") in second[3]["content"]

    def test_a_violation_that_is_not_repaired_raises_with_the_report(self):
        model = ContractChatModel(model=scripted("a forbidden answer"), output_contracts=[no_forbidden()])

        with pytest.raises(ContractViolationError) as caught:
            model.invoke("Answer.")

        assert caught.value.stage == "output"
        assert caught.value.report.outcome == "violated"
        assert model.last_report is caught.value.report

    def test_an_input_violation_stops_the_call_before_the_model_is_asked(self, chat_openai, fake):
        model = ContractChatModel(model=chat_openai(), input_contracts=[PromptLengthContract(max_chars=10)])

        with pytest.raises(ContractViolationError) as caught:
            model.invoke("a prompt far longer than ten characters")

        assert caught.value.stage == "input"
        assert fake.requests == []

    def test_an_input_contract_that_repairs_the_request_changes_what_is_sent(self, chat_openai, fake):
        redact = PIIContract(kinds=["email"], redact=True)
        model = ContractChatModel(model=chat_openai(), input_contracts=[redact])

        model.invoke([SystemMessage("Be brief."), HumanMessage("Write to jane.doe@example.com please.")])

        system, user = sent_messages(fake)
        assert system == {"role": "system", "content": "Be brief."}
        assert "jane.doe@example.com" not in user["content"] and "please." in user["content"]
        assert model.last_report.input_fixes == ["PIIContract"]

    def test_the_declared_fallback_answers_when_re_asks_run_out(self):
        model = ContractChatModel(
            model=scripted("a forbidden answer"),
            output_contracts=[no_forbidden()],
            fallback="Sorry, I cannot answer that.",
        )

        message = model.invoke("Answer.")

        assert message.content == "Sorry, I cannot answer that."
        assert get_report(message).outcome == "fallback"

    def test_an_llmcl_contract_set_brings_its_retries(self):
        from llm_contracts.llmcl import load_source

        contracts = load_source(
            'contract Clean {\n  ensure not contains(output, "forbidden")\n'
            '  on violation retry 1 with "Say it without that word."\n}\n'
        )
        model = ContractChatModel(model=scripted("a forbidden answer", "a fine answer"), contracts=contracts)

        assert model.invoke("Answer.").content == "a fine answer"
        assert model.last_report.outcome == "repaired"

    async def test_ainvoke_is_re_asked_too(self, chat_openai, fake):
        fake.reply("a forbidden answer", "a fine answer")
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()], contract_retries=1)

        message = await model.ainvoke("Answer.")

        assert message.content == "a fine answer"
        assert get_report(message).outcome == "repaired"

    def test_batch_judges_every_input(self):
        model = ContractChatModel(
            model=scripted("fine one", "a forbidden answer", "fine two"),
            output_contracts=[no_forbidden()],
            contract_retries=1,
        )

        # One at a time so the scripted answers are taken in order.
        messages = model.batch(["first", "second"], config={"max_concurrency": 1})

        assert [m.content for m in messages] == ["fine one", "fine two"]
        assert [get_report(m).outcome for m in messages] == ["passed", "repaired"]

    async def test_abatch_judges_every_input(self):
        model = ContractChatModel(
            model=scripted("fine one", "a forbidden answer"), output_contracts=[no_forbidden()]
        )

        results = await model.abatch(
            ["first", "second"], config={"max_concurrency": 1}, return_exceptions=True
        )

        assert results[0].content == "fine one"
        assert isinstance(results[1], ContractViolationError)

    def test_something_that_is_not_a_chat_model_is_refused_by_name(self):
        from llm_contracts import ContractConfigError

        with pytest.raises(ContractConfigError, match="needs a LangChain chat model.*str"):
            ContractChatModel(model="gpt-4o-mini")


class TestUsage:
    def test_the_answer_carries_the_usage_of_every_attempt(self, chat_openai, fake):
        fake.reply("a forbidden answer", "a fine answer")
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()], contract_retries=1)

        message = model.invoke("Answer.")

        served = [r["usage"] for r in fake.responses]
        assert message.usage_metadata["input_tokens"] == sum(u["prompt_tokens"] for u in served)
        assert message.usage_metadata["output_tokens"] == sum(u["completion_tokens"] for u in served)
        assert get_report(message).total_usage.total_tokens == sum(u["total_tokens"] for u in served)

    def test_a_usage_callback_of_the_call_counts_each_token_once(self, chat_openai, fake):
        fake.reply("a forbidden answer", "a fine answer")
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()], contract_retries=1)
        counter = UsageMetadataCallbackHandler()

        model.invoke("Answer.", config={"callbacks": [counter]})

        served = [r["usage"] for r in fake.responses]
        (usage,) = counter.usage_metadata.values()
        assert usage["total_tokens"] == sum(u["total_tokens"] for u in served)

    def test_a_process_wide_usage_callback_also_counts_the_wrapped_models_runs(self):
        # The limit the README states: a handler LangChain installs for every run (not one
        # passed to the call) sees the wrapped model's attempts and the wrapper's sum.
        from langchain_core.callbacks import get_usage_metadata_callback
        from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel

        usage = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
        answers = [
            AIMessage(text, usage_metadata=usage, response_metadata={"model_name": "m"})
            for text in ("a forbidden answer", "a fine answer")
        ]
        model = ContractChatModel(
            model=FakeMessagesListChatModel(responses=answers),
            output_contracts=[no_forbidden()],
            contract_retries=1,
        )

        with get_usage_metadata_callback() as counter:
            message = model.invoke("Answer.")

        assert message.usage_metadata["total_tokens"] == 10
        assert counter.usage_metadata["m"]["total_tokens"] == 20


class Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


class TestStreaming:
    def test_clean_text_streams_and_a_violation_raises_after_it(self, chat_openai, fake):
        fake.reply("a fine answer.", "a forbidden answer.")
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()])

        assert "".join(c.content for c in model.stream("Answer.")) == "a fine answer."
        assert model.last_report.outcome == "passed"
        with pytest.raises(ContractViolationError):
            list(model.stream("Answer."))
        assert model.last_report.outcome == "violated"

    @pytest.mark.parametrize("kind", ["langchain fake", "ChatOpenAI"])
    def test_under_the_buffer_policy_no_text_of_a_rejected_answer_reaches_the_caller(
        self, kind, chat_openai, fake
    ):
        if kind == "ChatOpenAI":
            fake.reply("this answer is forbidden here.")
            inner = chat_openai()
        else:
            inner = scripted("this answer is forbidden here.")
        model = ContractChatModel(model=inner, output_contracts=[no_forbidden()], stream_policy="buffer")
        tokens = Tokens()
        received: list[str] = []

        with pytest.raises(ContractViolationError):
            for chunk in model.stream("Answer.", config={"callbacks": [tokens]}):
                received.append(chunk.content)

        assert "".join(received) == ""
        assert "".join(tokens.tokens) == ""  # callbacks see only what the policy released

    async def test_a_model_without_streaming_streams_its_whole_answer_once(self):
        from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel

        answers = [AIMessage("a fine answer."), AIMessage("a forbidden one.")]
        inner = FakeMessagesListChatModel(responses=answers)
        model = ContractChatModel(model=inner, output_contracts=[no_forbidden()])

        assert [c.content async for c in model.astream("Answer.")] == ["a fine answer."]
        with pytest.raises(ContractViolationError):
            list(model.stream("Answer."))

    async def test_astream_judges_the_stream_too(self, chat_openai, fake):
        fake.reply("a fine answer.", "a forbidden answer.")
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()])

        assert "".join([c.content async for c in model.astream("Answer.")]) == "a fine answer."
        with pytest.raises(ContractViolationError):
            [c async for c in model.astream("Answer.")]

    def test_streamed_usage_reaches_the_report(self, chat_openai, fake):
        fake.reply("a fine answer.")
        model = ContractChatModel(model=chat_openai(stream_usage=True), output_contracts=[no_forbidden()])

        list(model.stream("Answer."))

        assert model.last_report.total_usage.total_tokens == fake.responses[-1]["usage"]["total_tokens"]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


class TestToolsAndStructuredOutput:
    def test_bound_tools_reach_the_model_and_bad_arguments_are_re_asked(self, chat_openai, fake):
        fake.reply(
            FakeReply(tool_calls=[("get_weather", {"town": "Paris"})]),
            FakeReply(tool_calls=[("get_weather", {"city": "Paris"})]),
        )
        model = ContractChatModel(
            model=chat_openai(), output_contracts=[ToolCallContract()], contract_retries=1
        )

        message = model.bind_tools([WEATHER]).invoke("Weather in Paris?")

        assert message.tool_calls[0]["args"] == {"city": "Paris"}
        assert fake.requests[0]["tools"][0]["function"]["name"] == "get_weather"
        assert get_report(message).outcome == "repaired"

    def test_a_streamed_tool_call_is_judged(self, chat_openai, fake):
        fake.reply(FakeReply(tool_calls=[("get_weather", {"town": "Paris"})]))
        model = ContractChatModel(model=chat_openai(), output_contracts=[ToolCallContract()])

        with pytest.raises(ContractViolationError) as caught:
            list(model.bind_tools([WEATHER]).stream("Weather in Paris?"))

        assert caught.value.stage == "stream"
        assert "get_weather" in caught.value.results[0].message

    @pytest.mark.parametrize("method", ["json_schema", "function_calling"])
    def test_structured_output_is_judged_and_re_asked(self, method, chat_openai, fake):
        reply = (
            (lambda a: json.dumps({"answer": a}))
            if method == "json_schema"
            else (lambda a: FakeReply(tool_calls=[("Answer", {"answer": a})]))
        )
        fake.reply(reply("forbidden"), reply("fine"))
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()], contract_retries=1)

        result = model.with_structured_output(Answer, method=method).invoke("Answer.")

        assert result == Answer(answer="fine")
        assert model.last_report.outcome == "repaired"

    def test_structured_output_with_the_raw_message(self, chat_openai, fake):
        fake.reply(json.dumps({"answer": "fine"}))
        model = ContractChatModel(model=chat_openai(), output_contracts=[no_forbidden()])

        structured = model.with_structured_output(Answer, method="json_schema", include_raw=True)
        result = structured.invoke("Answer.")

        assert result["parsed"] == Answer(answer="fine")
        assert get_report(result["raw"]).outcome == "passed"


class TestReporting:
    def test_each_verdict_reaches_the_control_plane(self, chat_openai, fake, plane_reporter):
        plane, reporter = plane_reporter
        fake.reply("a forbidden answer", "a fine answer")
        model = ContractChatModel(
            model=chat_openai(), output_contracts=[no_forbidden()], contract_retries=1, reporter=reporter
        )

        model.invoke("Answer.")
        assert reporter.flush(5)

        (event,) = [e for e in plane.events if e["contract"] == "no_forbidden"]
        assert (event["provider"], event["endpoint"], event["model"]) == (
            "openai",
            "langchain:ChatOpenAI",
            "gpt-4o-mini",
        )
        assert event["outcome"] == "repaired" and event["retries"] == 1
        assert event["is_valid"] is True
