"""The live API accepts every outcome, stage, category, severity and enforcement the SDK can produce.

The values come from the protocol's vocabularies (llm_contracts.protocol), not from a list
written here: a value added to one of them fails these tests until a real call produces it
and the server stores it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from accounts import services as account_services
from contracts_app.models import Trace
from llm_contracts import CircuitBreaker, ContractOpenAI, ContractViolationError, FunctionContract, get_report
from llm_contracts.protocol import Category, Enforcement, Outcome, Severity, Stage
from llm_contracts.reporting import Reporter
from llm_contracts.reporting._events import report_events
from llm_contracts.testing import FakeLLM
from telemetry.models import SdkInstance, ValidationEvent

HI = [{"role": "user", "content": "hi"}]
MODEL = "gpt-4o-mini"


def no_bad(**kwargs: Any) -> FunctionContract:
    return FunctionContract(lambda text: "bad" not in text, name=kwargs.pop("name", "no_bad"), **kwargs)


@pytest.fixture
def reporting(live_server: Any, transactional_db: None) -> Any:
    project = account_services.project_create(name="Protocol")
    _, key = account_services.api_key_create(project=project, name="sdk")
    reporter = Reporter(live_server.url, key, flush_interval=0.05, max_retries=0)
    yield project, reporter
    reporter.close(timeout=5)


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(default="fine", model=MODEL)


@pytest.fixture
def client(reporting: Any, fake: FakeLLM) -> Callable[..., ContractOpenAI]:
    _, reporter = reporting

    def make(**kwargs: Any) -> ContractOpenAI:
        kwargs.setdefault("output_contracts", [no_bad()])
        return ContractOpenAI(
            api_key="sk-test",
            http_client=fake.http_client(),
            max_retries=0,
            reporter=reporter,
            upload_traces="all",
            **kwargs,
        )

    return make


def _broken(text: str) -> bool:
    raise RuntimeError("validator down")


def test_every_outcome_of_a_real_call_is_stored_with_its_trace(
    reporting: Any, client: Callable[..., ContractOpenAI], fake: FakeLLM
) -> None:
    project, reporter = reporting

    def passed() -> None:
        client().chat.completions.create(model=MODEL, messages=HI)

    def repaired() -> None:
        fake.reply("bad", "fine")
        client(contract_retries=1).chat.completions.create(model=MODEL, messages=HI)

    def warned() -> None:
        fake.reply("bad")
        client(output_contracts=[no_bad(enforcement="warn")]).chat.completions.create(
            model=MODEL, messages=HI
        )

    def fallback() -> None:
        fake.reply("bad")
        client(fallback="Sorry.").chat.completions.create(model=MODEL, messages=HI)

    def violated() -> None:
        fake.reply("bad")
        with pytest.raises(ContractViolationError):
            client().chat.completions.create(model=MODEL, messages=HI)

    def skipped() -> None:
        # One error opens the breaker; the next call skips validation.
        breaker = CircuitBreaker(failure_threshold=1, reset_timeout=3600)
        broken = client(
            output_contracts=[FunctionContract(_broken, name="broken", enforcement="warn")],
            circuit_breaker=breaker,
        )
        broken.chat.completions.create(model=MODEL, messages=HI)
        completion = broken.chat.completions.create(model=MODEL, messages=HI)
        assert get_report(completion).outcome == Outcome.SKIPPED

    calls: dict[Outcome, Callable[[], None]] = {
        Outcome.PASSED: passed,
        Outcome.REPAIRED: repaired,
        Outcome.WARNED: warned,
        Outcome.FALLBACK: fallback,
        Outcome.VIOLATED: violated,
        Outcome.SKIPPED: skipped,
    }
    assert set(calls) == set(Outcome), "a new outcome needs a real call that produces it here"
    for make_call in calls.values():
        make_call()
    assert reporter.flush(timeout=20)

    stats = reporter.stats()
    assert stats["rejected"] == stats["failed"] == stats["dropped"] == stats["traces_failed"] == 0
    stored = set(ValidationEvent.objects.filter(project=project).values_list("outcome", flat=True))
    assert stored == {o.value for o in Outcome}
    assert ValidationEvent.objects.filter(project=project, outcome="fallback", contract="no_bad").exists()
    assert set(Trace.objects.filter(project=project).values_list("outcome", flat=True)) == stored
    # The breaker's skips travel in the batch's counters and the server keeps them.
    assert stats["breaker_skips"] == 1
    instance = SdkInstance.objects.get(project=project, instance_id=reporter.instance_id)
    assert instance.counters["breaker_skips"] == 1


def test_every_category_and_stage_of_a_real_call_is_stored(
    reporting: Any, client: Callable[..., ContractOpenAI], fake: FakeLLM
) -> None:
    project, reporter = reporting
    inputs = [FunctionContract(lambda text: True, name="input-input", category=Category.INPUT)]
    outputs = [no_bad(name=f"output-{c.value}", category=c) for c in Category if c is not Category.INPUT]
    fake.reply("bad", "fine")  # a re-ask: every stage of a call, in one trace

    client(input_contracts=inputs, output_contracts=outputs, contract_retries=1).chat.completions.create(
        model=MODEL, messages=HI
    )
    assert reporter.flush(timeout=20)

    assert reporter.stats()["rejected"] == reporter.stats()["failed"] == 0
    stored = dict(ValidationEvent.objects.filter(project=project).values_list("contract", "category"))
    assert stored == {
        f"{c.value}-{c.value}" if c is Category.INPUT else f"output-{c.value}": c.value for c in Category
    }
    (trace,) = Trace.objects.filter(project=project)
    assert {step["kind"] for step in trace.steps} == {s.value for s in Stage}


def test_every_value_of_the_sdks_enums_is_accepted(reporting: Any, fake: FakeLLM) -> None:
    project, reporter = reporting
    plain = ContractOpenAI(
        api_key="sk-test", http_client=fake.http_client(), max_retries=0, output_contracts=[no_bad()]
    )
    # An event as the SDK builds it, then one copy per value of each of its enums.
    event = report_events(get_report(plain.chat.completions.create(model=MODEL, messages=HI)))[0]
    variants = [
        (field, member.value)
        for field, vocabulary in [
            ("outcome", Outcome),
            ("category", Category),
            ("severity", Severity),
            ("enforcement", Enforcement),
        ]
        for member in vocabulary
    ]
    for field, value in variants:
        reporter.enqueue({**event, "event_id": f"{field}-{value}", field: value})
    assert reporter.flush(timeout=20)

    assert reporter.stats()["rejected"] == reporter.stats()["failed"] == 0
    for field, value in variants:
        stored = ValidationEvent.objects.get(project=project, event_id=f"{field}-{value}")
        assert getattr(stored, field) == value


# uuid4s whose hex starts with a Luhn-valid run of 13-19 digits: the redactor reads them as
# card numbers (about one uuid4 in 9,000 does).
CARD_LIKE_UUIDS = [
    "259081997229479e8b33670df416529c",
    "4070460592214c76a84fc76b931eeb7b",
    "55092507747344fda1929829ea1c1b44",
    "3796128029824e89bfc200e6b9ddadd0",
]


def test_the_ids_the_sdk_makes_are_stored_as_sent(
    reporting: Any, client: Callable[..., ContractOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, reporter = reporting
    drawn = iter(CARD_LIKE_UUIDS * 50)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(next(drawn)))
    contracts = [no_bad(name=f"c{i}") for i in range(3)]
    client(output_contracts=contracts).chat.completions.create(model=MODEL, messages=HI)
    assert reporter.flush(timeout=20)

    events = list(
        ValidationEvent.objects.filter(project=project).values_list("event_id", "call_id", "trace_id")
    )
    assert len(events) == 3
    (trace,) = Trace.objects.filter(project=project)
    ids = {i for row in events for i in row} | {trace.trace_id, trace.call_id}
    # Each is a fresh SDK id stored as it was sent: not one the redactor found a card in
    # (it would be stored as a "pii-" hash) and not the uuid4 it was drawn from.
    assert not [i for i in ids if i.startswith("pii-")]
    assert not ids & set(CARD_LIKE_UUIDS)
    assert {trace_id for *_, trace_id in events} == {trace.trace_id}
    assert {call_id for _, call_id, _ in events} == {trace.call_id}
