"""The Anthropic rows: the same ticket answer through the raw client, the drop-in and instructor.

The transport is the same kind as the openai rows' (a mock transport of the HTTP library
anthropic uses, wrapping prebuilt bytes), so the differences are the clients' own.
"""

from __future__ import annotations

import json
from typing import Any

from llm_contracts import get_report

from ._fixtures import MESSAGES, VALID_ANSWER, Ticket
from ._harness import Scenario

RAW_ANTHROPIC = "anthropic: raw"
ANTHROPIC_NONE = "anthropic: wrapper, no contracts"
ANTHROPIC_THREE = "anthropic: wrapper, 3 contracts"
ANTHROPIC_INSTRUCTOR = "anthropic: instructor"
MODEL = "claude-sonnet-4-5"
SYSTEM = MESSAGES[0]["content"]
TURNS = MESSAGES[1:]

_BODY = json.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": VALID_ANSWER, "citations": None}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 120, "output_tokens": 40},
    }
).encode()
_JSON = [("content-type", "application/json")]


def _options() -> dict[str, Any]:
    import httpx2  # anthropic 2.x talks through httpx2

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers=_JSON, content=_BODY)

    return {
        "api_key": "bench",
        "base_url": "http://bench.invalid",
        "max_retries": 0,
        "http_client": httpx2.Client(transport=httpx2.MockTransport(handler)),
    }


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def anthropic_scenarios(three_contracts: dict[str, Any]) -> list[Scenario]:
    """Return the Anthropic rows, or none when anthropic is not installed."""
    try:
        import anthropic
    except ImportError:
        return []
    from llm_contracts import ContractAnthropic

    out: list[Scenario] = []
    raw = anthropic.Anthropic(**_options())
    create = raw.messages.create

    def raw_call(_: Any) -> Any:
        return create(model=MODEL, max_tokens=512, system=SYSTEM, messages=TURNS)

    out.append(
        Scenario(
            RAW_ANTHROPIC,
            raw_call,
            check=lambda: _expect(raw_call(None).content[0].text == VALID_ANSWER, "raw answer"),
        )
    )
    for name, kwargs, results in ((ANTHROPIC_NONE, {}, 0), (ANTHROPIC_THREE, three_contracts, 3)):
        wrapped = ContractAnthropic(**_options(), **kwargs).messages.create

        def call(_: Any, wrapped: Any = wrapped) -> Any:
            return wrapped(model=MODEL, max_tokens=512, system=SYSTEM, messages=TURNS)

        def check(call: Any = call, name: str = name, results: int = results) -> None:
            report = get_report(call(None))
            _expect(report is not None and report.outcome == "passed", f"{name}: outcome passed")
            _expect(len(report.results) == results, f"{name}: {results} verdicts")

        out.append(Scenario(name, call, baseline=RAW_ANTHROPIC, check=check))
    try:
        import instructor

        ic = instructor.from_anthropic(anthropic.Anthropic(**_options()), mode=instructor.Mode.ANTHROPIC_JSON)
    except Exception:  # an instructor without Anthropic support: the row is left out
        return out

    def instructor_call(_: Any) -> Ticket:
        return ic.messages.create(
            model=MODEL, max_tokens=512, system=SYSTEM, messages=TURNS, response_model=Ticket, max_retries=0
        )

    out.append(
        Scenario(
            ANTHROPIC_INSTRUCTOR,
            instructor_call,
            baseline=RAW_ANTHROPIC,
            check=lambda: _expect(isinstance(instructor_call(None), Ticket), "instructor model"),
        )
    )
    return out
