"""``ContractOpenAI(contracts=load_source(src))`` applies the source's retries and fallback."""

from __future__ import annotations

from typing import Any

import pytest

from llm_contracts import AsyncContractOpenAI, ContractOpenAI, ContractViolationError, get_report
from llm_contracts.llmcl import load_source
from llm_contracts.testing import FakeLLM

MESSAGES = [{"role": "user", "content": "hi"}]
FALLBACK = "Sorry, I can't help with that right now."
RETRY = """contract Reply {
  ensure not contains(output, "forbidden")
  on violation retry 2
}
"""
RETRY_AND_FALLBACK = f'''contract Reply {{
  ensure not contains(output, "forbidden")
  on violation retry 1
  on violation fallback "{FALLBACK}"
}}
'''


def both_forms(source: str, fake: FakeLLM, **extra: Any) -> list[ContractOpenAI]:
    contract_set = load_source(source)
    return [
        ContractOpenAI(
            api_key="t", http_client=fake.http_client(), max_retries=0, contracts=contract_set, **extra
        ),
        ContractOpenAI(
            api_key="t",
            http_client=fake.http_client(),
            max_retries=0,
            **{**contract_set.client_kwargs(), **extra},
        ),
    ]


def test_the_source_s_retries_apply_in_both_forms():
    fake = FakeLLM(default="all clean")
    for client in both_forms(RETRY, fake):
        fake.reply("forbidden words")

        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

        assert client.contract_retries == 2
        assert reply.choices[0].message.content == "all clean"
        assert get_report(reply).outcome == "repaired"
        assert get_report(reply).retries == 1


def test_the_source_s_fallback_applies_in_both_forms():
    fake = FakeLLM(default="forbidden always")
    for client in both_forms(RETRY_AND_FALLBACK, fake):
        reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

        assert reply.choices[0].message.content == FALLBACK
        report = get_report(reply)
        assert report.outcome == "fallback"
        assert len(report.attempts) == 2


def test_keywords_given_explicitly_win_over_the_source():
    fake = FakeLLM(default="forbidden always")
    client = ContractOpenAI(
        api_key="t",
        http_client=fake.http_client(),
        max_retries=0,
        contracts=load_source(RETRY_AND_FALLBACK),
        contract_retries=0,
        fallback=None,
    )

    with pytest.raises(ContractViolationError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert len(fake.requests) == 1


async def test_the_async_client_applies_them_too():
    fake = FakeLLM(default="forbidden always")
    client = AsyncContractOpenAI(
        api_key="t",
        http_client=fake.async_http_client(),
        max_retries=0,
        contracts=load_source(RETRY_AND_FALLBACK),
    )

    reply = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert reply.choices[0].message.content == FALLBACK
    assert len(fake.requests) == 2
