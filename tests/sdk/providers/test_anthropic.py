"""ContractAnthropic through the real ``anthropic`` package, over a mock transport."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic
import pydantic
import pytest

import llm_contracts
from llm_contracts import (
    AsyncContractAnthropic,
    ContractAnthropic,
    ContractViolationError,
    FunctionContract,
    RegexContract,
    RequestParametersContract,
    ToolCallContract,
    get_report,
)
from llm_contracts.reporting._events import report_events

from .anthropic_fake import MODEL, FakeAnthropic, Turn, text

ROOT = Path(llm_contracts.__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "Tell me something."}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


def no_forbidden() -> FunctionContract:
    return FunctionContract(lambda t: "forbidden" not in t, name="no_forbidden")


def client(fake: FakeAnthropic, **kwargs: Any) -> ContractAnthropic:
    kwargs.setdefault("output_contracts", [no_forbidden()])
    return ContractAnthropic(api_key="test-key", http_client=fake.http_client(), max_retries=0, **kwargs)


def aclient(fake: FakeAnthropic, **kwargs: Any) -> AsyncContractAnthropic:
    kwargs.setdefault("output_contracts", [no_forbidden()])
    return AsyncContractAnthropic(
        api_key="test-key", http_client=fake.async_http_client(), max_retries=0, **kwargs
    )


def create(c: ContractAnthropic, **kwargs: Any) -> Any:
    return c.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, **kwargs)


class TestCreate:
    def test_a_clean_answer_comes_back_as_anthropics_message_with_a_report(self):
        fake = FakeAnthropic(text("All clean here."))
        reports = []
        c = client(fake, on_report=reports.append)

        message = create(c)

        assert isinstance(message, anthropic.types.Message)
        assert message.content[0].text == "All clean here."
        report = get_report(message)
        assert (report.outcome, report.provider, report.endpoint) == ("passed", "anthropic", "/v1/messages")
        assert reports == [report]
        assert report_events(report)[0]["provider"] == "anthropic"

    def test_a_violation_raises_with_the_answer_in_the_report(self):
        fake = FakeAnthropic(text("This is forbidden."))

        with pytest.raises(ContractViolationError) as caught:
            create(client(fake))

        assert caught.value.report.provider == "anthropic"
        assert caught.value.report.attempts[0].text == "This is forbidden."

    def test_a_reask_appends_the_answer_and_the_feedback_and_sums_usage(self):
        fake = FakeAnthropic(
            text("This is forbidden.", input_tokens=10, output_tokens=4),
            text("All clean here.", input_tokens=30, output_tokens=6),
        )

        message = create(client(fake, contract_retries=1), system="Be brief.")

        assert get_report(message).outcome == "repaired"
        retry = fake.bodies[1]
        assert retry["system"] == "Be brief."
        assert retry["messages"][:1] == MESSAGES
        assert retry["messages"][1] == {
            "role": "assistant",
            "content": [{"type": "text", "text": "This is forbidden."}],
        }
        feedback = retry["messages"][2]
        assert feedback["role"] == "user" and "no_forbidden" in feedback["content"][0]["text"]
        assert (message.usage.input_tokens, message.usage.output_tokens) == (40, 10)
        assert get_report(message).total_usage.total_tokens == 50

    def test_a_reask_keeps_the_thinking_blocks_of_the_rejected_turn(self):
        fake = FakeAnthropic(text("This is forbidden.", thinking="Let me think."), text("All clean here."))

        create(client(fake, contract_retries=1))

        assert fake.bodies[1]["messages"][1]["content"] == [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "text", "text": "This is forbidden."},
        ]

    def test_thinking_blocks_pass_through_unjudged(self):
        fake = FakeAnthropic(text("All clean here.", thinking="is this forbidden? no."))

        message = create(client(fake))

        assert [b.type for b in message.content] == ["thinking", "text"]
        assert get_report(message).outcome == "passed"

    def test_the_declared_fallback_answers_in_anthropics_type(self):
        fake = FakeAnthropic(text("This is forbidden."))

        message = create(client(fake, fallback="Sorry, I cannot help with that."))

        assert isinstance(message.content[0], anthropic.types.TextBlock)
        assert message.content[0].text == "Sorry, I cannot help with that."
        assert get_report(message).outcome == "fallback"

    def test_raw_responses_are_judged_and_keep_their_type(self):
        fake = FakeAnthropic(text("This is forbidden."), text("All clean here."))

        raw = client(fake, contract_retries=1).messages.with_raw_response.create(
            model=MODEL, max_tokens=256, messages=MESSAGES
        )

        assert raw.http_response.status_code == 200
        assert raw.parse().content[0].text == "All clean here."
        assert get_report(raw.parse()).outcome == "repaired"


class Answer(pydantic.BaseModel):
    answer: str


class TestParse:
    def test_an_answer_that_does_not_fit_output_format_is_reasked(self):
        fake = FakeAnthropic(text('{"answer": 4'), text('{"answer": "ok"}'))

        message = client(fake, output_contracts=[], contract_retries=1).messages.parse(
            model=MODEL, max_tokens=256, messages=MESSAGES, output_format=Answer
        )

        assert message.parsed_output == Answer(answer="ok")
        report = get_report(message)
        assert report.outcome == "repaired"
        assert "does not fit the output_format" in report.attempts[0].results[0].message
        assert fake.bodies[0]["output_config"]["format"]["type"] == "json_schema"

    def test_with_no_retries_left_the_misfit_is_a_contract_violation(self):
        fake = FakeAnthropic(text('{"answer": 4}'))

        with pytest.raises(ContractViolationError, match="output_format"):
            client(fake, output_contracts=[]).messages.parse(
                model=MODEL, max_tokens=256, messages=MESSAGES, output_format=Answer
            )


class TestTools:
    def test_tool_input_is_judged_against_its_input_schema_and_the_reask_answers_the_call(self):
        fake = FakeAnthropic(
            Turn(tools=[("toolu_1", "get_weather", {"town": "Paris"})]),
            Turn(tools=[("toolu_2", "get_weather", {"city": "Paris"})]),
        )
        c = client(fake, output_contracts=[ToolCallContract()], contract_retries=1)

        message = create(c, tools=[WEATHER])

        assert message.content[0].input == {"city": "Paris"}
        assert get_report(message).outcome == "repaired"
        first = get_report(message).attempts[0].results
        assert not first[0].is_valid and "town" in first[0].message
        assistant, user = fake.bodies[1]["messages"][1:]
        assert assistant["content"] == [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"town": "Paris"}}
        ]
        assert user["content"][0] == {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "is_error": True,
            "content": "This call was rejected; see below.",
        }
        assert user["content"][1]["type"] == "text"

    def test_a_valid_tool_call_passes(self):
        fake = FakeAnthropic(Turn(tools=[("toolu_1", "get_weather", {"city": "Oslo"})]))

        message = create(client(fake, output_contracts=[ToolCallContract()]), tools=[WEATHER])

        assert get_report(message).outcome == "passed"


class TestStreaming:
    def test_a_stream_yields_anthropics_events_and_reports_when_done(self):
        fake = FakeAnthropic(text("All ", "clean ", "here."))
        c = client(fake)

        stream = create(c, stream=True)
        events = list(stream)

        assert [e.type for e in events][0] == "message_start"
        assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == "All clean here."
        report = get_report(stream)
        assert report.outcome == "passed" and report.streamed and report.provider == "anthropic"
        # The prompt's tokens come with message_start, the output's with message_delta.
        assert (report.total_usage.prompt_tokens, report.total_usage.completion_tokens) == (10, 5)

    def test_the_stream_helper_is_covered(self):
        fake = FakeAnthropic(text("All ", "clean ", "here."))

        with client(fake).messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES) as stream:
            assert "".join(stream.text_stream) == "All clean here."
            final = stream.get_final_message()

        assert final.content[0].text == "All clean here."
        assert c_last_outcome(stream) == "passed"

    @pytest.mark.parametrize("policy", ["hold_back:3", "sentence", "buffer"])
    def test_held_text_never_leaks_before_a_violation(self, policy):
        fake = FakeAnthropic(text("Fine. ", "The pass", "word is hun", "ter2 ", "ok."))
        c = client(fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy=policy)
        seen = ""

        with pytest.raises(ContractViolationError):
            for event in create(c, stream=True):
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    seen += event.delta.text

        assert "hunter2" not in seen and "hun" not in seen
        assert c.last_report.outcome == "violated"

    def test_a_rejected_streamed_tool_call_never_reaches_the_caller(self):
        fake = FakeAnthropic(Turn(pieces=["Checking."], tools=[("toolu_1", "get_weather", {"town": "Oslo"})]))
        c = client(fake, output_contracts=[ToolCallContract()], stream_policy="hold_back:1")
        seen = []

        with pytest.raises(ContractViolationError):
            for event in create(c, stream=True, tools=[WEATHER]):
                seen.append(event)

        assert not [e for e in seen if e.type == "content_block_start" and e.content_block.type == "tool_use"]
        assert not [e for e in seen if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]

    def test_a_valid_streamed_tool_call_is_released_whole(self):
        fake = FakeAnthropic(Turn(tools=[("toolu_1", "get_weather", {"city": "Oslo"})]))
        c = client(fake, output_contracts=[ToolCallContract()], stream_policy="hold_back:1")

        events = list(create(c, stream=True, tools=[WEATHER]))

        arguments = "".join(
            e.delta.partial_json
            for e in events
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        )
        assert json.loads(arguments) == {"city": "Oslo"}
        assert c.last_report.outcome == "passed"

    def test_closing_a_stream_early_is_reported(self):
        fake = FakeAnthropic(text("All ", "clean ", "here."))
        c = client(fake)

        stream = create(c, stream=True)
        next(iter(stream))
        stream.close()

        assert get_report(stream).stop_reason == "closed by caller before the end of the stream"


class TestStreamingResponse:
    def test_a_streamed_body_releases_no_byte_of_a_forbidden_match(self):
        fake = FakeAnthropic(text("Fine. ", "The pass", "word is hun", "ter2 ", "ok."))
        fake.chunked = True  # one event per piece of the body, as a real server sends them
        c = client(
            fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy="hold_back:3"
        )
        lines: list[str] = []

        with (
            pytest.raises(ContractViolationError),
            c.messages.with_streaming_response.create(
                model=MODEL, max_tokens=256, messages=MESSAGES, stream=True
            ) as response,
        ):
            for line in response.iter_lines():
                lines.append(line)

        body = "\n".join(lines)
        assert "Fine. " in body and "hun" not in body
        assert c.last_report.outcome == "violated" and c.last_report.streamed

    @pytest.mark.parametrize(
        ("blank", "raw_unicode", "tail"),
        [("\r\n", False, ""), ("\r", False, ""), ("\n", True, "\u2028"), ("\n", True, "\x85")],
    )
    def test_a_streamed_body_is_cut_into_events_where_anthropic_cuts_it(self, blank, raw_unicode, tail):
        # anthropic ends an event at any empty line (\r\n, \r or \n) and splits lines at \r and
        # \n only: an unescaped U+2028 in the JSON is text.
        fake = FakeAnthropic(text("Fine. ", "The pass", "word is hun", f"ter2{tail} ", "ok."))
        fake.chunked, fake.blank, fake.raw_unicode = True, blank, raw_unicode
        c = client(
            fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy="buffer"
        )
        seen = ""

        with (
            pytest.raises(ContractViolationError),
            c.messages.with_streaming_response.create(
                model=MODEL, max_tokens=256, messages=MESSAGES, stream=True
            ) as response,
        ):
            for event in response.parse():
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    seen += event.delta.text

        assert "hun" not in seen
        assert c.last_report.outcome == "violated"

    def test_a_json_body_is_judged_when_read(self):
        fake = FakeAnthropic(text("This is forbidden."), text("All clean here."))
        c = client(fake, stream_policy="buffer")

        with (
            pytest.raises(ContractViolationError),
            c.messages.with_streaming_response.create(model=MODEL, max_tokens=256, messages=MESSAGES) as r,
        ):
            r.parse()
        with c.messages.with_streaming_response.create(model=MODEL, max_tokens=256, messages=MESSAGES) as r:
            message = r.parse()

        assert message.content[0].text == "All clean here."
        assert get_report(message).outcome == "passed"


def c_last_outcome(stream: Any) -> str:
    return get_report(stream._raw_stream).outcome


class TestCoverage:
    def test_beta_messages_are_judged(self):
        fake = FakeAnthropic(text("This is forbidden."), text("All clean here."))
        c = client(fake)

        with pytest.raises(ContractViolationError):
            c.beta.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)
        message = c.beta.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, betas=["x-1"])

        assert isinstance(message, anthropic.types.beta.BetaMessage)
        assert get_report(message).outcome == "passed"
        assert fake.requests[1].headers["anthropic-beta"] == "x-1"

    def test_the_route_matches_beta_urls_and_full_urls_but_not_count_tokens(self):
        from llm_contracts.providers import get_provider

        spec = get_provider("anthropic")

        assert spec.route_for("post", "/v1/messages?beta=true").endpoint == "/v1/messages"
        assert (
            spec.route_for("post", "https://proxy.example/anthropic/v1/messages").endpoint == "/v1/messages"
        )
        assert spec.route_for("post", "/v1/messages/count_tokens") is None
        assert spec.route_for("get", "/v1/messages") is None

    def test_count_tokens_passes_through(self):
        fake = FakeAnthropic()
        c = client(fake, output_contracts=[FunctionContract(lambda t: False, name="never")])

        count = c.messages.count_tokens(model=MODEL, messages=MESSAGES)

        assert count.input_tokens == 42
        assert c.last_report is None

    def test_copy_and_with_options_keep_the_contracts(self):
        fake = FakeAnthropic(text("This is forbidden."), text("This is forbidden."))
        c = client(fake)

        for twin in (c.copy(timeout=5), c.with_options(max_retries=0)):
            assert isinstance(twin, ContractAnthropic)
            assert [x.name for x in twin.output_contracts] == ["no_forbidden"]
            with pytest.raises(ContractViolationError):
                create(twin)

    def test_wrapping_an_existing_client_keeps_its_http_client(self):
        fake = FakeAnthropic(text("This is forbidden."))
        plain = anthropic.Anthropic(api_key="test-key", http_client=fake.http_client(), max_retries=0)

        with pytest.raises(ContractViolationError):
            create(ContractAnthropic(client=plain, output_contracts=[no_forbidden()]))

    def test_anthropics_exceptions_pass_through_unchanged(self):
        fake = FakeAnthropic(Turn(status=400, error="max_tokens: too large"))

        with pytest.raises(anthropic.BadRequestError) as caught:
            create(client(fake))

        assert "max_tokens: too large" in str(caught.value)

    def test_input_contracts_edit_the_anthropic_body_within_the_models_limits(self):
        fake = FakeAnthropic(text("All clean here."))
        c = client(fake, input_contracts=[RequestParametersContract(auto_fix=True)])

        c.messages.create(model="claude-3-5-haiku-20241022", max_tokens=20_000, messages=MESSAGES)

        # The most claude-3-5-haiku (any dated snapshot) may write is 8,192 tokens.
        assert fake.bodies[0]["max_tokens"] == 8_192

    def test_the_parameter_checks_use_anthropics_temperature_range(self):
        from llm_contracts.providers import get_provider

        view = get_provider("anthropic").routes["/v1/messages"].requests
        request = view.read({"model": MODEL, "max_tokens": 256, "messages": MESSAGES, "temperature": 1.5})

        verdict = RequestParametersContract(auto_fix=True).validate(request)

        assert verdict.fixed_value.body["temperature"] == 1.0

    def test_a_system_role_inside_messages_is_refused_before_the_call(self):
        fake = FakeAnthropic()
        c = client(fake, input_contracts=[RequestParametersContract()])

        with pytest.raises(ContractViolationError, match="top-level system="):
            c.messages.create(
                model=MODEL, max_tokens=256, messages=[{"role": "system", "content": "Be brief."}, *MESSAGES]
            )

        assert fake.requests == []


class TestAsync:
    async def test_async_create_reasks_and_passes(self):
        fake = FakeAnthropic(text("This is forbidden."), text("All clean here."))

        message = await aclient(fake, contract_retries=1).messages.create(
            model=MODEL, max_tokens=256, messages=MESSAGES
        )

        assert message.content[0].text == "All clean here."
        assert get_report(message).outcome == "repaired"

    async def test_async_streams_hold_back_without_leaks(self):
        fake = FakeAnthropic(text("Fine. ", "The pass", "word is hun", "ter2 ", "ok."))
        c = aclient(
            fake, output_contracts=[RegexContract(r"hunter2", must_match=False)], stream_policy="hold_back:3"
        )
        seen = ""

        with pytest.raises(ContractViolationError):
            stream = await c.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, stream=True)
            async for event in stream:
                if event.type == "content_block_delta":
                    seen += event.delta.text

        assert "hun" not in seen

    async def test_async_copy_keeps_the_contracts(self):
        fake = FakeAnthropic(text("This is forbidden."))

        with pytest.raises(ContractViolationError):
            await (
                aclient(fake)
                .with_options(timeout=5)
                .messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)
            )


def test_importing_the_sdk_does_not_import_anthropic():
    code = "import sys, llm_contracts; print('anthropic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


def test_the_otel_span_names_anthropic_as_the_provider():
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra (opentelemetry-sdk) is not installed")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fake = FakeAnthropic(text("All clean here.", input_tokens=12, output_tokens=3))

    create(client(fake, otel=provider))

    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.provider.name"] == "anthropic"
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (
        12,
        3,
    )


def test_a_conversation_records_the_anthropic_turns():
    fake = FakeAnthropic(text("Hello Ada."), text("It ships today."))
    c = client(fake)
    history: list[dict[str, Any]] = [{"role": "user", "content": "Hi"}]

    with c.conversation("s-1") as conv:
        first = c.messages.create(model=MODEL, max_tokens=256, system="Be brief.", messages=history)
        history += [
            {"role": "assistant", "content": [{"type": "text", "text": first.content[0].text}]},
            {"role": "user", "content": "Where is my order?"},
        ]
        c.messages.create(model=MODEL, max_tokens=256, system="Be brief.", messages=history)

    assert [(t.role, t.content) for t in conv.turns] == [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello Ada."),
        ("user", "Where is my order?"),
        ("assistant", "It ships today."),
    ]
    assert c.last_report.session_id == "s-1"


def _profile(config_dir: Path, token: str) -> None:
    """Write an anthropic profile named "dev" whose access token is rotated outside the SDK."""
    (config_dir / "configs").mkdir(parents=True)
    (config_dir / "credentials").mkdir()
    (config_dir / "configs" / "dev.json").write_text(json.dumps({"authentication": {"type": "user_oauth"}}))
    secret = config_dir / "credentials" / "dev.json"
    secret.write_text(json.dumps({"type": "oauth_token", "access_token": token, "expires_at": 4_102_444_800}))
    secret.chmod(0o600)


@pytest.mark.parametrize("make", ["new", "copy", "wrap"])
def test_the_profile_credential_anthropic_finds_is_found_by_the_drop_in_too(tmp_path, monkeypatch, make):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("ANTHROPIC_PROFILE", "dev")
    _profile(tmp_path, "tok-from-profile")
    fake = FakeAnthropic(text("All clean here."), text("All clean here."))
    anthropic.Anthropic(http_client=fake.http_client(), max_retries=0).messages.create(
        model=MODEL, max_tokens=256, messages=MESSAGES
    )
    if make == "new":
        drop_in = ContractAnthropic(http_client=fake.http_client(), max_retries=0)
    elif make == "copy":
        drop_in = ContractAnthropic(http_client=fake.http_client(), max_retries=0).copy(timeout=5)
    else:
        drop_in = ContractAnthropic(client=anthropic.Anthropic(http_client=fake.http_client(), max_retries=0))

    create(drop_in)

    raw_auth, drop_in_auth = (r.headers.get("authorization") for r in fake.requests)
    assert raw_auth == "Bearer tok-from-profile"
    assert drop_in_auth == raw_auth


def test_a_decorated_function_returning_an_anthropic_message_is_judged_on_its_text():
    from llm_contracts import post

    fake = FakeAnthropic(text("Sure: TICKET-12"), text("No ticket today."))
    raw = anthropic.Anthropic(api_key="test-key", http_client=fake.http_client(), max_retries=0)

    # Anchored: the JSON dump of the whole message would not match, its text does.
    @post(RegexContract(r"^Sure: TICKET-\d+$"))
    def triage(prompt: str) -> Any:
        return raw.messages.create(
            model=MODEL, max_tokens=256, messages=[{"role": "user", "content": prompt}]
        )

    assert triage("open a ticket").content[0].text == "Sure: TICKET-12"
    with pytest.raises(ContractViolationError):
        triage("again")


def test_without_anthropic_installed_the_client_names_the_extra_to_install():
    code = (
        "import sys; sys.modules['anthropic'] = None\n"
        "import llm_contracts\n"
        "try:\n    llm_contracts.ContractAnthropic\nexcept ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert (
        out.stdout.strip()
        == "ContractAnthropic needs the 'anthropic' package: pip install 'llm-contracts[anthropic]'"
    )
