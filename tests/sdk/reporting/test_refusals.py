"""Batches the server keeps refusing: the bad item is isolated and dropped, the rest delivered."""

from __future__ import annotations

import threading

from llm_contracts import ContractOpenAI, FunctionContract
from llm_contracts.enforcement import CircuitBreaker

from ._server import ControlPlane
from .conftest import accounted, event


def test_a_poison_item_is_isolated_dropped_and_counted_while_the_rest_is_delivered(plane, make_reporter):
    plane.healthy = True
    plane.poison = {"ev-37"}
    reporter = make_reporter(plane.url, batch_size=100, max_retries=1)

    for i in range(100):
        reporter.enqueue(event(i))
    assert reporter.flush(10)

    stats = reporter.stats()
    assert stats["rejected"] == 1 and stats["sent"] == 99
    assert len(plane.events) == 99 and "ev-37" not in plane.received
    assert accounted(stats)
    # Isolating one item in 100 takes about 2 * log2(100) requests, not 100.
    assert len(plane.posts) <= 2 + 2 * 8


def test_a_server_that_answers_500_to_everything_is_not_split(plane, make_reporter):
    plane.mode = "500"
    plane.healthy = False
    reporter = make_reporter(plane.url, max_retries=1)
    for i in range(8):
        reporter.enqueue(event(i))
    assert reporter.flush(10)
    stats = reporter.stats()
    assert stats["rejected"] == 0 and stats["failed"] == 8
    assert len(plane.posts) == 2  # the first try and one retry


def test_a_poison_item_at_the_spools_head_never_blocks_it_across_restarts(make_reporter, tmp_path):
    down = ControlPlane()  # not started: nobody listens on its port
    first = make_reporter(down.url, spool_dir=tmp_path, max_retries=0)
    for i in range(50):
        first.enqueue(event(i))
    assert first.flush(10)
    first.close(timeout=5)
    assert first.stats()["spooled"] == 50

    plane = ControlPlane(port=down.port).start()
    try:
        plane.healthy = True
        plane.poison = {"ev-0"}  # the very head of the spool
        second = make_reporter(plane.url, spool_dir=tmp_path, max_retries=0)
        assert plane.wait_for(lambda: second.stats()["spooled"] == 0)
        stats = second.stats()
        assert stats["rejected"] == 1 and stats["sent"] == 49
        assert len(plane.events) == 49
    finally:
        plane.stop()


def test_a_2xx_that_is_not_the_protocols_answer_is_not_counted_as_sent(plane, make_reporter):
    plane.mode = "html200"
    reporter = make_reporter(plane.url, max_retries=1)
    reporter.enqueue(event(1))
    assert reporter.flush(10)
    stats = reporter.stats()
    assert stats["sent"] == 0 and stats["failed"] == 1
    assert accounted(stats)


def test_close_returns_within_its_timeout_while_the_server_hangs(plane, make_reporter):
    plane.mode = "hang"
    # Each request may take 20 s: close(0.2) must not wait for it.
    reporter = make_reporter(plane.url, batch_size=1, timeout=20.0, max_retries=0)
    reporter.enqueue(event("stuck"))
    assert plane.wait_for(lambda: plane.hanging == 1)

    closer = threading.Thread(target=reporter.close, kwargs={"timeout": 0.2}, daemon=True)
    closer.start()
    closer.join(10.0)  # a generous bound, far below the request's 20 s
    assert not closer.is_alive()
    plane.release()


def test_breaker_skips_are_counted_and_reported(plane, make_reporter, fake):
    reporter = make_reporter(plane.url)

    def broken(text: str) -> bool:
        raise RuntimeError("this contract is broken")

    client = ContractOpenAI(
        api_key="sk-test",
        http_client=fake.http_client(),
        max_retries=0,
        reporter=reporter,
        output_contracts=[FunctionContract(broken, name="broken")],
        circuit_breaker=CircuitBreaker(failure_threshold=1, reset_timeout=3600),
    )
    for _ in range(4):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    reporter.enqueue(event("last"))
    assert reporter.flush(10)

    assert reporter.stats()["breaker_skips"] == 3  # the first call errored and opened the breaker
    assert plane.batches[-1]["sdk"]["counters"]["breaker_skips"] == 3
