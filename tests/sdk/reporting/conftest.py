"""Fixtures of the reporter tests: a live local control plane and reporters pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llm_contracts.reporting import Reporter

from ._server import API_KEY, ControlPlane


@pytest.fixture
def plane() -> Iterator[ControlPlane]:
    server = ControlPlane().start()
    yield server
    server.stop()


@pytest.fixture
def make_reporter() -> Iterator[Callable[..., Reporter]]:
    """Build reporters with quick retries; close them all after the test."""
    made: list[Reporter] = []

    def make(url: str, **kwargs: Any) -> Reporter:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("flush_interval", 0.05)
        kwargs.setdefault("timeout", 1.0)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("backoff_max", 0.05)
        reporter = Reporter(url, **kwargs)
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.close(timeout=2)


def event(i: int | str, **fields: Any) -> dict[str, Any]:
    """Return a minimal ValidationEvent with a stable id."""
    return {
        "event_id": f"ev-{i}",
        "call_id": "call-1",
        "contract": "no_forbidden",
        "is_valid": True,
        **fields,
    }


def accounted(stats: dict[str, int]) -> bool:
    """Return True when every event is sent, dropped, failed or spooled."""
    return (
        stats["sent"] + stats["dropped"] + stats["failed"] + stats["rejected"] + stats["spooled"]
        == stats["enqueued"] + stats["recovered"]
    ) and stats["queued"] == 0
