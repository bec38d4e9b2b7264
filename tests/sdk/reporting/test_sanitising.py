"""NUL bytes and lone surrogates never leave the SDK: events and traces on a live local server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from llm_contracts import ContractOpenAI, FunctionContract
from llm_contracts.testing import FakeLLM

BAD = re.compile("[\x00\ud800-\udfff]")
DIRTY = "nul\x00 here, lone \udc80 and \ud83d there, a pair \ud83d\ude00 kept"


def strings(value: Any) -> Iterator[str]:
    """Yield every string of JSON data, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def test_clean_text_drops_nul_and_lone_surrogates_and_joins_pairs():
    from llm_contracts.reporting._events import clean_text

    assert clean_text(DIRTY) == "nul here, lone  and  there, a pair \U0001f600 kept"
    assert clean_text("plain text") == "plain text"


def test_no_event_or_trace_field_carries_a_nul_or_a_lone_surrogate(plane, make_reporter):
    # The fake model's JSON cannot carry a lone surrogate; the contract's name and message can.
    fake = FakeLLM(default="answer with a nul\x00 and a pair \U0001f600", model="gpt-4o-mini")
    reporter = make_reporter(plane.url)
    contract = FunctionContract(
        lambda text: "never" in text,
        name="needs\x00never\udc80",
        message=f"the answer lacks never: {DIRTY}",
        enforcement="monitor",
    )
    client = ContractOpenAI(
        api_key="sk-test",
        http_client=fake.http_client(),
        max_retries=0,
        reporter=reporter,
        output_contracts=[contract],
        upload_traces="all",
    )

    # openai cannot send a lone surrogate; a NUL it sends, and one inside a card number
    # must not hide the number from the redactor.
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "card 4111\x001111 1111 1111, a nul\x00 and a pair \U0001f600"}
        ],
    )
    assert reporter.flush(5)

    (event,) = plane.events
    (trace,) = plane.traces
    assert event["contract"] == "needsnever"
    assert "\U0001f600" in event["input_excerpt"] and "\U0001f600" in event["output_excerpt"]
    assert "\U0001f600" in event["message"]
    assert "4111" not in event["input_excerpt"] and "[CREDIT_CARD]" in event["input_excerpt"]
    assert [s for s in strings(event) if BAD.search(s)] == []
    assert [s for s in strings(trace) if BAD.search(s)] == []
    assert "needsnever" in list(strings(trace))
