"""The circuit breaker: its states on an injected clock, and what a client does with it."""

from __future__ import annotations

from typing import Any

import pytest

from llm_contracts import CircuitBreaker, ContractConfigError, FunctionContract, get_report
from llm_contracts.enforcement import BreakerState

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer."}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=2, reset_timeout=30, clock=clock)


class TestStates:
    def test_it_stays_closed_below_the_threshold(self, breaker):
        breaker.record(errored=True)

        assert breaker.state is BreakerState.CLOSED
        assert breaker.allow()

    def test_it_opens_after_consecutive_errors_and_skips(self, breaker):
        breaker.record(errored=True)
        breaker.record(errored=True)

        assert breaker.state is BreakerState.OPEN
        assert not breaker.allow()
        assert breaker.skipped == 1
        assert breaker.trips == 1

    def test_a_clean_call_resets_the_count(self, breaker):
        breaker.record(errored=True)
        breaker.record(errored=False)
        breaker.record(errored=True)

        assert breaker.state is BreakerState.CLOSED

    def test_it_half_opens_after_the_timeout_and_lets_one_probe_through(self, breaker, clock):
        breaker.record(errored=True)
        breaker.record(errored=True)
        clock.now += 29.9
        assert breaker.state is BreakerState.OPEN

        clock.now += 0.1

        assert breaker.state is BreakerState.HALF_OPEN
        assert breaker.allow()
        assert not breaker.allow()  # the probe is still out: others skip

    def test_a_clean_probe_closes_it(self, breaker, clock):
        breaker.record(errored=True)
        breaker.record(errored=True)
        clock.now += 30
        breaker.allow()

        breaker.record(errored=False)

        assert breaker.state is BreakerState.CLOSED
        assert breaker.allow()

    def test_an_erroring_probe_opens_it_again_for_a_new_timeout(self, breaker, clock):
        breaker.record(errored=True)
        breaker.record(errored=True)
        clock.now += 30
        breaker.allow()

        breaker.record(errored=True)

        assert breaker.state is BreakerState.OPEN
        assert breaker.trips == 2
        clock.now += 29
        assert breaker.state is BreakerState.OPEN
        clock.now += 1
        assert breaker.state is BreakerState.HALF_OPEN

    def test_reset_closes_it(self, breaker):
        breaker.record(errored=True)
        breaker.record(errored=True)

        breaker.reset()

        assert breaker.state is BreakerState.CLOSED

    @pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"reset_timeout": -1}])
    def test_it_refuses_settings_it_cannot_use(self, kwargs):
        with pytest.raises(ContractConfigError):
            CircuitBreaker(**kwargs)


class TestThroughTheClient:
    @pytest.fixture
    def calls(self) -> list[str]:
        return []

    @pytest.fixture
    def setup(self, make_client, breaker, calls):
        broken = {"yes": True}

        def flaky(text: str) -> bool:
            calls.append(text)
            if broken["yes"]:
                raise RuntimeError("validator down")
            return True

        client = make_client(
            output_contracts=[FunctionContract(flaky, name="flaky")], circuit_breaker=breaker
        )
        return client, broken

    def _call(self, client: Any) -> Any:
        return client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def test_calls_go_straight_through_while_contracts_keep_raising(self, setup, breaker, calls, fake):
        client, _ = setup
        self._call(client)
        self._call(client)
        assert breaker.state is BreakerState.OPEN

        completion = self._call(client)

        assert completion.choices[0].message.content == fake.default
        assert len(calls) == 2  # the open breaker did not run the contract
        assert get_report(completion).outcome == "skipped"
        health = client.get_health_report()
        assert health["validation_skipped"] == 1
        assert health["circuit_breaker"]["state"] == "open"
        assert health["circuit_breaker"]["skipped"] == 1
        assert health["contracts"]["flaky"]["errors"] == 2

    def test_a_probe_after_the_timeout_closes_it_once_contracts_recover(self, setup, breaker, clock, calls):
        client, broken = setup
        self._call(client)
        self._call(client)
        clock.now += 30
        broken["yes"] = False

        completion = self._call(client)

        assert get_report(completion).outcome == "passed"
        assert breaker.state is BreakerState.CLOSED
        assert len(calls) == 3

    def test_a_probe_that_still_raises_opens_it_again(self, setup, breaker, clock):
        client, _ = setup
        self._call(client)
        self._call(client)
        clock.now += 30

        self._call(client)

        assert breaker.state is BreakerState.OPEN
        assert get_report(self._call(client)).outcome == "skipped"

    def test_an_open_breaker_skips_streams_too(self, setup, breaker):
        client, _ = setup
        self._call(client)
        self._call(client)

        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        list(stream)

        assert get_report(stream).outcome == "skipped"

    def test_a_copy_shares_the_breaker(self, setup, breaker):
        client, _ = setup

        assert client.with_options(timeout=5).circuit_breaker is breaker

    def test_a_clean_run_between_errors_resets_the_count_through_the_client(self, setup, breaker):
        # The engine skips the breaker while every circuit is clean; once one has an
        # error counted, a clean run must still be recorded, or errors far apart would add up.
        client, broken = setup
        self._call(client)
        broken["yes"] = False
        self._call(client)
        broken["yes"] = True
        self._call(client)

        assert breaker.state is BreakerState.CLOSED
        assert breaker.snapshot()["consecutive_errors"] == 1

    def test_a_breaker_subclass_decides_on_every_run(self, make_client, calls):
        class Never(CircuitBreaker):
            def allow(self, contract: str = "*") -> bool:
                return False

        def judged(text: str) -> bool:
            calls.append(text)
            return True

        client = make_client(
            output_contracts=[FunctionContract(judged, name="judged")], circuit_breaker=Never()
        )

        completion = self._call(client)

        assert calls == []
        assert get_report(completion).outcome == "skipped"


class TestQuiet:
    def test_it_is_quiet_only_while_every_circuit_is_clean(self, breaker, clock):
        assert breaker.quiet
        breaker.record("a", errored=True)
        assert not breaker.quiet
        breaker.record("a", errored=False)
        assert breaker.quiet
        breaker.record("a", errored=True)
        breaker.record("a", errored=True)
        assert not breaker.quiet and not breaker.allow("a")
        clock.now += 30
        assert breaker.allow("a")  # the probe
        assert not breaker.quiet
        breaker.record("a", errored=False)
        assert breaker.quiet
        breaker.record("b", errored=True)
        breaker.reset()
        assert breaker.quiet
