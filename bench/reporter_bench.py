"""Measure what reporting costs the host call: ``Reporter.enqueue`` per event, and the per-call listener.

Usage: ``python bench/reporter_bench.py [--events N] [--rounds R]``. The transport answers
at once without a network, so the numbers are the app thread's share only (the worker
thread runs alongside, as in production). Goal: enqueue under 5 µs per event.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llm_contracts.contracts import ValidationResult  # noqa: E402
from llm_contracts.contracts._types import LLMRequest, Message, Usage  # noqa: E402
from llm_contracts.enforcement._engine import ContractEngine  # noqa: E402
from llm_contracts.enforcement._pipeline import CallSettings  # noqa: E402
from llm_contracts.enforcement._report import Attempt, ContractReport  # noqa: E402
from llm_contracts.reporting import ClientTelemetry, Reporter  # noqa: E402

GOAL_US = 5.0


class InstantTransport:
    """Answer every POST with an empty 207 and every GET with 304, without a network."""

    def send(self, path: str, body: bytes | None, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return (207, {}, b'{"rejected": 0}') if body is not None else (304, {}, b"")


def _report() -> ContractReport:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
    request = LLMRequest(model="gpt-4o-mini", messages=[Message("user", "hello there")], body=body)
    results = [ValidationResult(True, "", contract_name=f"c{i}", latency_s=1e-5) for i in range(3)]
    report = ContractReport(model="gpt-4o-mini", endpoint="/chat/completions", request=request)
    report.attempts.append(Attempt(0, "an answer", results, Usage(10, 5), 0.2, None, "gpt-4o-mini"))
    return report


def _per_item_us(fn: Any, n: int, rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples), min(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per round")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)

    reporter = Reporter(
        "http://127.0.0.1:9",
        "bench-key",
        transport=InstantTransport(),
        queue_size=1_000_000,
        batch_size=1000,
        flush_interval=0.05,
    )
    event = {"event_id": "e", "contract": "c", "is_valid": True}
    reporter.enqueue(event)  # start the worker outside the timing
    reporter.flush(5)

    enqueue_med, enqueue_min = _per_item_us(lambda: reporter.enqueue(event), args.events, args.rounds)
    reporter.flush(30)

    telemetry = ClientTelemetry(
        CallSettings(ContractEngine()), reporter=reporter, upload_traces="never", otel=False
    )
    report = _report()
    call_med, call_min = _per_item_us(lambda: telemetry(report), args.events // 4, args.rounds)
    reporter.flush(60)
    stats = reporter.stats()
    reporter.close()

    print(f"reporter.enqueue per event:            median {enqueue_med:6.3f} µs   best {enqueue_min:6.3f} µs")
    print(f"per call (listener, 3 verdicts, lazy): median {call_med:6.3f} µs   best {call_min:6.3f} µs")
    print(
        f"delivered {stats['sent']} of {stats['enqueued']} events, dropped {stats['dropped']}, "
        f"internal errors {stats['internal_errors']}"
    )
    passed = enqueue_med < GOAL_US
    print(f"{'PASS' if passed else 'FAIL'}  enqueue {enqueue_med:.3f} µs per event (goal < {GOAL_US:.0f} µs)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
