"""The first call of a process waits for the project's contracts; the report says if they were missing."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from llm_contracts import (
    ContractConfigError,
    ContractOpenAI,
    ContractViolationError,
    FunctionContract,
    get_report,
)
from llm_contracts.testing import FakeLLM

from ._server import ControlPlane, free_port


def forbid_loader(spec: dict[str, Any], name: str) -> FunctionContract:
    """Stand in for llmcl.load_spec: a spec {"name", "forbid"} rejects answers containing a word."""
    word = spec["forbid"]
    return FunctionContract(lambda text: word not in text, name=spec["name"], message=f"mentions {word}")


APPLE = {"contracts": [{"name": "NoApple", "version": 1, "spec": {"name": "NoApple", "forbid": "apple"}}]}


class SlowPlane(ControlPlane):
    """A control plane whose GETs wait until ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def _get(self, h: Any) -> None:
        self.gate.wait(20)
        super()._get(h)

    def stop(self) -> None:
        self.gate.set()
        super().stop()


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(default="an apple a day", model="gpt-4o-mini")


@pytest.fixture
def slow_plane() -> Any:
    plane = SlowPlane().start()
    plane.contracts = APPLE
    yield plane
    plane.stop()


def client_on(fake: FakeLLM, reporter: Any, **kwargs: Any) -> ContractOpenAI:
    reporter.sync.loader = forbid_loader
    return ContractOpenAI(
        api_key="sk-test",
        http_client=fake.http_client(),
        max_retries=0,
        reporter=reporter,
        project_contracts=True,
        **kwargs,
    )


def ask(client: ContractOpenAI) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_the_first_call_enforces_the_project_contracts_of_a_server_that_answers(
    slow_plane, make_reporter, fake
):
    reporter = make_reporter(slow_plane.url, poll_interval=60)
    client = client_on(fake, reporter, project_contracts_timeout=10)
    # The answer arrives while the first call waits for it.
    threading.Timer(0.2, slow_plane.gate.set).start()

    with pytest.raises(ContractViolationError, match="mentions apple") as caught:
        ask(client)

    assert caught.value.report is not None and caught.value.report.project_contracts == "applied"


def test_a_dead_server_costs_the_first_call_nothing_and_the_report_says_so(make_reporter, fake):
    reporter = make_reporter(f"http://127.0.0.1:{free_port()}", poll_interval=60)
    client = client_on(fake, reporter)

    first, second = ask(client), ask(client)

    for reply in (first, second):
        report = get_report(reply)
        assert report.outcome == "passed" and report.project_contracts == "unavailable"
        assert report.to_dict()["project_contracts"] == "unavailable"


def test_a_slow_server_is_waited_for_only_up_to_the_timeout_then_picked_up(slow_plane, make_reporter, fake):
    reporter = make_reporter(slow_plane.url, poll_interval=0.05)
    client = client_on(fake, reporter, project_contracts_timeout=0.2)

    report = get_report(ask(client))

    assert report.outcome == "passed" and report.project_contracts == "unavailable"
    slow_plane.gate.set()
    assert slow_plane.wait_for(lambda: reporter.sync.contracts_pulled.is_set())
    with pytest.raises(ContractViolationError, match="mentions apple"):
        ask(client)


def test_a_zero_timeout_never_waits(slow_plane, make_reporter, fake):
    reporter = make_reporter(slow_plane.url, poll_interval=60)
    client = client_on(fake, reporter, project_contracts_timeout=0)

    assert get_report(ask(client)).project_contracts == "unavailable"


@pytest.mark.parametrize("timeout", [-1, 61, "1", True])
def test_a_timeout_it_cannot_use_is_refused_by_name(make_reporter, fake, timeout):
    reporter = make_reporter(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(ContractConfigError, match="project_contracts_timeout"):
        client_on(fake, reporter, project_contracts_timeout=timeout)
