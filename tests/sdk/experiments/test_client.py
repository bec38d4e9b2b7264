"""Experiments through the real client: FakeLLM for the model, a live local control plane for the rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import llm_contracts
from llm_contracts import (
    AsyncContractOpenAI,
    ContractConfigError,
    ContractOpenAI,
    ContractViolationError,
    FunctionContract,
    experiment_context,
    get_report,
)
from llm_contracts.experiments import assign
from llm_contracts.reporting import Reporter
from llm_contracts.testing import FakeLLM
from tests.sdk.reporting._server import API_KEY, free_port

from ._plane import ExperimentPlane

EXPERIMENT = "stricter-fruit"


def forbid_loader(spec: dict[str, Any], name: str) -> FunctionContract:
    """Stand in for llmcl.load_spec: a spec {"forbid": word} rejects answers containing the word."""
    word = spec["forbid"]
    return FunctionContract(lambda text: word not in text, name=name, message=f"mentions {word}")


def experiment(
    *,
    key: str = EXPERIMENT,
    coverage: float = 1.0,
    weights: list[float] | None = None,
    sticky: bool = False,
    control: str = "apple",
    treatment: str = "banana",
) -> dict[str, Any]:
    """Return one running experiment as GET /api/v1/experiments lists it."""
    return {
        "key": key,
        "seed": key,
        "status": "running",
        "coverage": coverage,
        "weights": weights or [0.5, 0.5],
        "sticky": sticky,
        "variations": [
            {"key": "control", "contracts": [{"name": "NoFruit", "version": 1, "spec": {"forbid": control}}]},
            {
                "key": "treatment",
                "contracts": [{"name": "NoFruit", "version": 2, "spec": {"forbid": treatment}}],
            },
        ],
    }


def user_in(
    variation: int, *, key: str = EXPERIMENT, coverage: float = 1.0, weights: list[float] | None = None
) -> str:
    """Return a user id the published algorithm puts in ``variation`` (-1: outside the experiment)."""
    for i in range(10_000):
        user = f"user-{i}"
        if assign(key, user, coverage=coverage, weights=weights or [0.5, 0.5]).variation == variation:
            return user
    raise AssertionError("no such user")


CONTROL_USER, TREATMENT_USER = user_in(0), user_in(1)


@pytest.fixture
def plane() -> Iterator[ExperimentPlane]:
    server = ExperimentPlane().start()
    server.experiments = {"experiments": [experiment()]}
    yield server
    server.stop()


@pytest.fixture
def make_reporter() -> Iterator[Callable[..., Reporter]]:
    made: list[Reporter] = []

    def make(url: str, **kwargs: Any) -> Reporter:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("flush_interval", 0.05)
        kwargs.setdefault("poll_interval", 0.05)
        kwargs.setdefault("timeout", 1.0)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("backoff_max", 0.05)
        kwargs.setdefault("max_retries", 0)
        reporter = Reporter(url, **kwargs)
        reporter.sync.loader = forbid_loader
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.close(timeout=2)


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(default="a clean answer", model="gpt-4o-mini")


def client_on(fake: FakeLLM, reporter: Reporter, **kwargs: Any) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="sk-test", http_client=fake.http_client(), max_retries=0, reporter=reporter, **kwargs
    )


def ask(client: Any, text: str = "hello") -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def verdict(client: ContractOpenAI, fake: FakeLLM, answer: str) -> str:
    """Return "passed" or the violation message of one call the fake model answers with ``answer``."""
    fake.reply(answer)
    try:
        return get_report(ask(client)).outcome  # type: ignore[union-attr]
    except ContractViolationError as exc:
        return str(exc.results[0].message)


@pytest.fixture
def ready(
    plane: ExperimentPlane, make_reporter: Callable[..., Reporter], fake: FakeLLM
) -> Callable[..., ContractOpenAI]:
    """Return a factory of clients whose reporter has pulled the plane's experiments once."""

    def build(**kwargs: Any) -> ContractOpenAI:
        reporter = make_reporter(plane.url)
        client = client_on(fake, reporter, **kwargs)
        assert reporter.sync.wait_loaded(5)
        return client

    return build


# -- assignment and enforcement ----------------------------------------------------------------


def test_the_same_user_always_lands_in_the_same_variant_and_gets_its_contracts(ready, fake):
    client = ready(user_id=TREATMENT_USER)

    for _ in range(3):
        assert verdict(client, fake, "a banana a day") == "mentions banana"
        assert verdict(client, fake, "an apple a day") == "passed"
        assert (client.last_report.experiment, client.last_report.variant) == (EXPERIMENT, "treatment")


def test_a_control_user_gets_the_control_contracts(ready, fake):
    client = ready(user_id=CONTROL_USER)

    assert verdict(client, fake, "an apple a day") == "mentions apple"
    assert verdict(client, fake, "a banana a day") == "passed"
    assert client.last_report.variant == "control"
    assert client.last_report.to_dict()["experiments"] == [{"experiment": EXPERIMENT, "variant": "control"}]


def test_the_per_call_context_overrides_the_client_user(ready, fake):
    client = ready(user_id=CONTROL_USER)

    with experiment_context(user_id=TREATMENT_USER):
        assert verdict(client, fake, "a banana a day") == "mentions banana"
        with llm_contracts.experiment_context(user_id=CONTROL_USER):
            assert verdict(client, fake, "a banana a day") == "passed"
        assert client.last_report.variant == "control"
    assert verdict(client, fake, "an apple a day") == "mentions apple"


def test_the_client_keeps_its_own_contracts_and_a_variant_replaces_one_of_the_same_name(ready, fake):
    no_cherry = FunctionContract(lambda text: "cherry" not in text, name="NoFruit", message="mentions cherry")
    polite = FunctionContract(lambda text: "stupid" not in text, name="Polite", message="rude")
    client = ready(user_id=TREATMENT_USER, output_contracts=[no_cherry, polite])

    # The variant's NoFruit stands in for the client's.
    assert verdict(client, fake, "a cherry a day") == "passed"
    assert verdict(client, fake, "a banana a day") == "mentions banana"
    assert verdict(client, fake, "a stupid answer") == "rude"
    without_user = ready(output_contracts=[no_cherry])
    assert verdict(without_user, fake, "a cherry a day") == "mentions cherry"
    assert without_user.last_report.exposures == ()


def test_a_user_in_two_experiments_on_the_same_contract_gets_only_the_first_ones_variant(plane, ready, fake):
    second = experiment(key="zzz-later", control="cherry", treatment="date")
    plane.experiments = {"experiments": [experiment(), second]}
    client = ready(user_id=TREATMENT_USER)
    assert verdict(client, fake, "a banana a day") == "mentions banana"
    assert verdict(client, fake, "a cherry and a date") == "passed"
    assert [e.experiment for e in client.last_report.exposures] == [EXPERIMENT]


def test_a_user_outside_the_coverage_gets_no_experiment(plane, ready, fake):
    plane.experiments = {"experiments": [experiment(coverage=0.2)]}
    outside = user_in(-1, coverage=0.2)
    client = ready(user_id=outside)

    assert verdict(client, fake, "a banana and an apple") == "passed"
    assert client.last_report.experiment is None


def test_copies_of_a_client_keep_its_user(ready, fake):
    client = ready(user_id=TREATMENT_USER)
    twin = client.with_options(timeout=5)

    assert verdict(twin, fake, "a banana a day") == "mentions banana"


# -- what is reported -------------------------------------------------------------------------


def test_events_carry_the_experiment_the_variant_and_the_variants_contract_version(plane, ready, fake):
    polite = FunctionContract(lambda text: "stupid" not in text, name="Polite", message="rude")
    client = ready(user_id=TREATMENT_USER, output_contracts=[polite])
    fake.reply("a banana a day")
    with pytest.raises(ContractViolationError):
        ask(client)
    with experiment_context(user_id=CONTROL_USER):
        verdict(client, fake, "a banana a day")
    assert client._contract_telemetry.reporter.flush(5)

    got = sorted(
        (e["variant"], e["contract"], e["contract_version"], e["is_valid"], e["experiment"])
        for e in plane.events
    )
    assert got == [
        ("control", "NoFruit", 1, True, EXPERIMENT),
        ("control", "Polite", None, True, EXPERIMENT),
        ("treatment", "NoFruit", 2, False, EXPERIMENT),
        ("treatment", "Polite", None, True, EXPERIMENT),
    ]


def test_events_of_a_conversation_carry_its_session_and_turn(plane, ready):
    client = ready(user_id=CONTROL_USER)

    with client.conversation("chat-7"):
        ask(client, "first")
        ask(client, "second")
    assert client._contract_telemetry.reporter.flush(5)

    assert sorted((e["session_id"], e["turn"]) for e in plane.events) == [("chat-7", 1), ("chat-7", 2)]
    assert client.last_report.session_id == "chat-7" and client.last_report.turn == 2


def test_calls_outside_experiments_and_conversations_report_none_for_both(plane, ready):
    client = ready(output_contracts=[FunctionContract(lambda text: True, name="Always")])
    ask(client)
    assert client._contract_telemetry.reporter.flush(5)

    (event,) = plane.events
    assert (event["experiment"], event["variant"], event["session_id"], event["turn"]) == (None,) * 4


# -- pulling the rules ------------------------------------------------------------------------


def test_experiments_are_pulled_with_an_etag(plane, ready, fake):
    client = ready(user_id=TREATMENT_USER)

    assert plane.wait_for(lambda: any(p == "/api/v1/experiments" and s == 304 for p, _, s in plane.gets))
    assert verdict(client, fake, "a banana a day") == "mentions banana"


def test_a_new_allocation_is_picked_up_and_a_rollback_sends_everyone_to_control(plane, ready, fake):
    client = ready(user_id=TREATMENT_USER)
    assert verdict(client, fake, "a banana a day") == "mentions banana"
    sync = client._contract_telemetry.reporter.sync

    plane.experiments = {"experiments": [experiment(weights=[1.0, 0.0])]}
    assert plane.wait_for(lambda: sync.experiments and sync.experiments[0].weights == (1.0, 0.0))
    assert verdict(client, fake, "an apple a day") == "mentions apple"  # moved to control: not sticky

    plane.experiments = {"experiments": []}
    assert plane.wait_for(lambda: sync.experiments == ())
    assert verdict(client, fake, "an apple and a banana") == "passed"
    assert client.last_report.experiment is None


def test_a_sticky_experiment_keeps_its_users_when_the_weights_change(plane, ready, fake):
    plane.experiments = {"experiments": [experiment(sticky=True)]}
    client = ready(user_id=TREATMENT_USER)
    assert verdict(client, fake, "a banana a day") == "mentions banana"
    sync = client._contract_telemetry.reporter.sync

    plane.experiments = {"experiments": [experiment(sticky=True, weights=[1.0, 0.0])]}
    assert plane.wait_for(lambda: sync.experiments and sync.experiments[0].weights == (1.0, 0.0))
    assert verdict(client, fake, "a banana a day") == "mentions banana"
    assert client.last_report.variant == "treatment"
    with experiment_context(user_id=user_in(0, weights=[0.5, 0.5])):  # never seen: placed by the new weights
        assert verdict(client, fake, "an apple") == "mentions apple"


def test_the_last_known_rules_stay_in_force_when_the_server_goes_away(plane, ready, fake):
    client = ready(user_id=TREATMENT_USER)
    assert verdict(client, fake, "a banana a day") == "mentions banana"

    plane.stop()
    polls = len(plane.gets)
    assert verdict(client, fake, "a banana a day") == "mentions banana"
    assert client.last_report.variant == "treatment"
    assert len(plane.gets) == polls


def test_without_any_known_rules_every_call_is_control(make_reporter, fake):
    reporter = make_reporter(f"http://127.0.0.1:{free_port()}")  # nobody listens there
    client = client_on(fake, reporter, user_id=TREATMENT_USER)
    assert reporter.sync.wait_loaded(5)

    fake.reply("a banana and an apple")
    assert get_report(ask(client)).experiment is None


def test_an_experiment_whose_contracts_do_not_load_leaves_its_users_on_control(plane, ready, caplog, fake):
    broken = experiment(key="broken")
    broken["variations"][1]["contracts"][0]["spec"] = {"no": "forbid"}
    plane.experiments = {"experiments": [broken, experiment()]}

    with caplog.at_level(logging.ERROR, logger="llm_contracts"):
        client = ready(user_id=TREATMENT_USER)
    assert [e.key for e in client._contract_telemetry.reporter.sync.experiments] == [EXPERIMENT]
    assert "cannot apply experiment broken" in caplog.text and "KeyError" in caplog.text
    assert verdict(client, fake, "a banana a day") == "mentions banana"


def test_a_malformed_experiment_is_ignored_and_the_others_apply(plane, ready, caplog):
    plane.experiments = {
        "experiments": [
            {"key": "bad", "weights": "half", "variations": []},
            experiment(),
            {"no": "key"},
            dict(experiment(key="paused"), status="paused"),
        ]
    }

    with caplog.at_level(logging.WARNING, logger="llm_contracts"):
        client = ready(user_id=TREATMENT_USER)
    assert [e.key for e in client._contract_telemetry.reporter.sync.experiments] == [EXPERIMENT]
    assert "weights must be a non-empty list" in caplog.text
    assert "malformed experiment" in caplog.text


def test_variant_contracts_compiled_from_llmcl_are_enforced(plane, make_reporter, fake):
    from llm_contracts.llmcl import compile_source

    source = 'contract NoGuarantee version 3 {\n  ensure not contains(output, "guarantee")\n}\n'
    spec = compile_source(source)
    plane.experiments = {
        "experiments": [
            dict(
                experiment(),
                variations=[
                    {"key": "control", "contracts": []},
                    {"key": "treatment", "contracts": [{"name": "NoGuarantee", "version": 3, "spec": spec}]},
                ],
            )
        ]
    }
    reporter = make_reporter(plane.url)
    reporter.sync.loader = llm_contracts.reporting._sync.load_project_spec
    client = client_on(fake, reporter, user_id=TREATMENT_USER)
    assert reporter.sync.wait_loaded(5)

    fake.reply("we guarantee it")
    with pytest.raises(ContractViolationError):
        ask(client)
    with experiment_context(user_id=CONTROL_USER):
        fake.reply("we guarantee it")
        assert get_report(ask(client)).variant == "control"
    assert reporter.flush(5)
    treated = [e for e in plane.events if e["variant"] == "treatment"]
    assert [(e["contract_version"], e["is_valid"], e["category"]) for e in treated] == [(3, False, "output")]


async def test_the_async_client_assigns_per_task(plane, make_reporter, fake):
    reporter = make_reporter(plane.url)
    client = AsyncContractOpenAI(
        api_key="sk-test",
        http_client=fake.async_http_client(),
        max_retries=0,
        reporter=reporter,
        project_contracts=True,
    )
    assert reporter.sync.wait_loaded(5)

    messages = [{"role": "user", "content": "x"}]

    with experiment_context(user_id=TREATMENT_USER):
        fake.reply("a banana a day")
        with pytest.raises(ContractViolationError, match="mentions banana"):
            await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    fake.reply("a banana a day")
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert get_report(reply).experiment is None  # no user: no experiment


# -- bad configuration ------------------------------------------------------------------------


def test_a_bad_user_id_is_refused_by_name(make_reporter, fake, plane):
    with pytest.raises(ContractConfigError, match="user_id must be a non-empty str"):
        client_on(fake, make_reporter(plane.url), user_id=42)
    with (
        pytest.raises(ContractConfigError, match="experiment_context user_id must be a non-empty str"),
        experiment_context(user_id=""),
    ):
        pass


def test_variant_contracts_are_built_once_per_contract_version(plane, make_reporter, fake):
    built: list[tuple[str, Any]] = []

    def counting_loader(spec: dict[str, Any], name: str) -> FunctionContract:
        built.append((name, spec["forbid"]))
        return forbid_loader(spec, name)

    reporter = make_reporter(plane.url)
    reporter.sync.loader = counting_loader
    client_on(fake, reporter, user_id=TREATMENT_USER)
    assert reporter.sync.wait_loaded(5)
    for coverage in (0.5, 0.8, 1.0):  # the allocation moves, the contracts stay
        plane.experiments = {"experiments": [experiment(coverage=coverage)]}
        assert plane.wait_for(lambda c=coverage: reporter.sync.experiments[0].coverage == c)
    plane.experiments = {"experiments": [experiment(treatment="cherry")]}
    assert plane.wait_for(lambda: len(built) == 3)

    assert built == [("NoFruit", "apple"), ("NoFruit", "banana"), ("NoFruit", "cherry")]
