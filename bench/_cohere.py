"""The Cohere rows: the same ticket answer through the raw v2 client, the drop-in and instructor.

The transport is the same kind as the other rows' (a mock transport of the HTTP library
cohere uses, httpx, wrapping prebuilt bytes), so the differences are the clients' own.
"""

from __future__ import annotations

import json
from typing import Any

from llm_contracts import get_report

from ._fixtures import MESSAGES, VALID_ANSWER, Ticket
from ._harness import Scenario

RAW_COHERE = "cohere: raw"
COHERE_NONE = "cohere: wrapper, no contracts"
COHERE_THREE = "cohere: wrapper, 3 contracts"
COHERE_INSTRUCTOR = "cohere: instructor"
MODEL = "command-a-03-2025"

_USAGE = {
    "billed_units": {"input_tokens": 120, "output_tokens": 40},
    "tokens": {"input_tokens": 125, "output_tokens": 40},
}
_TEXT_BODY = json.dumps(
    {
        "id": "bench",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": VALID_ANSWER}]},
        "usage": _USAGE,
    }
).encode()
_JSON = [("content-type", "application/json")]


def _options() -> dict[str, Any]:
    import httpx

    def handler(request: Any) -> Any:
        return httpx.Response(200, headers=_JSON, content=_TEXT_BODY)

    return {
        "api_key": "bench",
        "base_url": "http://bench.invalid",
        "httpx_client": httpx.Client(transport=httpx.MockTransport(handler)),
        # The JSON-schema mode instructor uses would log cohere's "experimental" warning per call.
        "log_warning_experimental_features": False,
    }


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def cohere_scenarios(three_contracts: dict[str, Any]) -> list[Scenario]:
    """Return the Cohere rows, or none when cohere is not installed."""
    try:
        import cohere
    except ImportError:
        return []
    from llm_contracts import ContractCohere

    out: list[Scenario] = []
    chat = cohere.ClientV2(**_options()).chat

    def raw_call(_: Any) -> Any:
        return chat(model=MODEL, messages=MESSAGES)

    out.append(
        Scenario(
            RAW_COHERE,
            raw_call,
            check=lambda: _expect(raw_call(None).message.content[0].text == VALID_ANSWER, "raw answer"),
        )
    )
    for name, kwargs, results in ((COHERE_NONE, {}, 0), (COHERE_THREE, three_contracts, 3)):
        wrapped = ContractCohere(**_options(), **kwargs).chat

        def call(_: Any, wrapped: Any = wrapped) -> Any:
            return wrapped(model=MODEL, messages=MESSAGES)

        def check(call: Any = call, name: str = name, results: int = results) -> None:
            report = get_report(call(None))
            _expect(report is not None and report.outcome == "passed", f"{name}: outcome passed")
            _expect(len(report.results) == results, f"{name}: {results} verdicts")

        out.append(Scenario(name, call, baseline=RAW_COHERE, check=check))
    try:
        import instructor

        # Its JSON-schema mode: the answer is the text the other rows get (its tool mode
        # cannot read a v2 answer).
        ic = instructor.from_cohere(cohere.ClientV2(**_options()), mode=instructor.Mode.COHERE_JSON_SCHEMA)

        def instructor_call(_: Any) -> Ticket:
            return ic.chat.completions.create(  # type: ignore[no-any-return]
                model=MODEL, messages=MESSAGES, response_model=Ticket, max_retries=0
            )

        instructor_call(None)
    except Exception:  # an instructor without Cohere v2 support: the row is left out
        return out

    out.append(
        Scenario(
            COHERE_INSTRUCTOR,
            instructor_call,
            baseline=RAW_COHERE,
            check=lambda: _expect(isinstance(instructor_call(None), Ticket), "instructor model"),
        )
    )
    return out
