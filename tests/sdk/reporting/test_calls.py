"""Calls become events, traces and pulled contracts: ContractOpenAI on the fake model, a live local server."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from llm_contracts import ContractOpenAI, ContractViolationError, FunctionContract
from llm_contracts.contracts import PromptLengthContract
from llm_contracts.reporting import _reporter
from llm_contracts.testing import FakeLLM

from ._server import API_KEY

EMAIL = "jane.doe@example.com"


def no_forbidden() -> FunctionContract:
    return FunctionContract(
        lambda text: "forbidden" not in text, name="no_forbidden", message="the answer says forbidden"
    )


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(default="a clean answer", model="gpt-4o-mini")


def client_on(fake: FakeLLM, reporter: Any, **kwargs: Any) -> ContractOpenAI:
    kwargs.setdefault("output_contracts", [no_forbidden()])
    return ContractOpenAI(
        api_key="sk-test", http_client=fake.http_client(), max_retries=0, reporter=reporter, **kwargs
    )


def ask(client: ContractOpenAI, text: str = "hello") -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def test_each_verdict_becomes_one_event_sharing_the_call_id(plane, make_reporter, fake):
    reporter = make_reporter(plane.url)
    client = client_on(fake, reporter, input_contracts=[PromptLengthContract(max_tokens=1000)])

    ask(client)
    assert reporter.flush(5)

    events = {e["contract"]: e for e in plane.events}
    assert set(events) == {"PromptLengthContract", "no_forbidden"}
    assert len({e["call_id"] for e in events.values()}) == 1
    assert events["PromptLengthContract"]["category"] == "input"
    assert events["no_forbidden"]["category"] == "output"
    out = events["no_forbidden"]
    assert out["is_valid"] is True and out["outcome"] == "passed"
    assert (out["model"], out["provider"], out["endpoint"]) == ("gpt-4o-mini", "openai", "/chat/completions")
    assert out["prompt_tokens"] > 0 and out["completion_tokens"] > 0
    assert out["llm_latency_ms"] is not None and out["latency_ms"] >= 0
    assert out["timestamp"].endswith("+00:00")
    assert len(out["event_id"]) == 32


def test_excerpts_are_redacted_and_cut_to_2000_characters(plane, make_reporter, fake):
    fake.reply(f"write to {EMAIL} " + "x" * 5000)
    reporter = make_reporter(plane.url)
    client = client_on(fake, reporter)

    ask(client, f"my mail is {EMAIL}, card 4111 1111 1111 1111 " + "y" * 5000)
    assert reporter.flush(5)

    (e,) = plane.events
    assert EMAIL not in e["input_excerpt"] and EMAIL not in e["output_excerpt"]
    assert "4111" not in e["input_excerpt"]
    assert "[EMAIL]" in e["input_excerpt"] and "[EMAIL]" in e["output_excerpt"]
    assert len(e["input_excerpt"]) == 2000 and len(e["output_excerpt"]) == 2000


def test_a_repaired_call_reports_the_fix_and_the_retry(plane, make_reporter, fake):
    fake.reply("this is forbidden")
    fake.reply("all good now")
    reporter = make_reporter(plane.url)
    client = client_on(fake, reporter, contract_retries=1)

    ask(client)
    assert reporter.flush(5)

    (e,) = plane.events
    assert e["outcome"] == "repaired" and e["retries"] == 1
    assert e["auto_fix_attempted"] is True and e["auto_fix_succeeded"] is True


def test_a_violated_call_is_reported_before_it_raises(plane, make_reporter, fake):
    fake.reply("this is forbidden")
    reporter = make_reporter(plane.url)
    client = client_on(fake, reporter)

    with pytest.raises(ContractViolationError):
        ask(client)
    assert reporter.flush(5)

    (e,) = plane.events
    assert e["outcome"] == "violated" and e["is_valid"] is False
    assert e["message"] == "the answer says forbidden" and e["severity"] == "error"


def test_the_environment_configures_a_default_reporter(monkeypatch, plane, fake):
    monkeypatch.setenv("LLM_CONTRACTS_URL", plane.url)
    monkeypatch.setenv("LLM_CONTRACTS_API_KEY", API_KEY)
    monkeypatch.setattr(_reporter, "_default", None)
    client = ContractOpenAI(
        api_key="sk-test", http_client=fake.http_client(), max_retries=0, output_contracts=[no_forbidden()]
    )
    try:
        ask(client)
        assert _reporter.default_reporter().flush(5)
    finally:
        _reporter.default_reporter().close()

    assert [e["contract"] for e in plane.events] == ["no_forbidden"]


def test_without_configuration_a_client_installs_no_reporting(monkeypatch, fake):
    monkeypatch.delenv("LLM_CONTRACTS_URL", raising=False)
    monkeypatch.delenv("LLM_CONTRACTS_API_KEY", raising=False)
    monkeypatch.setattr(_reporter, "_default", None)

    client = ContractOpenAI(api_key="sk-test", http_client=fake.http_client(), otel=False)
    ask(client)

    assert client._contract_telemetry is None
    assert client.last_report.outcome == "passed"


# -- the debugger trace --------------------------------------------------------------------------


def test_last_trace_tells_the_story_of_a_repaired_call(fake):
    fake.reply("this is forbidden")
    fake.reply("all good now")
    client = ContractOpenAI(
        api_key="sk-test",
        http_client=fake.http_client(),
        max_retries=0,
        contract_retries=1,
        input_contracts=[PromptLengthContract(max_tokens=1000)],
        output_contracts=[no_forbidden()],
        otel=False,
    )

    ask(client, f"reach me at {EMAIL}")
    trace = client.last_trace

    assert [s.kind for s in trace.steps] == [
        "request",
        "input_contract",
        "model_call",
        "output_contract",
        "reask",
        "model_call",
        "output_contract",
        "outcome",
    ]
    request = trace.steps[0].data["body"]
    assert EMAIL not in str(request) and "[EMAIL]" in request["messages"][0]["content"]
    first_verdict = trace.steps[3].data
    assert first_verdict["is_valid"] is False and first_verdict["contract"] == "no_forbidden"
    assert "the answer says forbidden" in trace.steps[4].data["feedback"]
    assert trace.steps[2].data["usage"]["completion_tokens"] > 0
    assert trace.steps[-1].data["outcome"] == "repaired"
    starts = [s.started_ms for s in trace.steps]
    assert starts == sorted(starts)
    assert client.last_trace is trace  # built once per call, on first read


def test_a_matching_breakpoint_uploads_the_trace_and_links_the_events(plane, make_reporter, fake):
    plane.breakpoints = {
        "breakpoints": [
            {
                "id": 12,
                "contract": "no_forbidden",
                "severity": None,
                "model": None,
                "input_contains": None,
                "output_contains": "refund",
                "remaining": 5,
            }
        ]
    }
    reporter = make_reporter(plane.url, poll_interval=0.05)
    client = client_on(fake, reporter)
    assert reporter.sync.wait_loaded(5)

    fake.reply("no refund for you")
    ask(client)
    ask(client)  # the default answer does not mention a refund
    assert reporter.flush(5)

    (trace,) = plane.traces
    assert trace["breakpoint_id"] == 12 and trace["outcome"] == "passed"
    assert [s["kind"] for s in trace["steps"]][0] == "request"
    linked = [e for e in plane.events if e["trace_id"] is not None]
    assert [e["trace_id"] for e in linked] == [trace["trace_id"]]
    assert reporter.stats()["traces_sent"] == 1


@pytest.mark.parametrize(
    ("mode", "uploads"), [("never", 0), ("breakpoints", 0), ("violations", 1), ("all", 2), (None, 1)]
)
def test_upload_traces_decides_which_calls_are_kept(plane, make_reporter, fake, mode, uploads):
    reporter = make_reporter(plane.url)
    # By default (None here) the trace of every call with a violation is uploaded.
    client = client_on(fake, reporter, **({} if mode is None else {"upload_traces": mode}))

    ask(client)
    fake.reply("forbidden")
    with pytest.raises(ContractViolationError):
        ask(client)
    assert reporter.flush(5)

    assert len(plane.traces) == uploads


def test_a_bad_upload_mode_is_refused_by_name(fake):
    from llm_contracts import ContractConfigError

    with pytest.raises(ContractConfigError, match="upload_traces"):
        ContractOpenAI(api_key="sk-test", http_client=fake.http_client(), upload_traces="sometimes")


# -- server-defined contracts -----------------------------------------------------------------


def forbid_loader(spec: dict[str, Any], name: str) -> FunctionContract:
    """Stand in for llmcl.load_spec: a spec {"name", "forbid"} rejects answers containing a word."""
    word = spec["forbid"]
    return FunctionContract(lambda text: word not in text, name=spec["name"], message=f"mentions {word}")


def spec(version: int, word: str) -> dict[str, Any]:
    return {
        "contracts": [
            {
                "name": "NoWord",
                "version": version,
                "spec": {"name": "NoWord", "forbid": word},
                "source": f"contract NoWord version {version} {{ }}",
            }
        ]
    }


def test_project_contracts_are_enforced_and_a_new_version_is_picked_up(plane, make_reporter, fake):
    plane.contracts = spec(1, "apple")
    reporter = make_reporter(plane.url, poll_interval=0.05)
    reporter.sync.loader = forbid_loader
    client = client_on(fake, reporter, project_contracts=True, output_contracts=[])
    assert reporter.sync.wait_loaded(5)

    fake.reply("an apple a day")
    with pytest.raises(ContractViolationError, match="mentions apple"):
        ask(client)
    # Unchanged specs are not sent again: the poll carries the ETag and gets a 304.
    assert plane.wait_for(
        lambda: (
            ("/api/v1/contracts", None, 304) not in plane.gets
            and any(path == "/api/v1/contracts" and status == 304 for path, _, status in plane.gets)
        )
    )

    plane.contracts = spec(2, "banana")
    assert plane.wait_for(lambda: reporter.sync.versions.get("NoWord") == 2)
    fake.reply("an apple a day")
    ask(client)
    fake.reply("a banana a day")
    with pytest.raises(ContractViolationError, match="mentions banana"):
        ask(client)
    assert reporter.flush(5)

    assert [e["contract_version"] for e in plane.events] == [1, 2, 2]


def test_the_last_known_contracts_stay_when_the_server_goes_away(plane, make_reporter, fake):
    plane.contracts = spec(1, "apple")
    reporter = make_reporter(plane.url, poll_interval=0.05, max_retries=0)
    reporter.sync.loader = forbid_loader
    client = client_on(fake, reporter, project_contracts=True, output_contracts=[])
    assert reporter.sync.wait_loaded(5)

    plane.stop()
    polls = len(plane.gets)
    fake.reply("an apple a day")
    with pytest.raises(ContractViolationError, match="mentions apple"):
        ask(client)
    assert len(plane.gets) == polls  # nothing new was answered: the server is gone


def test_a_spec_that_does_not_load_keeps_the_previous_version(plane, make_reporter, fake):
    plane.contracts = spec(1, "apple")
    reporter = make_reporter(plane.url, poll_interval=0.05)
    reporter.sync.loader = forbid_loader
    client = client_on(fake, reporter, project_contracts=True, output_contracts=[])
    assert reporter.sync.wait_loaded(5)

    plane.contracts = {"contracts": [{"name": "NoWord", "version": 2, "spec": {"name": "NoWord"}}]}
    assert plane.wait_for(lambda: len([g for g in plane.gets if g[0] == "/api/v1/contracts"]) >= 4)
    fake.reply("an apple a day")

    with pytest.raises(ContractViolationError, match="mentions apple"):
        ask(client)
    assert reporter.sync.versions["NoWord"] == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"version": 1, "spec": {"name": "x", "forbid": "x"}},  # no name
        {"name": "NoPear", "spec": {"name": "NoPear", "forbid": "pear"}},  # no version
        {"name": "NoPear", "version": 1, "spec": "forbid pear"},  # a spec that is not an object
        "NoPear",
    ],
)
def test_a_contract_item_the_protocol_refuses_is_ignored_and_the_others_apply(
    plane, make_reporter, fake, bad
):
    # A handler on the reporting logger itself: what other tests did to the root logger's
    # handlers in this process cannot hide the warning.
    warnings: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = warnings.append  # type: ignore[method-assign]
    logger = logging.getLogger("llm_contracts.reporting")
    # A logging.config.dictConfig run earlier in this process (by a server, a worker) may
    # have disabled or raised the level of loggers that existed then; this test needs it on.
    # setLevel (not the attribute) so the logger's cached level checks are cleared too, and
    # no process-wide logging.disable() may swallow the record.
    before = logger.disabled, logger.level, logging.root.manager.disable
    logger.disabled = False
    logger.setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)
    logger.addHandler(handler)
    try:
        plane.contracts = {"contracts": [bad, *spec(1, "apple")["contracts"]]}
        reporter = make_reporter(plane.url, poll_interval=0.05)
        reporter.sync.loader = forbid_loader
        client = client_on(fake, reporter, project_contracts=True, output_contracts=[])
        assert reporter.sync.wait_loaded(5)

        fake.reply("an apple and a pear")
        with pytest.raises(ContractViolationError, match="mentions apple"):
            ask(client)
        assert reporter.sync.versions == {"NoWord": 1}
    finally:
        logger.removeHandler(handler)
        logger.disabled = before[0]
        logger.setLevel(before[1])
        logging.disable(before[2])
    assert any("ignores a malformed contract item" in r.getMessage() for r in warnings)


def test_project_contracts_compiled_from_llmcl_are_enforced(plane, make_reporter, fake):
    from llm_contracts.llmcl import compile_source

    source = 'contract NoGuarantee version 4 {\n  ensure not contains(output, "guarantee")\n}\n'
    plane.contracts = {
        "contracts": [{"name": "NoGuarantee", "version": 4, "spec": compile_source(source), "source": source}]
    }
    reporter = make_reporter(plane.url, poll_interval=0.05)
    client = client_on(fake, reporter, project_contracts=True, output_contracts=[])
    assert reporter.sync.wait_loaded(5)

    ask(client)
    fake.reply("we guarantee it")
    with pytest.raises(ContractViolationError):
        ask(client)
    assert reporter.flush(5)

    assert {e["contract_version"] for e in plane.events} == {4}
    assert [e["is_valid"] for e in plane.events] == [True, False]


def test_a_garbled_contracts_answer_does_not_cost_the_breakpoints_pull(plane, make_reporter, fake):
    plane.garbled.add("/api/v1/contracts")
    plane.breakpoints = {
        "breakpoints": [
            {
                "id": 7,
                "contract": None,
                "severity": None,
                "model": None,
                "input_contains": None,
                "output_contains": "refund",
                "remaining": 1,
            }
        ]
    }
    reporter = make_reporter(plane.url, poll_interval=0.05)
    client_on(fake, reporter, project_contracts=True)

    assert reporter.sync.wait_loaded(5)
    assert [b.id for b in reporter.sync.breakpoints] == [7]
