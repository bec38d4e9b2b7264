"""Which traces reach the control plane: violations by default, the project's sample rate, bounds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_contracts import ContractOpenAI, ContractViolationError, FunctionContract
from llm_contracts.debugging._trace import TRACE_MAX_BYTES, Breakpoint, bound_trace
from llm_contracts.testing import FakeLLM

EMAIL = "jane.doe@example.com"


def no_forbidden() -> FunctionContract:
    return FunctionContract(
        lambda text: "forbidden" not in text, name="no_forbidden", message="the answer says forbidden"
    )


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(default="a clean answer", model="gpt-4o-mini")


def client_on(fake: FakeLLM, reporter: Any) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="sk-test",
        http_client=fake.http_client(),
        max_retries=0,
        reporter=reporter,
        output_contracts=[no_forbidden()],
    )


def violate(client: ContractOpenAI, fake: FakeLLM, messages: list[dict[str, str]] | None = None) -> None:
    fake.reply("forbidden")
    with pytest.raises(ContractViolationError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=messages or [{"role": "user", "content": "hi"}]
        )


@pytest.mark.parametrize(("rate", "uploads"), [(0.0, 0), (1.0, 3)])
def test_the_projects_sample_rate_decides_how_many_violated_calls_upload_a_trace(
    plane, make_reporter, fake, rate, uploads
):
    plane.breakpoints = {"breakpoints": [], "trace_sample_rate": rate}
    reporter = make_reporter(plane.url)
    client = client_on(fake, reporter)
    assert reporter.sync.wait_loaded(5) and reporter.sync.trace_sample_rate == rate
    for _ in range(3):
        violate(client, fake)
    assert reporter.flush(5)
    assert len(plane.traces) == uploads
    assert sum(1 for e in plane.events if e["trace_id"]) == uploads


def test_a_bad_sample_rate_from_the_server_is_ignored(plane, make_reporter, fake):
    plane.breakpoints = {"breakpoints": [], "trace_sample_rate": 7}
    reporter = make_reporter(plane.url)
    client_on(fake, reporter)
    assert reporter.sync.wait_loaded(5) and reporter.sync.trace_sample_rate == 1.0


def test_an_uploaded_trace_is_redacted_and_bounded_in_bytes(plane, make_reporter, fake):
    reporter = make_reporter(plane.url)
    client = client_on(fake, reporter)
    # 40 messages of 9,000 characters: far more than a trace may carry.
    messages = [{"role": "user", "content": f"write to {EMAIL} " + "x" * 9000} for _ in range(40)]
    violate(client, fake, messages)
    assert reporter.flush(5)
    (trace,) = plane.traces
    raw = json.dumps(trace, separators=(",", ":"))
    assert len(raw.encode()) <= TRACE_MAX_BYTES
    assert EMAIL not in raw and "[EMAIL]" in raw
    assert [s["kind"] for s in trace["steps"]][:3] == ["request", "model_call", "output_contract"]


def test_bound_trace_keeps_a_small_trace_and_drops_step_data_last():
    small = {"trace_id": "t", "steps": [{"kind": "request", "name": "r", "data": {"body": "short"}}]}
    assert bound_trace(small) is small
    huge = {
        "trace_id": "t",
        "steps": [
            {"kind": "model_call", "name": str(i), "data": {"output": "y" * 5000}} for i in range(2000)
        ],
    }
    bounded = bound_trace(huge, max_bytes=50_000)
    assert len(json.dumps(bounded, separators=(",", ":")).encode()) <= 50_000
    assert bounded["steps"] and "truncated" in bounded["steps"][0]["data"]


def test_a_breakpoint_uploads_at_most_its_rate_a_minute(plane, make_reporter, fake):
    plane.breakpoints = {
        "breakpoints": [
            {
                "id": 7,
                "contract": "no_forbidden",
                "severity": None,
                "model": None,
                "input_contains": None,
                "output_contains": "refund",
                "remaining": 50,
                "rate_per_minute": 2,
            }
        ]
    }
    reporter = make_reporter(plane.url)
    client = client_on(fake, reporter)
    assert reporter.sync.wait_loaded(5)
    for _ in range(4):
        fake.reply("a refund is possible")  # holds the contract: only the breakpoint keeps it
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reporter.flush(5)
    assert [t["breakpoint_id"] for t in plane.traces] == [7, 7]


def test_take_counts_the_rate_over_a_sliding_minute():
    bp = Breakpoint(1, rate_per_minute=2, remaining=10)
    assert [bp.take(now=t) for t in (0.0, 1.0, 2.0, 61.0)] == [True, True, False, True]
    assert bp.remaining == 7
