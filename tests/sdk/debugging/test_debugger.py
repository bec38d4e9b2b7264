"""The local debugger through its API: local validations and a real client's calls over the fake model."""

from __future__ import annotations

import contextlib

import pytest

from llm_contracts import ContractViolationError
from llm_contracts.contracts import FunctionContract, LengthContract, LLMResponse
from llm_contracts.debugging import ContractDebugger
from llm_contracts.llmcl import load_source

REPLY = """\
contract Reply {
  require len(input) <= 200
  ensure len(output) <= 40
  ensure not contains(output, "As an AI") as no_disclaimer
}
"""
MESSAGES = [{"role": "user", "content": "Where is my parcel?"}]


def steps(trace):
    return [(s.kind, s.name, s.data.get("is_valid")) for s in trace.steps]


def test_a_local_validation_returns_every_step_in_the_order_of_a_call():
    contracts = load_source(REPLY)
    debugger = ContractDebugger()

    trace = debugger.debug_validation(
        contracts, {"input": "Where is my parcel?", "output": "As an AI, I cannot track parcels."}
    )

    assert steps(trace) == [
        ("request", "local", None),
        ("input_contract", "Reply.require[1]", True),
        ("model_call", "local", None),
        ("output_contract", "Reply.ensure[1]", True),
        ("output_contract", "no_disclaimer", False),
        ("outcome", "violated", None),
    ]
    assert trace.outcome == "violated"
    assert trace.steps[-1].data["violations"] == ["no_disclaimer"]
    assert trace.steps[2].data["output"] == "As an AI, I cannot track parcels."
    failing = trace.steps[4]
    direct = contracts["no_disclaimer"].validate(LLMResponse("As an AI, I cannot track parcels."))
    assert failing.data["message"] == direct.message and failing.data["is_valid"] is direct.is_valid
    assert failing.duration_ms >= 0
    assert failing.data["latency_ms"] == pytest.approx(failing.duration_ms, abs=1e-3)
    assert debugger.history == [trace]


def test_the_parts_of_a_composite_contract_are_steps_of_their_own():
    short = LengthContract(max_chars=10, name="short")
    polite = FunctionContract(lambda t: "please" in t, name="polite")
    either = short | polite

    trace = ContractDebugger().debug_validation(either, "a long answer without the magic word")

    assert steps(trace)[2:5] == [
        ("output_contract", "short", False),
        ("output_contract", "polite", False),
        ("output_contract", either.name, False),
    ]
    assert [s.data.get("part_of") for s in trace.steps[2:5]] == [either.name, either.name, None]


def test_a_contract_that_raises_is_a_step_with_the_error_not_an_exception():
    broken = FunctionContract(lambda t: 1 / 0, name="broken")

    trace = ContractDebugger().debug_validation(broken, "anything")

    [step] = trace.steps_of("output_contract")
    assert step.data["error"] is True and "ZeroDivisionError" in step.data["message"]
    assert trace.outcome == "passed"  # fail-open, as in a client


def test_attached_to_a_client_it_keeps_the_very_trace_the_client_records(make_client, fake):
    client = make_client()
    debugger = ContractDebugger()
    debugger.attach(client)
    fake.reply('{"answer": "fine"}', "this answer is forbidden")

    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(ContractViolationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert len(debugger.history) == 2
    kept = debugger.history[-1]
    assert [s.to_dict() for s in kept.steps] == [s.to_dict() for s in client.last_trace.steps]
    assert kept.outcome == "violated"


def test_local_and_client_traces_show_the_same_verdict_steps(make_client, fake, no_forbidden):
    contract = no_forbidden()
    client = make_client(output_contracts=[contract])
    debugger = ContractDebugger()
    debugger.attach(client)
    fake.reply("that is forbidden")

    with pytest.raises(ContractViolationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    local = debugger.debug_validation(contract, "that is forbidden")

    remote, here = debugger.history

    def verdicts(trace):
        return [
            (s.kind, s.name, s.data["is_valid"], s.data["message"], s.data["severity"])
            for s in trace.steps_of("output_contract")
        ]

    assert (
        verdicts(remote)
        == verdicts(here)
        == [("output_contract", "no_forbidden", False, "no_forbidden failed", "error")]
    )
    assert [s.kind for s in local.steps] == ["request", "model_call", "output_contract", "outcome"]
    assert [s.kind for s in remote.steps] == ["request", "model_call", "output_contract", "outcome"]


def test_a_breakpoint_stops_on_a_clause_of_an_llmcl_contract_when_its_condition_holds():
    contracts = load_source(REPLY)
    seen = []
    debugger = ContractDebugger()
    bp = debugger.set_breakpoint(
        "Reply", condition=lambda hit: not hit.is_valid and "40" in hit.message, action=seen.append
    )

    debugger.debug_validation(contracts, "short and fine")
    debugger.debug_validation(contracts, "x" * 60)
    debugger.debug_validation(contracts, "As an AI")  # fails, but another clause

    assert bp.hits == 1 and len(seen) == 1
    [hit] = seen
    assert hit.contract == "Reply.ensure[1]" and hit.trace is debugger.history[1]
    assert debugger.hits == seen


def test_a_breakpoint_without_a_condition_stops_on_failures_of_that_contract_only(make_client, fake):
    client = make_client(
        output_contracts=[
            LengthContract(max_chars=20, name="short"),
            FunctionContract(lambda t: "!" not in t, name="calm"),
        ],
        contract_retries=1,
    )
    debugger = ContractDebugger()
    debugger.attach(client)
    bp = debugger.set_breakpoint("short")
    fake.reply("a rather long first answer, too long", "fine", "ok!", "no!")

    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # repaired by the re-ask
    with pytest.raises(ContractViolationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # "!" twice: calm fails

    assert bp.hits == 1
    [hit] = debugger.hits
    assert hit.contract == "short" and hit.step.data["attempt"] == 0
    assert hit.trace.outcome == "repaired"


def test_the_report_summarises_failures_and_latencies_per_contract(make_client, fake, no_forbidden):
    client = make_client(output_contracts=[no_forbidden(), LengthContract(max_chars=30, name="short")])
    debugger = ContractDebugger()
    debugger.attach(client)
    fake.reply("fine", "forbidden words", "fine again", "forbidden and much too long for the limit")

    for _ in range(4):
        with contextlib.suppress(ContractViolationError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    report = debugger.generate_debug_report()

    assert report.traces == 4 and report.outcomes == {"passed": 2, "violated": 2}
    forbidden = report.contracts["no_forbidden"]
    assert (forbidden["runs"], forbidden["failures"], forbidden["failure_rate"]) == (4, 2, 0.5)
    assert forbidden["top_failures"] == [("no_forbidden failed", 2)]
    assert forbidden["last_failure_trace"] == debugger.history[3].trace_id
    assert report.contracts["short"]["failures"] == 1
    assert 0 <= forbidden["p50_ms"] <= forbidden["p95_ms"] <= forbidden["max_ms"]
    only = debugger.generate_debug_report("short")
    assert list(only.contracts) == ["short"]
    text = str(report)
    assert "4 traces: 2 passed, 2 violated" in text and "no_forbidden: 2x no_forbidden failed" in text


def test_bad_arguments_are_refused_with_the_reason():
    debugger = ContractDebugger()
    with pytest.raises(ValueError, match="condition of the breakpoint on 'x' must be callable"):
        debugger.set_breakpoint("x", condition="len > 3")
    with pytest.raises(ValueError, match="needs a contract"):
        debugger.debug_validation("not a contract", "text")
    with pytest.raises(ValueError, match="attach\\(\\) needs a contracted client"):
        debugger.attach(object())
