"""Holding stream policies never release text a contract then rejects, whatever the chunking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseTextDeltaEvent
from pydantic import BaseModel

from llm_contracts import (
    AsyncContractOpenAI,
    ContractOpenAI,
    ContractViolationError,
    FunctionContract,
    StreamPolicy,
)
from llm_contracts.contracts import (
    ContentPolicyContract,
    Contract,
    JSONFormatContract,
    LengthContract,
    PIIContract,
    PydanticContract,
    RegexContract,
    ValidationContext,
)
from llm_contracts.enforcement import ContractEngine
from llm_contracts.enforcement._report import ContractReport
from llm_contracts.enforcement._streaming import StreamValidator
from llm_contracts.testing import FakeLLM, FakeReply

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Tell me something."}]
HOLDING = ["hold_back:1", "hold_back:3", "hold_back:8", "sentence", "buffer"]
# Words that come close to the forbidden texts without being them.
NEAR = [
    "My",
    "password",
    "is",
    "hunt",
    "hunter",
    "hunter1",
    "h",
    "hunter3x",
    "launch",
    "code.",
    "jane",
    "jane.doe",
    "example.com",
    "@",
    "ok.",
    "fine",
    "Done!",
    "A",
    "b",
    "\n",
    "12",
    "launch code",
]


class Answer(BaseModel):
    answer: str


FORBIDDING: dict[str, tuple[Callable[[], Contract], str]] = {
    "regex": (lambda: RegexContract(r"hunter2", must_match=False), "hunter2"),
    "content policy": (
        lambda: ContentPolicyContract({}, ["launch codes"], category="output"),
        "launch codes",
    ),
    "pii": (lambda: PIIContract(kinds=["email"], category="output"), "jane.doe@example.com"),
}
WHOLE_ANSWER: dict[str, tuple[Callable[[], Contract], str]] = {
    "json": (JSONFormatContract, '{"answer": "all clean here", "note": "but the brace never closes"'),
    "pydantic": (lambda: PydanticContract(Answer), '{"answer": 42, "padding": "a long enough answer"}'),
    "must-match regex": (lambda: RegexContract(r"TICKET-\d+"), "Here is your ticket number: 1234. Enjoy."),
    "length minimum": (lambda: LengthContract(min_chars=500), "A short answer. It ends here, too soon."),
}


def _delta(chunk: Any) -> str:
    if isinstance(chunk, ResponseTextDeltaEvent):
        return chunk.delta
    if isinstance(chunk, ChatCompletionChunk) and chunk.choices:
        return chunk.choices[0].delta.content or ""
    return ""


def _open(client: ContractOpenAI, endpoint: str) -> Any:
    if endpoint == "chat":
        return client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    return client.responses.create(model=MODEL, input="Tell me something.", stream=True)


def _stream(
    contract: Contract, policy: str, text: str, pieces: list[str], endpoint: str
) -> tuple[str, ContractViolationError | None, ContractOpenAI]:
    """Stream ``text`` in ``pieces``; return what the caller saw and the error it got, if any."""
    fake = FakeLLM().reply(FakeReply(text, chunks=pieces))
    client = ContractOpenAI(
        api_key="test",
        http_client=fake.http_client(),
        max_retries=0,
        output_contracts=[contract],
        stream_policy=policy,
    )
    seen: list[str] = []
    try:
        for chunk in _open(client, endpoint):
            seen.append(_delta(chunk))
    except ContractViolationError as exc:
        return "".join(seen), exc, client
    return "".join(seen), None, client


@st.composite
def chunkings(draw: st.DrawFn, text: str) -> list[str]:
    """Cut ``text`` at random places: single characters, odd splits, whole words."""
    if len(text) < 2:
        return [text]
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=len(text))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@st.composite
def forbidden_answers(draw: st.DrawFn) -> tuple[str, str, str, list[str]]:
    name = draw(st.sampled_from(sorted(FORBIDDING)))
    forbidden = FORBIDDING[name][1]
    before = draw(st.lists(st.sampled_from(NEAR), max_size=12))
    after = draw(st.lists(st.sampled_from(NEAR), max_size=6))
    text = " ".join([*before, forbidden, *after])
    return name, forbidden, text, draw(chunkings(text))


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestForbiddenText:
    @SETTINGS
    @given(
        case=forbidden_answers(),
        policy=st.sampled_from(HOLDING),
        endpoint=st.sampled_from(["chat", "responses"]),
    )
    def test_no_character_of_a_forbidden_match_reaches_the_caller(self, case, policy, endpoint):
        name, forbidden, text, pieces = case
        seen, error, _ = _stream(FORBIDDING[name][0](), policy, text, pieces, endpoint)

        assert error is not None, f"{name} let {text!r} through"
        assert error.report.outcome == "violated"
        assert text.startswith(seen)
        # The first occurrence is the one a check rejects; nothing from its first character on.
        assert len(seen) <= text.index(forbidden), (seen, text)

    @SETTINGS
    @given(
        words=st.lists(st.sampled_from(NEAR), min_size=1, max_size=15),
        data=st.data(),
        policy=st.sampled_from(HOLDING),
        name=st.sampled_from(sorted(FORBIDDING)),
    )
    def test_a_clean_answer_is_delivered_whole_and_in_order(self, words, data, policy, name):
        text = " ".join(words)
        seen, error, client = _stream(FORBIDDING[name][0](), policy, text, data.draw(chunkings(text)), "chat")

        assert error is None
        assert seen == text
        assert client.last_report.outcome == "passed"


class TestWholeAnswerContracts:
    @SETTINGS
    @given(
        name=st.sampled_from(sorted(WHOLE_ANSWER)),
        policy=st.sampled_from(HOLDING),
        data=st.data(),
        endpoint=st.sampled_from(["chat", "responses"]),
    )
    def test_no_character_of_a_rejected_answer_reaches_the_caller(self, name, policy, data, endpoint):
        factory, text = WHOLE_ANSWER[name]
        seen, error, _ = _stream(factory(), policy, text, data.draw(chunkings(text)), endpoint)

        assert error is not None
        assert seen == ""
        assert "final" in error.report.stop_reason

    @pytest.mark.parametrize("policy", ["hold_back:3", "sentence"])
    def test_the_report_says_the_answer_was_held_to_the_end(self, policy):
        seen, error, client = _stream(
            JSONFormatContract(), policy, '{"answer": "ok"}', ['{"ans', 'wer": ', '"ok"}'], "chat"
        )

        assert error is None and seen == '{"answer": "ok"}'
        assert "JSONFormatContract judges only the complete answer" in client.last_report.hold_reason

    async def test_async_no_character_of_a_rejected_answer_reaches_the_caller(self):
        text = WHOLE_ANSWER["json"][1]
        fake = FakeLLM().reply(FakeReply(text, chunks=list(text)))
        client = AsyncContractOpenAI(
            api_key="test",
            http_client=fake.async_http_client(),
            max_retries=0,
            output_contracts=[JSONFormatContract()],
            stream_policy="hold_back:3",
        )
        seen: list[str] = []

        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(ContractViolationError):
            async for chunk in stream:
                seen.append(_delta(chunk))

        assert "".join(seen) == ""


def _validator(contract: Contract, policy: StreamPolicy) -> StreamValidator:
    return StreamValidator(
        engine=ContractEngine(output_contracts=[contract]),
        policy=policy,
        report=ContractReport(),
        context=ValidationContext(),
        delta_text=lambda c: c,
        chunk_usage=lambda c: None,
        on_done=lambda r: None,
    )


class TestHowMuchIsHeld:
    def test_a_forbidden_pattern_holds_exactly_the_text_that_could_still_match(self):
        validator = _validator(RegexContract(r"hunter2", must_match=False), StreamPolicy.hold_back(1))
        released = []
        shown = {}
        for ch in "My password is hunter1 and hunt.":
            released += validator.feed(ch)
            shown["".join(validator.parts)] = "".join(released)

        assert shown["My password is h"] == "My password is "
        assert shown["My password is hunter"] == "My password is "
        assert shown["My password is hunter1"] == "My password is hunter1"
        assert shown["My password is hunter1 and hunt"] == "My password is hunter1 and "
        assert "".join(released + validator.finish()) == "My password is hunter1 and hunt."

    def test_hold_back_counts_characters_for_a_check_of_your_own(self):
        check = FunctionContract(lambda text: "forbidden" not in text, streaming=True)
        validator = _validator(check, StreamPolicy.hold_back(8))
        released: list[str] = []

        for piece in ["It is all ", "fine, ", "no for", "b", "i", "d"]:
            released += validator.feed(piece)
            assert len("".join(validator.parts)) - len("".join(released)) >= 8 or not released

        with pytest.raises(ContractViolationError):
            for piece in ["d", "e", "n"]:
                released += validator.feed(piece)
        assert "forb" not in "".join(released)

    def test_a_stream_hold_method_decides_for_a_check_of_your_own(self):
        class NoDigits(Contract):
            supports_streaming = True

            def validate(self, value, context=None):
                return self.fail("digits") if any(c.isdigit() for c in value.text) else self.ok()

            def stream_hold(self, text, context):
                return len(text)  # a digit is rejected by the chunk that carries it

        validator = _validator(NoDigits(), StreamPolicy.hold_back(50))

        assert validator.feed("no digits") == ["no digits"]
        with pytest.raises(ContractViolationError):
            validator.feed(" 4")
