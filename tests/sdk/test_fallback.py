"""The declared fallback: used only when re-asks run out, never silently."""

from __future__ import annotations

import logging

import openai
import pytest

from llm_contracts import ContractOpenAI, ContractViolationError, FunctionContract, get_report
from llm_contracts.testing import FakeLLM

FALLBACK = "Sorry, I can't help with that right now."


def no_forbidden() -> FunctionContract:
    return FunctionContract(lambda text: "forbidden" not in text, name="no_forbidden")


def make(fake: FakeLLM, **kwargs) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="t",
        http_client=fake.http_client(),
        max_retries=0,
        output_contracts=[no_forbidden()],
        **kwargs,
    )


class TestFallback:
    def test_without_a_fallback_a_violation_raises(self):
        fake = FakeLLM().reply("forbidden words", "forbidden again")
        with pytest.raises(ContractViolationError):
            make(fake, contract_retries=1).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )

    def test_with_a_fallback_the_answer_is_the_declared_text_in_openais_type(self, caplog):
        fake = FakeLLM().reply("forbidden words", "forbidden again")
        client = make(fake, contract_retries=1, fallback=FALLBACK)

        with caplog.at_level(logging.WARNING, logger="llm_contracts"):
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )

        assert isinstance(reply, openai.types.chat.ChatCompletion)
        assert reply.choices[0].message.content == FALLBACK
        report = get_report(reply)
        assert report.outcome == "fallback"
        assert [a.text for a in report.attempts] == ["forbidden words", "forbidden again"]
        assert any("fallback" in r.getMessage() for r in caplog.records)

    def test_a_passing_answer_is_never_replaced_by_the_fallback(self):
        fake = FakeLLM().reply("clean answer")
        reply = make(fake, fallback=FALLBACK).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content == "clean answer"
        assert get_report(reply).outcome == "passed"

    def test_the_responses_api_gets_the_fallback_as_its_output_text(self):
        fake = FakeLLM().reply("forbidden words")
        reply = make(fake, fallback=FALLBACK).responses.create(model="gpt-4o", input="hi")
        assert isinstance(reply, openai.types.responses.Response)
        assert reply.output_text == FALLBACK
        assert get_report(reply).outcome == "fallback"

    def test_a_raw_response_is_not_rewritten_and_still_raises(self):
        fake = FakeLLM().reply("forbidden words")
        client = make(fake, fallback=FALLBACK)
        with pytest.raises(ContractViolationError):
            client.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )

    def test_a_copy_keeps_the_fallback(self):
        fake = FakeLLM().reply("forbidden words")
        reply = (
            make(fake, fallback=FALLBACK)
            .with_options(timeout=3)
            .chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        )
        assert reply.choices[0].message.content == FALLBACK

    def test_an_llmcl_fallback_reaches_the_client(self):
        from llm_contracts.llmcl import load_source

        source = """contract Reply {
  ensure not contains(output, "forbidden")
  on violation fallback "Sorry, I can't help with that right now."
}
"""
        fake = FakeLLM().reply("forbidden words")
        client = ContractOpenAI(
            api_key="t", http_client=fake.http_client(), **load_source(source).client_kwargs()
        )
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == FALLBACK
