"""ContractCohere through the real ``cohere`` package, over httpx's mock transport."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cohere
import pytest

import llm_contracts
from llm_contracts import (
    AsyncContractCohere,
    ContractCohere,
    ContractConfigError,
    ContractViolationError,
    FunctionContract,
    KnownModelContract,
    RegexContract,
    RequestParametersContract,
    ToolCallContract,
    get_report,
)
from llm_contracts.reporting._events import report_events

from .cohere_fake import MODEL, FakeCohere, Turn, text

ROOT = Path(llm_contracts.__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "Tell me something."}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def no_forbidden() -> FunctionContract:
    return FunctionContract(lambda t: "forbidden" not in t, name="no_forbidden")


def client(fake: FakeCohere, **kwargs: Any) -> ContractCohere:
    kwargs.setdefault("output_contracts", [no_forbidden()])
    return ContractCohere(api_key="test-key", httpx_client=fake.http_client(), max_retries=0, **kwargs)


def aclient(fake: FakeCohere, **kwargs: Any) -> AsyncContractCohere:
    kwargs.setdefault("output_contracts", [no_forbidden()])
    return AsyncContractCohere(
        api_key="test-key", httpx_client=fake.async_http_client(), max_retries=0, **kwargs
    )


def streamed_text(events: Any) -> str:
    return "".join(e.delta.message.content.text for e in events if e.type == "content-delta")


class TestChat:
    def test_a_clean_answer_comes_back_as_coheres_response_with_a_report(self):
        fake = FakeCohere(text("All clean here."))
        reports = []
        c = client(fake, on_report=reports.append)

        answer = c.chat(model=MODEL, messages=MESSAGES)

        assert isinstance(answer, cohere.V2ChatResponse)
        assert answer.message.content[0].text == "All clean here."
        report = get_report(answer)
        assert (report.outcome, report.provider, report.endpoint) == ("passed", "cohere", "/v2/chat")
        assert reports == [report]
        assert report_events(report)[0]["provider"] == "cohere"

    def test_a_violation_raises_with_the_answer_in_the_report(self):
        fake = FakeCohere(text("This is forbidden."))
        c = client(fake)

        with pytest.raises(ContractViolationError) as caught:
            c.chat(model=MODEL, messages=MESSAGES)

        assert caught.value.report.provider == "cohere"
        assert caught.value.report.attempts[0].text == "This is forbidden."
        assert c.last_report is caught.value.report

    def test_a_reask_appends_the_answer_and_the_feedback_and_sums_usage(self):
        fake = FakeCohere(
            text("This is forbidden.", input_tokens=10, output_tokens=5),
            text("All clean here.", input_tokens=30, output_tokens=7),
        )

        answer = client(fake, contract_retries=1).chat(model=MODEL, messages=MESSAGES)

        assert answer.message.content[0].text == "All clean here."
        assert get_report(answer).outcome == "repaired"
        assistant, user = fake.bodies[1]["messages"][1:]
        assert assistant == {"role": "assistant", "content": "This is forbidden."}
        assert user["role"] == "user" and "no_forbidden" in user["content"]
        # The answer's own usage is the sum over both attempts, as the report's is.
        assert (answer.usage.tokens.input_tokens, answer.usage.tokens.output_tokens) == (12 + 32, 12)
        assert (answer.usage.billed_units.input_tokens, answer.usage.billed_units.output_tokens) == (40, 12)
        assert get_report(answer).total_usage.completion_tokens == 12

    def test_coheres_own_message_types_are_read_and_reasked_as_json(self):
        fake = FakeCohere(text("This is forbidden."), text("All clean here."))
        messages = [cohere.SystemChatMessageV2(content="Be brief."), cohere.UserChatMessageV2(content="Hi")]

        answer = client(fake, contract_retries=1).chat(model=MODEL, messages=messages)

        assert [m.role for m in get_report(answer).request.messages] == ["system", "user"]
        assert get_report(answer).request.messages[0].content == "Be brief."
        assert [m["role"] for m in fake.bodies[1]["messages"]] == ["system", "user", "assistant", "user"]
        assert fake.bodies[1]["messages"][1] == {"role": "user", "content": "Hi"}

    def test_raw_responses_are_judged(self):
        fake = FakeCohere(text("This is forbidden."), text("All clean here."))

        raw = client(fake, contract_retries=1).with_raw_response.chat(model=MODEL, messages=MESSAGES)

        assert raw.data.message.content[0].text == "All clean here."
        assert len(fake.requests) == 2

    def test_calls_with_no_contracts_go_straight_through_with_a_vacuous_report(self):
        fake = FakeCohere(text("This is forbidden."))

        answer = client(fake, output_contracts=[]).chat(model=MODEL, messages=MESSAGES)

        assert answer.message.content[0].text == "This is forbidden."
        assert get_report(answer).outcome == "passed"

    def test_thinking_parts_pass_through_unjudged(self):
        fake = FakeCohere(text("All clean here.", thinking="Is this forbidden? No."))

        answer = client(fake).chat(model=MODEL, messages=MESSAGES)

        assert answer.message.content[0].type == "thinking"
        assert get_report(answer).outcome == "passed"
        assert get_report(answer).attempts[0].text == "All clean here."

    def test_the_declared_fallback_answers_in_coheres_type_with_usage_summed(self):
        fake = FakeCohere(
            text("This is forbidden.", input_tokens=10, output_tokens=5),
            text("Still forbidden.", input_tokens=30, output_tokens=7),
        )
        c = client(fake, fallback="Sorry, I cannot help with that.", contract_retries=1)

        answer = c.chat(model=MODEL, messages=MESSAGES)

        assert isinstance(answer, cohere.V2ChatResponse)
        assert [p.text for p in answer.message.content] == ["Sorry, I cannot help with that."]
        assert answer.finish_reason == "COMPLETE" and not answer.message.tool_calls
        report = get_report(answer)
        assert report.outcome == "fallback" and "declared fallback" in report.stop_reason
        assert [a.text for a in report.attempts] == ["This is forbidden.", "Still forbidden."]
        assert (answer.usage.billed_units.input_tokens, answer.usage.billed_units.output_tokens) == (40, 12)
        assert report_events(report)[0]["outcome"] == "fallback"

    def test_the_declared_fallback_replaces_a_rejected_tool_call(self):
        fake = FakeCohere(Turn(tools=[("call_1", "delete_everything", {})]))
        c = client(fake, output_contracts=[ToolCallContract()], fallback="Sorry.")

        raw = c.with_raw_response.chat(model=MODEL, messages=MESSAGES, tools=[WEATHER])

        assert [p.text for p in raw.data.message.content] == ["Sorry."]
        assert not raw.data.message.tool_calls and raw.data.finish_reason == "COMPLETE"
        assert c.last_report.outcome == "fallback"

    def test_without_a_fallback_the_violation_raises(self):
        fake = FakeCohere(text("This is forbidden."))

        with pytest.raises(ContractViolationError):
            client(fake).chat(model=MODEL, messages=MESSAGES)


class TestTools:
    def test_tool_arguments_are_judged_against_the_parameters_and_the_reask_answers_the_call(self):
        fake = FakeCohere(
            Turn(tools=[("call_1", "get_weather", {"town": "Paris"})]),
            Turn(tools=[("call_2", "get_weather", {"city": "Paris"})]),
        )
        c = client(fake, output_contracts=[ToolCallContract()], contract_retries=1)

        answer = c.chat(model=MODEL, messages=MESSAGES, tools=[WEATHER])

        assert json.loads(answer.message.tool_calls[0].function.arguments) == {"city": "Paris"}
        report = get_report(answer)
        assert report.outcome == "repaired"
        assert "town" in report.attempts[0].results[0].message
        assistant, tool, user = fake.bodies[1]["messages"][1:]
        assert assistant["tool_calls"] == [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"town": "Paris"}'},
            }
        ]
        assert assistant["tool_plan"] == "I will call the tool."
        assert tool == {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": "This call was rejected; see below.",
        }
        assert user["role"] == "user"

    def test_a_valid_tool_call_passes(self):
        fake = FakeCohere(Turn(tools=[("call_1", "get_weather", {"city": "Oslo"})]))

        answer = client(fake, output_contracts=[ToolCallContract()]).chat(
            model=MODEL, messages=MESSAGES, tools=[WEATHER]
        )

        assert get_report(answer).outcome == "passed"


class TestStreaming:
    def test_a_stream_yields_coheres_events_and_reports_when_done(self):
        fake = FakeCohere(text("All ", "clean ", "here."))
        c = client(fake)

        events = list(c.chat_stream(model=MODEL, messages=MESSAGES))

        assert events[0].type == "message-start" and events[-1].type == "message-end"
        assert streamed_text(events) == "All clean here."
        report = c.last_report
        assert report.outcome == "passed" and report.streamed and report.provider == "cohere"
        assert (report.total_usage.prompt_tokens, report.total_usage.completion_tokens) == (12, 5)

    def test_streamed_thinking_is_not_judged(self):
        fake = FakeCohere(text("All ", "clean.", thinking="Is this forbidden? No."))
        c = client(fake, stream_policy="buffer")

        events = list(c.chat_stream(model=MODEL, messages=MESSAGES))

        assert any(e.type == "content-delta" and e.delta.message.content.thinking for e in events)
        assert c.last_report.outcome == "passed"

    def test_closing_a_stream_early_is_reported(self):
        fake = FakeCohere(text("All ", "clean ", "here."))
        c = client(fake)

        stream = c.chat_stream(model=MODEL, messages=MESSAGES)
        next(stream)
        stream.close()

        assert c.last_report.stop_reason == "closed by caller before the end of the stream"

    @pytest.mark.parametrize("policy", ["hold_back:3", "sentence", "buffer"])
    def test_held_text_never_leaks_before_a_violation(self, policy):
        fake = FakeCohere(text("Fine. ", "The pass", "word is hun", "ter2 ", "ok."))
        c = client(fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy=policy)
        seen = ""

        with pytest.raises(ContractViolationError):
            for event in c.chat_stream(model=MODEL, messages=MESSAGES):
                if event.type == "content-delta":
                    seen += event.delta.message.content.text

        assert "hunter2" not in seen and "hun" not in seen
        assert c.last_report.outcome == "violated"

    def test_with_the_immediate_policy_the_text_flows_and_the_violation_raises_at_the_end(self):
        fake = FakeCohere(text("The pass", "word is hun", "ter2 ", "ok."))
        c = client(fake, output_contracts=[RegexContract(r"hunter2", must_match=False)])
        seen = ""

        with pytest.raises(ContractViolationError):
            for event in c.chat_stream(model=MODEL, messages=MESSAGES):
                if event.type == "content-delta":
                    seen += event.delta.message.content.text

        assert "hun" in seen  # immediate: the caller saw the text, and still learns it was rejected

    def test_a_rejected_streamed_tool_call_never_reaches_the_caller(self):
        fake = FakeCohere(Turn(pieces=["Checking."], tools=[("call_1", "get_weather", {"town": "Oslo"})]))
        c = client(fake, output_contracts=[ToolCallContract()], stream_policy="hold_back:1")
        seen = []

        with pytest.raises(ContractViolationError):
            for event in c.chat_stream(model=MODEL, messages=MESSAGES, tools=[WEATHER]):
                seen.append(event.type)

        assert "tool-call-start" not in seen and "tool-call-delta" not in seen

    def test_a_valid_streamed_tool_call_is_released_whole(self):
        fake = FakeCohere(Turn(tools=[("call_1", "get_weather", {"city": "Oslo"})]))
        c = client(fake, output_contracts=[ToolCallContract()], stream_policy="hold_back:1")

        events = list(c.chat_stream(model=MODEL, messages=MESSAGES, tools=[WEATHER]))

        arguments = "".join(
            e.delta.message.tool_calls.function.arguments
            for e in events
            if e.type in ("tool-call-start", "tool-call-delta")
        )
        assert json.loads(arguments) == {"city": "Oslo"}
        assert c.last_report.outcome == "passed"

    # (field-line end, blank line, piece size): cohere reads \r\n, \r and \n alike, so a blank
    # line may be written with another terminator than the lines before it.
    FRAMINGS = [
        ("\n", "\n", 1),
        ("\r\n", "\r\n", 3),
        ("\r", "\r", 5),
        ("\n", "\r\n", 7),
        ("\r\n", "\r", 2),
        ("\n", "\r", 4),
    ]

    @pytest.mark.parametrize("policy", ["hold_back:3", "sentence", "buffer"])
    @pytest.mark.parametrize(("eol", "blank", "size"), FRAMINGS)
    def test_held_text_never_leaks_whatever_the_framing_and_chunking(self, policy, eol, blank, size):
        turn = text(
            "Fine. ", "The pass", "word is hün", "ter2 ", "ok.", eol=eol, blank=blank, piece_size=size
        )
        fake = FakeCohere(turn)
        c = client(fake, output_contracts=[RegexContract(r"hünter2", must_match=False)], stream_policy=policy)
        seen = ""

        with pytest.raises(ContractViolationError):
            for event in c.chat_stream(model=MODEL, messages=MESSAGES):
                if event.type == "content-delta":
                    seen += event.delta.message.content.text

        assert "hün" not in seen
        assert c.last_report.outcome == "violated"

    @pytest.mark.parametrize(("eol", "blank", "size"), FRAMINGS)
    def test_clean_text_passes_whole_whatever_the_framing_and_chunking(self, eol, blank, size):
        fake = FakeCohere(text("All ", "clean ", "hère.", eol=eol, blank=blank, piece_size=size))
        c = client(fake, stream_policy="hold_back:3")

        events = list(c.chat_stream(model=MODEL, messages=MESSAGES))

        assert streamed_text(events) == "All clean hère."
        assert c.last_report.outcome == "passed"

    @pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"])
    def test_text_with_a_unicode_line_separator_is_judged_like_any_text(self, separator):
        # JSON may carry these characters unescaped; cohere's reader splits lines on \r and \n only.
        fake = FakeCohere(text("Fine. ", f"hunter2{separator} ok.", raw_unicode=True, piece_size=5))
        c = client(
            fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy="buffer"
        )
        seen = ""

        with pytest.raises(ContractViolationError):
            for event in c.chat_stream(model=MODEL, messages=MESSAGES):
                if event.type == "content-delta":
                    seen += event.delta.message.content.text

        assert "hunter2" not in seen

    @pytest.mark.parametrize("policy", ["hold_back:3", "buffer"])
    def test_a_streamed_violation_is_not_reasked_exactly_as_for_anthropic(self, policy):
        # A stream is never re-asked (openai, anthropic, cohere alike): the violation raises
        # from the iteration, once, and the one request sent is the whole call.
        from .anthropic_fake import FakeAnthropic
        from .anthropic_fake import text as anthropic_text

        forbidden = [RegexContract(r"hunter2", must_match=False)]
        pieces = ("Fine. ", "The pass", "word is hun", "ter2 ", "ok.")
        outcomes = []
        fake = FakeCohere(text(*pieces), text("All clean."))
        c = client(
            fake, output_contracts=forbidden, stream_policy=policy, contract_retries=2, fallback="Sorry."
        )
        with pytest.raises(ContractViolationError) as cohere_error:
            list(c.chat_stream(model=MODEL, messages=MESSAGES))
        outcomes.append((len(fake.requests), c.last_report.outcome, c.last_report.streamed))

        afake = FakeAnthropic(anthropic_text(*pieces), anthropic_text("All clean."))
        a = llm_contracts.ContractAnthropic(
            api_key="test-key",
            http_client=afake.http_client(),
            max_retries=0,
            output_contracts=forbidden,
            stream_policy=policy,
            contract_retries=2,
            fallback="Sorry.",
        )
        with pytest.raises(ContractViolationError) as anthropic_error:
            list(a.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MESSAGES, stream=True))
        outcomes.append((len(afake.requests), a.last_report.outcome, a.last_report.streamed))

        assert outcomes == [(1, "violated", True)] * 2
        assert cohere_error.value.stage == anthropic_error.value.stage == "stream"
        assert c.last_report.stop_reason == a.last_report.stop_reason

    async def test_async_streams_never_leak_whatever_the_framing_and_chunking(self):
        fake = FakeCohere(
            text("Fine. ", "The pass", "word is hun", "ter2 ", "ok.", eol="\n", blank="\r\n", piece_size=3)
        )
        c = aclient(
            fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy="buffer"
        )
        seen = ""

        with pytest.raises(ContractViolationError):
            async for event in c.chat_stream(model=MODEL, messages=MESSAGES):
                if event.type == "content-delta":
                    seen += event.delta.message.content.text

        assert "hun" not in seen
        assert c.last_report.outcome == "violated"


class TestCoverage:
    def test_coheres_exceptions_pass_through_unchanged(self):
        fake = FakeCohere(Turn(status=400, error="max_tokens: too large"))

        with pytest.raises(cohere.BadRequestError) as caught:
            client(fake).chat(model=MODEL, messages=MESSAGES)

        assert "max_tokens: too large" in str(caught.value.body)

    def test_coheres_exceptions_pass_through_a_stream_unchanged(self):
        fake = FakeCohere(Turn(status=429, error="slow down"))

        with pytest.raises(cohere.TooManyRequestsError):
            list(client(fake, stream_policy="buffer").chat_stream(model=MODEL, messages=MESSAGES))

    def test_coheres_own_http_retries_are_one_contracted_call(self):
        fake = FakeCohere(Turn(status=429, error="slow down"), text("This is forbidden."), text("All clean."))
        reports = []
        c = ContractCohere(
            api_key="test-key",
            httpx_client=fake.http_client(),
            max_retries=1,
            output_contracts=[no_forbidden()],
            contract_retries=1,
            on_report=reports.append,
        )

        answer = c.chat(model=MODEL, messages=MESSAGES)

        # cohere retried the 429 itself; the contracts judged the two answers of one call.
        assert answer.message.content[0].text == "All clean."
        assert len(fake.requests) == 3
        assert [r.outcome for r in reports] == ["repaired"]
        assert [a.text for a in reports[0].attempts] == ["This is forbidden.", "All clean."]

    async def test_coheres_own_async_http_retries_are_one_contracted_call(self):
        fake = FakeCohere(Turn(status=503, error="busy"), text("All clean."))
        reports = []
        c = AsyncContractCohere(
            api_key="test-key",
            httpx_client=fake.async_http_client(),
            max_retries=1,
            output_contracts=[no_forbidden()],
            on_report=reports.append,
        )

        answer = await c.chat(model=MODEL, messages=MESSAGES)

        assert answer.message.content[0].text == "All clean."
        assert len(fake.requests) == 2
        assert [r.outcome for r in reports] == ["passed"]

    def test_other_calls_are_coheres_own(self):
        fake = FakeCohere()
        c = client(fake)

        with pytest.raises(cohere.BadRequestError):
            # Not a chat call: the fake answers it with the chat body's error, untouched.
            fake.turns.append(Turn(status=400))
            c.embed(model="embed-v4.0", texts=["hi"], input_type="search_document", embedding_types=["float"])

        assert fake.requests[0].url.path == "/v2/embed"
        assert c.last_report is None

    def test_input_contracts_edit_the_cohere_body(self):
        fake = FakeCohere(text("All clean here."))
        c = client(fake, input_contracts=[RequestParametersContract(auto_fix=True)])

        c.chat(model=MODEL, messages=MESSAGES, temperature=1.7, p=1.0, frequency_penalty=1.5)

        # Cohere's ranges: any non-negative temperature, p within 0.01-0.99, penalties within 0-1.
        body = fake.bodies[0]
        assert (body["temperature"], body["p"], body["frequency_penalty"]) == (1.7, 0.99, 1.0)

    def test_the_answer_length_is_capped_at_the_models_published_limit(self):
        fake = FakeCohere(text("All clean here."), text("All clean here."))
        c = client(fake, input_contracts=[RequestParametersContract(auto_fix=True)])

        c.chat(model=MODEL, messages=MESSAGES, max_tokens=20_000)
        c.chat(model="command-r-08-2024", messages=MESSAGES, max_tokens=20_000)

        # command-a-03-2025 writes at most 8,000 tokens, command-r-08-2024 at most 4,000.
        assert [b["max_tokens"] for b in fake.bodies] == [8_000, 4_000]

    def test_known_models_are_coheres_own(self):
        fake = FakeCohere(text("All clean here."))
        c = client(fake, input_contracts=[KnownModelContract()])

        assert get_report(c.chat(model=MODEL, messages=MESSAGES)).outcome == "passed"
        with pytest.raises(ContractViolationError, match="Did you mean 'command-a-03-2025'"):
            c.chat(model="command-a-03-2052", messages=MESSAGES)
        # An OpenAI model name is not a Cohere model.
        with pytest.raises(ContractViolationError, match="not a known model"):
            c.chat(model="gpt-4o", messages=MESSAGES)
        assert len(fake.requests) == 1

    def test_an_input_violation_is_refused_before_the_call(self):
        fake = FakeCohere()
        c = client(fake, input_contracts=[RequestParametersContract()])

        with pytest.raises(ContractViolationError, match="tool_call_id"):
            c.chat(model=MODEL, messages=[*MESSAGES, {"role": "tool", "content": "42"}])

        assert fake.requests == []


class TestAsync:
    async def test_async_chat_reasks_and_passes(self):
        fake = FakeCohere(text("This is forbidden."), text("All clean here."))

        answer = await aclient(fake, contract_retries=1).chat(model=MODEL, messages=MESSAGES)

        assert answer.message.content[0].text == "All clean here."
        assert get_report(answer).outcome == "repaired"

    async def test_async_chat_answers_with_the_declared_fallback(self):
        fake = FakeCohere(text("This is forbidden."))

        answer = await aclient(fake, fallback="Sorry.").chat(model=MODEL, messages=MESSAGES)

        assert answer.message.content[0].text == "Sorry."
        assert get_report(answer).outcome == "fallback"

    async def test_async_streams_hold_back_without_leaks(self):
        fake = FakeCohere(text("Fine. ", "The pass", "word is hun", "ter2 ", "ok."))
        c = aclient(
            fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy="hold_back:3"
        )
        seen = ""

        with pytest.raises(ContractViolationError):
            async for event in c.chat_stream(model=MODEL, messages=MESSAGES):
                if event.type == "content-delta":
                    seen += event.delta.message.content.text

        assert "hun" not in seen
        assert c.last_report.outcome == "violated"

    async def test_async_stream_exceptions_pass_through_unchanged(self):
        fake = FakeCohere(Turn(status=429, error="slow down"))
        c = aclient(fake, stream_policy="buffer")

        with pytest.raises(cohere.TooManyRequestsError):
            async for _ in c.chat_stream(model=MODEL, messages=MESSAGES):
                pass

    async def test_async_streams_pass_clean_text_whole(self):
        fake = FakeCohere(text("All ", "clean ", "here."))
        c = aclient(fake, stream_policy="sentence")

        events = [e async for e in c.chat_stream(model=MODEL, messages=MESSAGES)]

        assert streamed_text(events) == "All clean here."
        assert c.last_report.outcome == "passed" and c.last_report.streamed

    async def test_async_exceptions_pass_through_unchanged(self):
        fake = FakeCohere(Turn(status=400, error="bad"))

        with pytest.raises(cohere.BadRequestError):
            await aclient(fake).chat(model=MODEL, messages=MESSAGES)


def test_the_otel_span_names_cohere_as_the_provider():
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra (opentelemetry-sdk) is not installed")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fake = FakeCohere(text("All clean here.", input_tokens=12, output_tokens=3))

    client(fake, otel=provider).chat(model=MODEL, messages=MESSAGES)

    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.provider.name"] == "cohere"
    # The tokens the model read (the fake adds 2 for the prompt template), not the billed ones.
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        14,
        3,
    )


def test_a_conversation_records_the_cohere_turns():
    fake = FakeCohere(text("Hello Ada."), text("It ships today."))
    c = client(fake)
    history: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]

    with c.conversation("s-1") as conv:
        first = c.chat(model=MODEL, messages=history)
        history += [
            {"role": "assistant", "content": first.message.content[0].text},
            {"role": "user", "content": "Where is my order?"},
        ]
        c.chat(model=MODEL, messages=history)

    assert [(t.role, t.content) for t in conv.turns] == [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello Ada."),
        ("user", "Where is my order?"),
        ("assistant", "It ships today."),
    ]
    assert c.last_report.session_id == "s-1"


def test_importing_the_sdk_does_not_import_cohere():
    code = "import sys, llm_contracts; print('cohere' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


def test_without_cohere_installed_the_client_names_the_extra_to_install():
    code = (
        "import sys; sys.modules['cohere'] = None\n"
        "import llm_contracts\n"
        "try:\n    llm_contracts.ContractCohere\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert (
        out.stdout.strip() == "ContractCohere needs the 'cohere' package: pip install 'llm-contracts[cohere]'"
    )


def test_a_decorated_function_returning_a_cohere_answer_is_judged_on_its_text():
    from llm_contracts import post

    fake = FakeCohere(text("Sure: TICKET-12"), text("No ticket today."))
    raw = cohere.ClientV2(api_key="test-key", httpx_client=fake.http_client())

    # Anchored: the JSON dump of the whole answer would not match, its text does.
    @post(RegexContract(r"^Sure: TICKET-\d+$"))
    def triage(prompt: str) -> Any:
        return raw.chat(model=MODEL, messages=[{"role": "user", "content": prompt}])

    assert triage("open a ticket").message.content[0].text == "Sure: TICKET-12"
    with pytest.raises(ContractViolationError):
        triage("again")


class TestWrapping:
    def test_an_existing_client_is_wrapped_with_its_key_url_timeout_and_transport(self):
        fake = FakeCohere(text("This is forbidden."), text("All clean here."))
        plain = cohere.ClientV2(
            api_key="their-key",
            base_url="https://cohere.internal.example",
            timeout=7,
            httpx_client=fake.http_client(),
        )

        c = ContractCohere(client=plain, output_contracts=[no_forbidden()], contract_retries=1)
        answer = c.chat(model=MODEL, messages=MESSAGES)

        assert get_report(answer).outcome == "repaired"
        assert [str(r.url) for r in fake.requests] == ["https://cohere.internal.example/v2/chat"] * 2
        assert {r.headers["authorization"] for r in fake.requests} == {"Bearer their-key"}
        assert c._client_wrapper.get_timeout() == 7

    async def test_an_existing_async_client_is_wrapped(self):
        fake = FakeCohere(text("This is forbidden."))
        plain = cohere.AsyncClientV2(api_key="their-key", httpx_client=fake.async_http_client())

        c = AsyncContractCohere(client=plain, output_contracts=[no_forbidden()])

        with pytest.raises(ContractViolationError):
            await c.chat(model=MODEL, messages=MESSAGES)
        assert fake.requests[0].headers["authorization"] == "Bearer their-key"

    def test_copy_and_with_options_keep_the_contracts_with_coheres_options_changed(self):
        fake = FakeCohere(text("This is forbidden."), text("This is forbidden."))
        c = client(fake, contract_retries=0)

        twins = [c.copy(timeout=5), c.with_options(base_url="https://cohere.internal.example")]

        for twin in twins:
            assert type(twin) is ContractCohere and twin is not c
            assert [x.name for x in twin.output_contracts] == ["no_forbidden"]
            with pytest.raises(ContractViolationError):
                twin.chat(model=MODEL, messages=MESSAGES)
            assert twin.last_report.outcome == "violated"
        assert twins[0]._client_wrapper.get_timeout() == 5
        assert str(fake.requests[1].url) == "https://cohere.internal.example/v2/chat"
        assert {r.headers["authorization"] for r in fake.requests} == {"Bearer test-key"}
        assert c.last_report is None  # each copy reports its own calls

    def test_a_copy_may_change_the_contracts(self):
        fake = FakeCohere(text("This is forbidden."), text("This is forbidden."), text("All clean."))
        c = client(fake)

        assert (
            get_report(c.copy(output_contracts=[]).chat(model=MODEL, messages=MESSAGES)).outcome == "passed"
        )
        answer = c.copy(contract_retries=1).chat(model=MODEL, messages=MESSAGES)
        assert get_report(answer).outcome == "repaired"
        assert c.contract_retries == 0

    def test_pythons_copy_gives_a_client_with_its_own_contracts_and_reports(self):
        import copy
        import gc

        fake = FakeCohere(text("All clean."), text("This is forbidden."))
        c = client(fake)
        twin = copy.copy(c)
        del c
        gc.collect()

        assert get_report(twin.chat(model=MODEL, messages=MESSAGES)).outcome == "passed"
        assert twin.last_report is not None and twin.last_report.outcome == "passed"
        with pytest.raises(ContractViolationError):
            twin.chat(model=MODEL, messages=MESSAGES)

    async def test_async_copy_and_with_options_keep_the_contracts(self):
        fake = FakeCohere(text("This is forbidden."), text("This is forbidden."))
        c = aclient(fake)

        for twin in (c.copy(timeout=5), c.with_options(max_retries=0)):
            assert type(twin) is AsyncContractCohere
            with pytest.raises(ContractViolationError):
                await twin.chat(model=MODEL, messages=MESSAGES)
            assert twin.last_report.outcome == "violated"

    def test_a_client_of_another_kind_is_refused_with_what_was_expected(self):
        with pytest.raises(ContractConfigError, match="client= must be a cohere.ClientV2"):
            ContractCohere(client=cohere.AsyncClientV2(api_key="k"))
