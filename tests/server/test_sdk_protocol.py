"""The live API accepts every outcome, category, severity, enforcement and trace step the SDK can produce."""

from __future__ import annotations

from typing import Any

import pytest

from contracts_app import services
from contracts_app.models import Trace, ValidationEvent
from llm_contracts import ContractOpenAI, ContractViolationError, FunctionContract, get_report
from llm_contracts.contracts import Category, Enforcement, Severity
from llm_contracts.enforcement._report import Outcome
from llm_contracts.reporting import Reporter
from llm_contracts.reporting._events import report_events
from llm_contracts.testing import FakeLLM

HI = [{"role": "user", "content": "hi"}]


def no_bad(**kwargs: Any) -> FunctionContract:
    return FunctionContract(lambda text: "bad" not in text, name=kwargs.pop("name", "no_bad"), **kwargs)


@pytest.fixture
def reporting(live_server: Any, transactional_db: None) -> Any:
    project = services.project_create(name="Protocol")
    _, key = services.api_key_create(project=project, name="sdk")
    reporter = Reporter(live_server.url, key, flush_interval=0.05, max_retries=0)
    yield project, reporter
    reporter.close(timeout=5)


def test_every_outcome_of_a_real_call_is_stored_with_its_trace(reporting: Any) -> None:
    project, reporter = reporting
    fake = FakeLLM(default="fine", model="gpt-4o-mini")

    def client(**kwargs: Any) -> ContractOpenAI:
        kwargs.setdefault("output_contracts", [no_bad()])
        return ContractOpenAI(
            api_key="sk-test",
            http_client=fake.http_client(),
            max_retries=0,
            reporter=reporter,
            upload_traces="all",
            **kwargs,
        )

    outcomes = []
    fake.reply("fine")
    outcomes.append(client().chat.completions.create(model="gpt-4o-mini", messages=HI))
    fake.reply("bad", "fine")
    outcomes.append(client(contract_retries=1).chat.completions.create(model="gpt-4o-mini", messages=HI))
    fake.reply("bad")
    warn = client(output_contracts=[no_bad(enforcement="warn")])
    outcomes.append(warn.chat.completions.create(model="gpt-4o-mini", messages=HI))
    fake.reply("bad")
    outcomes.append(client(fallback="Sorry.").chat.completions.create(model="gpt-4o-mini", messages=HI))
    fake.reply("bad")
    with pytest.raises(ContractViolationError):
        client().chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert reporter.flush(timeout=20)

    stats = reporter.stats()
    assert stats["rejected"] == stats["failed"] == stats["dropped"] == 0
    stored = set(ValidationEvent.objects.filter(project=project).values_list("outcome", flat=True))
    assert stored == {"passed", "repaired", "warned", "fallback", "violated"}
    assert set(Trace.objects.filter(project=project).values_list("outcome", flat=True)) == stored
    kinds = {s["kind"] for t in Trace.objects.filter(project=project) for s in t.steps}
    assert {"request", "model_call", "output_contract", "reask", "outcome"} <= kinds
    assert stats["traces_failed"] == 0


def test_every_value_of_the_sdks_enums_is_accepted(reporting: Any) -> None:
    project, reporter = reporting
    fake = FakeLLM(default="fine", model="gpt-4o-mini")
    client = ContractOpenAI(
        api_key="sk-test", http_client=fake.http_client(), max_retries=0, output_contracts=[no_bad()]
    )
    # An event as the SDK builds it, then one copy per value of each of its enums.
    event = report_events(get_report(client.chat.completions.create(model="gpt-4o-mini", messages=HI)))[0]
    variants = [("outcome", o.value) for o in Outcome] + [("category", c.value) for c in Category]
    variants += [("severity", s.value) for s in Severity] + [("enforcement", e.value) for e in Enforcement]
    for field, value in variants:
        reporter.enqueue({**event, "event_id": f"{field}-{value}", field: value})
    assert reporter.flush(timeout=20)

    assert reporter.stats()["rejected"] == reporter.stats()["failed"] == 0
    for field, value in variants:
        stored = ValidationEvent.objects.get(project=project, event_id=f"{field}-{value}")
        assert getattr(stored, field) == value
