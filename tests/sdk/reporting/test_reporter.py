"""The reporter against a real local HTTP server: batching, gzip, faults, spool, fork, flush."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest

from llm_contracts import ContractConfigError, ContractOpenAI, protocol
from llm_contracts.reporting import Reporter
from llm_contracts.testing import FakeLLM

from ._server import API_KEY, ControlPlane, free_port
from .conftest import accounted, event


def test_it_is_a_silent_noop_without_a_url_and_a_key(monkeypatch):
    monkeypatch.delenv("LLM_CONTRACTS_URL", raising=False)
    monkeypatch.delenv("LLM_CONTRACTS_API_KEY", raising=False)
    reporter = Reporter()

    reporter.enqueue(event(1))

    assert reporter.enabled is False
    assert reporter._thread is None
    assert reporter.flush(1) is True
    assert reporter.stats()["enqueued"] == 0


def test_it_reads_the_url_and_key_from_the_environment(monkeypatch, plane):
    monkeypatch.setenv("LLM_CONTRACTS_URL", plane.url)
    monkeypatch.setenv("LLM_CONTRACTS_API_KEY", API_KEY)
    reporter = Reporter(flush_interval=0.05)
    try:
        reporter.enqueue(event(1))
        assert reporter.flush(5)
    finally:
        reporter.close()

    assert [e["event_id"] for e in plane.events] == ["ev-1"]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"url": "ftp://x"}, "LLM_CONTRACTS_URL"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1001}, "batch_size"),
        ({"timeout": -1}, "timeout"),
        ({"queue_size": 1.5}, "queue_size"),
        ({"max_retries": -1}, "max_retries"),
        ({"transport": object()}, "transport"),
    ],
)
def test_it_rejects_bad_settings_naming_the_setting(kwargs, named):
    kwargs.setdefault("url", "http://127.0.0.1:1")
    with pytest.raises(ContractConfigError, match=named):
        Reporter(api_key="k", **kwargs)


def test_it_sends_full_batches_without_waiting_for_the_interval(plane, make_reporter):
    reporter = make_reporter(plane.url, batch_size=10, flush_interval=60)

    for i in range(25):
        reporter.enqueue(event(i))

    assert plane.wait_for(lambda: len(plane.events) == 20)
    assert [len(b["events"]) for b in plane.batches] == [10, 10]
    assert reporter.flush(5)
    assert [len(b["events"]) for b in plane.batches] == [10, 10, 5]


def test_it_sends_a_partial_batch_once_the_interval_passes(plane, make_reporter):
    reporter = make_reporter(plane.url, batch_size=100, flush_interval=0.05)

    reporter.enqueue(event(1))
    reporter.enqueue(event(2))

    assert plane.wait_for(lambda: len(plane.events) == 2)
    assert len(plane.batches) == 1


def test_batches_are_gzip_json_with_the_sdk_block_and_the_api_key(plane, make_reporter):
    # The server refuses bodies without Content-Encoding: gzip, a wrong key, and decompresses.
    reporter = make_reporter(plane.url)

    reporter.enqueue(event(1, message="hello"))
    assert reporter.flush(5)

    batch = plane.batches[0]
    assert batch["sdk"]["name"] == "llm-contracts-python"
    assert batch["sdk"]["instance_id"] == reporter.instance_id
    # The envelope and the counters are the protocol's models, field for field.
    protocol.EventBatch.model_validate(batch)
    assert set(batch["sdk"]["counters"]) == set(protocol.SdkCounters.model_fields)
    assert plane.events[0]["message"] == "hello"
    stats = reporter.stats()
    assert stats["sent"] == 1
    assert set(stats) == set(protocol.ReporterStats.model_fields)
    protocol.ReporterStats.model_validate(stats)


def test_a_wrong_key_is_not_retried_and_counts_as_failed(plane, make_reporter):
    reporter = make_reporter(plane.url, api_key="wrong", max_retries=3)

    reporter.enqueue(event(1))
    assert reporter.flush(5)

    assert len(plane.posts) == 1
    stats = reporter.stats()
    assert stats["failed"] == 1 and stats["retried"] == 0
    assert accounted(stats)


def test_a_400_is_not_retried_but_split_down_to_the_items_refused_alone(plane, make_reporter):
    plane.mode = "400"
    reporter = make_reporter(plane.url, max_retries=3)

    for i in range(3):
        reporter.enqueue(event(i))
    assert reporter.flush(5)

    assert len(plane.posts) == 5  # [0 1 2], then [0] and [1 2], then [1] and [2]
    stats = reporter.stats()
    assert stats["rejected"] == 3 and stats["retried"] == 0
    assert accounted(stats)


def test_a_server_that_is_down_costs_the_app_nothing_and_every_event_is_counted(make_reporter, fake):
    reporter = make_reporter(f"http://127.0.0.1:{free_port()}", max_retries=2)
    client = contracted(fake, reporter, _always_ok())

    for _ in range(5):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    for i in range(5):
        reporter.enqueue(event(i))

    assert reporter.flush(10)
    stats = reporter.stats()
    assert stats["enqueued"] == 10
    assert stats["failed"] == 10
    assert stats["retried"] >= 2
    assert accounted(stats)


def test_a_hanging_server_does_not_hold_up_the_call(plane, make_reporter, fake):
    plane.mode = "hang"
    reporter = make_reporter(plane.url, batch_size=1, timeout=0.3, max_retries=0)
    client = contracted(fake, reporter, _always_ok())
    reporter.enqueue(event("first"))
    assert plane.wait_for(lambda: plane.hanging == 1)

    # The worker is stuck in a request the server never answers; calls go on regardless.
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert plane.hanging >= 1

    assert reporter.flush(10)
    stats = reporter.stats()
    assert stats["enqueued"] == 4
    assert stats["failed"] == 4  # timed out, no retries, no spool
    assert accounted(stats)


def test_a_500_is_retried_with_backoff_then_counted_as_failed(plane, make_reporter):
    plane.mode = "500"
    reporter = make_reporter(plane.url, max_retries=2)

    reporter.enqueue(event(1))
    assert reporter.flush(10)

    assert len(plane.posts) == 3
    stats = reporter.stats()
    assert stats["retried"] == 2 and stats["failed"] == 1
    assert accounted(stats)


def test_a_500_that_clears_delivers_the_batch(plane, make_reporter):
    plane.script = ["500", "500"]
    reporter = make_reporter(plane.url, max_retries=3)

    reporter.enqueue(event(1))
    assert reporter.flush(10)

    assert [e["event_id"] for e in plane.events] == ["ev-1"]
    assert reporter.stats()["sent"] == 1


def test_a_429_retry_after_is_honoured(plane, make_reporter):
    plane.script = ["429"]
    plane.retry_after = "1"
    reporter = make_reporter(plane.url, max_retries=3)

    reporter.enqueue(event(1))
    assert reporter.flush(10)

    (first, _, mode), (second, _, _) = plane.posts
    assert mode == "429"
    assert second - first >= 0.95  # the backoff alone would have waited at most 50 ms
    assert reporter.stats()["sent"] == 1


def test_the_oldest_events_are_dropped_and_counted_when_the_queue_is_full(plane, make_reporter):
    plane.mode = "hang"
    reporter = make_reporter(plane.url, batch_size=1, queue_size=5, timeout=5, max_retries=0)
    reporter.enqueue(event("first"))
    assert plane.wait_for(lambda: plane.hanging == 1)

    for i in range(20):
        reporter.enqueue(event(i))
    plane.release()

    assert reporter.flush(10)
    stats = reporter.stats()
    assert stats["dropped"] == 15
    assert accounted(stats)
    assert sorted(e["event_id"] for e in plane.events) == sorted(f"ev-{i}" for i in range(15, 20))


def test_spooled_events_arrive_exactly_once_when_the_server_comes_back(tmp_path, make_reporter):
    plane = ControlPlane()  # not started: connection refused
    reporter = make_reporter(plane.url, spool_dir=tmp_path, max_retries=1, batch_size=4)

    for i in range(10):
        reporter.enqueue(event(i))
    assert reporter.flush(10)
    stats = reporter.stats()
    assert stats["spooled"] == 10 and stats["sent"] == 0
    assert accounted(stats)

    plane.start()
    try:
        assert plane.wait_for(lambda: len(plane.events) == 10)
        assert reporter.flush(10)
        assert plane.wait_for(lambda: reporter.stats()["spooled"] == 0)
        reporter.enqueue(event("after"))
        assert reporter.flush(10)
    finally:
        plane.stop()

    assert set(plane.received.values()) == {1}  # no event arrived twice
    assert len(plane.events) == 11
    stats = reporter.stats()
    assert stats["sent"] == 11 and stats["spooled"] == 0
    assert accounted(stats)


def test_events_a_full_spool_refuses_are_counted_once(tmp_path, make_reporter):
    plane = ControlPlane()  # not started: connection refused
    line = len(json.dumps(event(0), separators=(",", ":"))) + 1
    reporter = make_reporter(plane.url, spool_dir=tmp_path, max_retries=0, spool_max_bytes=3 * line)

    for i in range(5):
        reporter.enqueue(event(i))
    assert reporter.flush(10)

    stats = reporter.stats()
    assert stats["enqueued"] == 5
    assert stats["spooled"] == 3 and stats["dropped"] == 2
    assert accounted(stats)


def test_the_spool_survives_a_restart_of_the_app(tmp_path, make_reporter):
    plane = ControlPlane()
    first = make_reporter(plane.url, spool_dir=tmp_path, max_retries=0)
    for i in range(3):
        first.enqueue(event(i))
    first.close(timeout=5)
    assert first.stats()["spooled"] == 3

    plane.start()
    try:
        second = make_reporter(plane.url, spool_dir=tmp_path)
        assert second.stats()["recovered"] == 3
        assert plane.wait_for(lambda: len(plane.events) == 3)
        assert plane.wait_for(lambda: second.stats()["spooled"] == 0)
    finally:
        plane.stop()

    assert set(plane.received.values()) == {1}
    assert accounted(second.stats())


def test_close_flushes_and_later_events_are_ignored(plane, make_reporter):
    reporter = make_reporter(plane.url, flush_interval=60)
    reporter.enqueue(event(1))

    reporter.close(timeout=5)
    reporter.enqueue(event(2))

    assert [e["event_id"] for e in plane.events] == ["ev-1"]
    assert reporter._thread is not None and not reporter._thread.is_alive()
    assert reporter.stats()["enqueued"] == 1


def test_flush_returns_false_when_the_timeout_runs_out(plane, make_reporter):
    plane.mode = "hang"
    reporter = make_reporter(plane.url, timeout=5, max_retries=0)
    reporter.enqueue(event(1))

    assert reporter.flush(0.2) is False
    plane.release()


def test_an_internal_error_is_contained_and_counted(plane, make_reporter, fake):
    # A contract that hands back a severity as a plain string breaks the event mapping:
    # that call's events are lost and counted; the app and the other events go on.
    from llm_contracts import FunctionContract, ValidationResult

    broken = FunctionContract(
        lambda text: ValidationResult(False, "odd", severity="error"),  # type: ignore[arg-type]
        name="odd_severity",
        enforcement="monitor",
    )
    reporter = make_reporter(plane.url)
    client = contracted(fake, reporter, broken)

    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    reporter.enqueue(event("fine"))
    assert reporter.flush(5)

    stats = reporter.stats()
    assert stats["internal_errors"] == 1
    assert [e["event_id"] for e in plane.events] == ["ev-fine"]
    assert stats["failed"] == 1 and stats["sent"] == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is not available on this platform")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_starts_its_own_worker(plane, make_reporter):
    reporter = make_reporter(plane.url)
    reporter.enqueue(event("parent"))
    assert reporter.flush(5)
    parent_thread = reporter._thread

    pid = os.fork()
    if pid == 0:  # the child: report through the inherited reporter, exit with the verdict
        code = 1
        try:
            reporter.enqueue(event("child"))
            ok = reporter.flush(5) and reporter._thread is not parent_thread and reporter.stats()["sent"] == 1
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(e["event_id"] for e in plane.events) == ["ev-child", "ev-parent"]
    assert reporter.stats()["sent"] == 1  # the parent's counters are its own


def test_many_threads_enqueue_without_losing_count(plane, make_reporter):
    reporter = make_reporter(plane.url, batch_size=50)

    def burst(t: int) -> None:
        for i in range(200):
            reporter.enqueue(event(f"{t}-{i}"))

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reporter.flush(10)

    assert len(plane.events) == 1600
    assert accounted(reporter.stats())


def contracted(fake: FakeLLM, reporter: Reporter, *contracts: Any) -> ContractOpenAI:
    """Return a contracted client on the fake model that reports through ``reporter``."""
    return ContractOpenAI(
        api_key="sk-test",
        http_client=fake.http_client(),
        max_retries=0,
        reporter=reporter,
        output_contracts=list(contracts),
    )


def _always_ok():
    from llm_contracts import FunctionContract

    return FunctionContract(lambda text: True, name="always_ok")


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(default="fine answer", model="gpt-4o-mini")
