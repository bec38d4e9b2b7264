"""The profiler, through its API and ``llm-contracts profile``, on real contracts and real calls."""

from __future__ import annotations

import json
import time

import pytest

from llm_contracts import get_report
from llm_contracts.cli import main as cli
from llm_contracts.contracts import FunctionContract, LengthContract, RegexContract
from llm_contracts.debugging import ContractProfiler

WORDS = " ".join(f"word{i}" for i in range(600))


def quadratic(text: str) -> bool:
    """Count every word in the whole text: time grows with the square of the text."""
    return sum(text.count(w) for w in text.split()) >= 0


def test_it_times_every_input_every_run_and_counts_violations():
    profiler = ContractProfiler(runs=7)

    profile = profiler.profile_contract(LengthContract(max_chars=10), ["short", "x" * 50, "tiny"])

    assert profile.calls == 21
    assert profile.violations == 7 and profile.errors == 0
    assert 0 < profile.p50_ms <= profile.p95_ms <= profile.p99_ms <= profile.max_ms
    assert profile.largest_input_chars == 50
    assert profile.alloc_kb_per_call is not None and profile.alloc_kb_per_call < 64
    assert profile.recommendations == []


def test_a_streaming_check_that_rescans_the_answer_is_named_with_its_numbers():
    rescan = FunctionContract(lambda t: sum(1 for c in t if c == "z") < 5, name="rescan", streaming=True)
    windowed = RegexContract(r"forbidden", must_match=False, name="windowed")
    answer = "a few words of text " * 500  # 10,000 characters

    report = ContractProfiler(runs=2, budget_ms=None).profile_contracts([rescan, windowed], [answer])

    [rec] = report["rescan"].recommendations
    assert rec.kind == "stream_rescan"
    stream = report["rescan"].stream
    assert stream["chunks"] == 625 and stream["last_chunks_ms"] > 4 * stream["first_chunks_ms"]
    assert f"{stream['total_ms']:.1f} ms" in rec.message and "625 chunks of 16" in rec.message
    # The built-in check reads only the new text (and a margin): no such recommendation.
    assert report["windowed"].stream is not None
    assert not [r for r in report["windowed"].recommendations if r.kind == "stream_rescan"]


def test_time_that_grows_faster_than_the_text_is_reported_and_linear_time_is_not():
    report = ContractProfiler(runs=2, budget_ms=None).profile_contracts(
        [FunctionContract(quadratic, name="quadratic"), LengthContract(max_chars=100_000)], [WORDS]
    )

    [rec] = report["quadratic"].recommendations
    growth = report["quadratic"].growth
    assert rec.kind == "superlinear" and rec.value == pytest.approx(growth["scaled_ms"] / growth["ms"])
    assert growth["scaled_chars"] >= 4 * growth["chars"]
    assert f"{growth['chars']:.0f} characters" in rec.message
    assert report["LengthContract"].recommendations == []


def test_a_slow_first_call_a_budget_allocations_and_errors_are_reported():
    state = {"ready": False}

    def lazy(text: str) -> bool:
        if not state["ready"]:
            time.sleep(0.05)  # loads something once
            state["ready"] = True
        return True

    def hungry(text: str) -> bool:
        return len(bytearray(2_000_000)) > 0

    def broken(text: str) -> bool:
        raise KeyError("missing")

    def slow(text: str) -> bool:
        time.sleep(0.003)
        return True

    contracts = [FunctionContract(f, name=f.__name__) for f in (lazy, hungry, broken)]
    report = ContractProfiler(runs=3, budget_ms=None).profile_contracts(contracts, ["a short answer"])
    budgeted = ContractProfiler(runs=3, budget_ms=2.0).profile_contracts(
        [FunctionContract(slow, name="slow"), LengthContract(max_chars=100)], ["a short answer"]
    )

    kinds = {p.contract: [r.kind for r in p.recommendations] for p in [*report.profiles, *budgeted.profiles]}
    assert kinds["lazy"] == ["setup"]
    assert report["lazy"].first_call_ms >= 50
    assert "allocations" in kinds["hungry"] and report["hungry"].alloc_kb_per_call >= 1900
    assert kinds["broken"] == ["errors"] and report["broken"].errors == 3
    assert "raised on 3 of 3 calls" in report["broken"].recommendations[0].message
    assert kinds["slow"] == ["slow"] and budgeted["slow"].p95_ms >= 3
    assert (
        f"p95 {budgeted['slow'].p95_ms:.2f} ms per call, over the 2 ms budget"
        in budgeted["slow"].recommendations[0].message
    )
    assert kinds["LengthContract"] == []


def test_an_llmcl_contract_is_profiled_clause_by_clause_on_the_side_each_clause_reads():
    source = (
        "contract Reply {\n  require len(input) <= 100\n  ensure len(output) <= 20\n"
        '  ensure not contains(output, "sorry")\n}\n'
    )
    cases = [{"input": "Where is my order?", "output": "It ships today."}, {"output": "Sorry, no."}]

    report = ContractProfiler(runs=3).profile_source(source, cases)

    assert report.name == "Reply"
    assert [p.contract for p in report.profiles] == ["Reply.require[1]", "Reply.ensure[1]", "Reply.ensure[2]"]
    assert report["Reply.require[1]"].calls == 3 and report["Reply.require[1]"].skipped_inputs == 1
    assert report["Reply.ensure[1]"].calls == 6
    assert report.inputs == 2 and report.total_p50_ms > 0


def test_watching_a_client_gives_per_contract_time_and_the_overhead_ratio(make_client, fake, no_forbidden):
    client = make_client(output_contracts=[no_forbidden(), LengthContract(max_chars=500)])
    profiler = ContractProfiler()
    profiler.watch(client)

    messages = [{"role": "user", "content": "hi"}]
    replies = [client.chat.completions.create(model="gpt-4o-mini", messages=messages) for _ in range(3)]

    calls = profiler.calls()
    reports = [get_report(r) for r in replies]
    assert calls.calls == 3
    assert set(calls.contracts) == {"no_forbidden", "LengthContract"}
    assert calls.contracts["no_forbidden"]["runs"] == 3
    total = sum(r.output_results[0].latency_s for r in reports) * 1000
    assert calls.contracts["no_forbidden"]["total_ms"] == pytest.approx(total, abs=1e-3)
    ratio = sum(r.validation_latency_s for r in reports) / sum(r.llm_latency_s for r in reports)
    assert calls.overhead_ratio == pytest.approx(ratio)


def test_bad_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="runs must be a whole number >= 1"):
        ContractProfiler(runs=0)
    with pytest.raises(ValueError, match="case 1: a case needs"):
        ContractProfiler().profile_contract(LengthContract(max_chars=3), [{"label": "x"}])


# -- the command --------------------------------------------------------------------------------

SOURCE = (
    "contract Reply {\n  require len(input) <= 4000\n  ensure len(output) <= 2000\n"
    "  ensure not matches(output, /as an ai/i)\n}\n"
)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "reply.llmcl").write_text(SOURCE)
    rows = [
        {"input": "Where is my order?", "output": "It ships today."},
        "As an AI, I cannot.",
        {"output": "ok"},
    ]
    (tmp_path / "cases.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path


def test_the_command_prints_a_table_of_every_clause(files, capsys):
    args = ["profile", str(files / "reply.llmcl"), "--inputs", str(files / "cases.jsonl"), "--runs", "4"]
    assert cli(args) == 0

    out = capsys.readouterr().out
    assert "contract Reply, 3 cases x 4 runs" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("contract "))
    assert header.split()[:6] == ["contract", "check", "calls", "p50", "ms", "p95"]
    assert any(line.startswith("Reply.require[1]") and line.split()[2] == "4" for line in lines)
    assert any(line.startswith("Reply.ensure[2]") and "RegexContract" in line for line in lines)
    assert "recommendations:" in out


def test_the_command_prints_json_for_machines(files, capsys):
    assert (
        cli(
            [
                "profile",
                str(files / "reply.llmcl"),
                "--inputs",
                str(files / "cases.jsonl"),
                "--runs",
                "2",
                "--json",
            ]
        )
        == 0
    )

    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "Reply" and data["inputs"] == 3 and data["runs"] == 2
    by_name = {p["contract"]: p for p in data["profiles"]}
    assert by_name["Reply.ensure[2]"]["violations"] == 2  # the "As an AI" answer, both runs
    assert by_name["Reply.ensure[1]"]["calls"] == 6
    assert isinstance(data["recommendations"], list)


def test_the_command_names_a_bad_line_of_the_cases_file(files, capsys):
    (files / "cases.jsonl").write_text('"fine"\n{"output": 3}\n')

    assert cli(["profile", str(files / "reply.llmcl"), "--inputs", str(files / "cases.jsonl")]) == 1

    err = capsys.readouterr().err
    assert f'{files / "cases.jsonl"}:2: "output" must be a string' in err
    assert "Traceback" not in err


def test_the_command_reports_a_contract_that_does_not_compile(files, capsys):
    (files / "reply.llmcl").write_text("contract Reply {\n  ensure lenn(output) < 3\n}\n")

    assert cli(["profile", str(files / "reply.llmcl"), "--inputs", str(files / "cases.jsonl")]) == 1

    assert "reply.llmcl:2:10: error: unknown function 'lenn'" in capsys.readouterr().err


def test_help_lists_profile_and_lsp(capsys):
    with pytest.raises(SystemExit):
        cli(["--help"])
    out = capsys.readouterr().out
    assert "profile" in out and "lsp" in out
