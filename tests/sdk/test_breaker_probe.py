"""The circuit breaker through the client: failed HTTP calls never wedge it, and it works per contract."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from llm_contracts import CircuitBreaker, ContractViolationError, FunctionContract, get_report
from llm_contracts.enforcement import BreakerState
from llm_contracts.testing import FakeReply

from ..conftest import no_forbidden

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Answer."}]
SERVER_ERROR = FakeReply(status=500)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A validator that raises while ``broken`` and counts its runs."""

    def __init__(self) -> None:
        self.broken = True
        self.runs = 0

    def __call__(self, text: str) -> bool:
        self.runs += 1
        if self.broken:
            raise RuntimeError("validator down")
        return True


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=2, reset_timeout=30, clock=clock)


def call(client: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=MESSAGES)


class TestAFailedHTTPCallNeverWedgesTheBreaker:
    def test_after_a_500_in_the_half_open_window_the_next_call_probes_and_closes_it(
        self, make_client, fake, breaker, clock
    ):
        flaky = Flaky()
        client = make_client(
            output_contracts=[FunctionContract(flaky, name="flaky")], circuit_breaker=breaker
        )
        call(client)
        call(client)
        assert breaker.state is BreakerState.OPEN
        clock.now += 30
        fake.reply(SERVER_ERROR)

        with pytest.raises(openai.InternalServerError):
            call(client)
        flaky.broken = False
        completion = call(client)

        assert get_report(completion).outcome == "passed"
        assert flaky.runs == 3
        assert breaker.state is BreakerState.CLOSED

    def test_a_probe_that_still_raises_after_a_500_opens_it_again_and_a_later_one_closes_it(
        self, make_client, fake, breaker, clock
    ):
        flaky = Flaky()
        client = make_client(
            output_contracts=[FunctionContract(flaky, name="flaky")], circuit_breaker=breaker
        )
        call(client)
        call(client)
        clock.now += 30
        fake.reply(SERVER_ERROR)
        with pytest.raises(openai.InternalServerError):
            call(client)

        call(client)  # the probe: the contract still raises

        assert breaker.state is BreakerState.OPEN
        assert get_report(call(client)).outcome == "skipped"
        clock.now += 30
        flaky.broken = False
        assert get_report(call(client)).outcome == "passed"
        assert breaker.state is BreakerState.CLOSED

    def test_an_input_probe_before_a_500_closes_it_and_later_calls_are_validated(
        self, make_client, fake, breaker, clock
    ):
        flaky = Flaky()
        client = make_client(
            input_contracts=[FunctionContract(flaky, name="flaky_input", category="input")],
            output_contracts=[],
            circuit_breaker=breaker,
        )
        call(client)
        call(client)
        clock.now += 30
        flaky.broken = False
        fake.reply(SERVER_ERROR)

        with pytest.raises(openai.InternalServerError):
            call(client)

        assert breaker.state is BreakerState.CLOSED
        assert get_report(call(client)).outcome == "passed"
        assert flaky.runs == 4

    async def test_the_async_client_recovers_after_a_500_too(self, make_async_client, fake, breaker, clock):
        flaky = Flaky()
        client = make_async_client(
            output_contracts=[FunctionContract(flaky, name="flaky")], circuit_breaker=breaker
        )
        for _ in range(2):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        clock.now += 30
        fake.reply(SERVER_ERROR)
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        flaky.broken = False

        completion = await client.chat.completions.create(model=MODEL, messages=MESSAGES)

        assert get_report(completion).outcome == "passed"
        assert breaker.state is BreakerState.CLOSED

    async def test_a_cancelled_probe_opens_it_again(self, make_async_client, breaker, clock):
        started = asyncio.Event()
        mode = {"now": "raise"}

        async def slow(text: str) -> bool:
            if mode["now"] == "raise":
                raise RuntimeError("validator down")
            if mode["now"] == "hang":
                started.set()
                await asyncio.sleep(60)
            return True

        client = make_async_client(
            output_contracts=[FunctionContract(slow, name="slow")], circuit_breaker=breaker
        )
        for _ in range(2):
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        clock.now += 30
        mode["now"] = "hang"
        task = asyncio.ensure_future(client.chat.completions.create(model=MODEL, messages=MESSAGES))
        await started.wait()

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        assert breaker.state_of("slow") is BreakerState.OPEN
        clock.now += 30
        mode["now"] = "ok"
        completion = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert get_report(completion).outcome == "passed"
        assert breaker.state_of("slow") is BreakerState.CLOSED


class TestOneBreakerPerContract:
    @pytest.fixture
    def client(self, make_client, breaker) -> Any:
        broken = FunctionContract(Flaky(), name="broken")
        return make_client(output_contracts=[broken, no_forbidden()], circuit_breaker=breaker)

    def test_a_buggy_contract_never_switches_off_a_healthy_strict_one(self, client, fake, breaker):
        call(client)
        call(client)
        assert breaker.state_of("broken") is BreakerState.OPEN
        fake.reply("this is forbidden")

        with pytest.raises(ContractViolationError, match="no_forbidden"):
            call(client)

        assert breaker.state_of("no_forbidden") is BreakerState.CLOSED

    def test_the_report_says_which_contract_was_skipped(self, client, breaker):
        call(client)
        call(client)

        report = get_report(call(client))

        assert report.outcome == "passed"
        verdicts = {r.contract_name: r for r in report.output_results}
        assert verdicts["broken"].details["skipped"] == "circuit breaker open"
        assert "skipped" not in verdicts["no_forbidden"].details
        health = client.get_health_report()["circuit_breaker"]
        assert health["state"] == "open"
        assert health["contracts"]["broken"] == {
            "state": "open",
            "consecutive_errors": 2,
            "skipped": 1,
            "trips": 1,
        }
        assert health["contracts"]["no_forbidden"]["state"] == "closed"

    def test_streams_keep_the_healthy_contract_too(self, client, fake, breaker):
        call(client)
        call(client)
        fake.reply("this is forbidden")

        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(ContractViolationError, match="no_forbidden"):
            list(stream)
