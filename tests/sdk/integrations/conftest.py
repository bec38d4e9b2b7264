"""Fixtures of the integration tests: third-party models and agents on the fake OpenAI model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A stream of openai's closed early (a contract stopped it) is finalized whenever the garbage
# collector gets to it, and its except clause then names httpx; a collection that lands while
# the reporter first imports httpx would see that module half-initialized. Import it up front.
import httpx  # noqa: F401
import openai
import pytest

from llm_contracts.testing import FakeLLM


@pytest.fixture
def plain_openai(fake: FakeLLM) -> Callable[[], tuple[openai.OpenAI, openai.AsyncOpenAI]]:
    """Build openai's own clients (no contracts) on the fake model."""

    def build() -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
        return (
            openai.OpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0),
            openai.AsyncOpenAI(api_key="test-key", http_client=fake.async_http_client(), max_retries=0),
        )

    return build


@pytest.fixture
def chat_openai(plain_openai: Callable[[], tuple[openai.OpenAI, openai.AsyncOpenAI]]) -> Callable[..., Any]:
    """Build a langchain-openai ChatOpenAI talking to the fake model through openai's own clients."""
    langchain_openai = pytest.importorskip("langchain_openai")

    def build(**kwargs: Any) -> Any:
        sync, async_ = plain_openai()
        return langchain_openai.ChatOpenAI(
            model="gpt-4o-mini",
            api_key="test-key",
            client=sync.chat.completions,
            root_client=sync,
            async_client=async_.chat.completions,
            root_async_client=async_,
            **kwargs,
        )

    return build


@pytest.fixture
def plane_reporter() -> Any:
    """Start a local control plane and a reporter pointed at it; stop both after the test."""
    from llm_contracts.reporting import Reporter
    from tests.sdk.reporting._server import API_KEY, ControlPlane

    plane = ControlPlane().start()
    reporter = Reporter(plane.url, api_key=API_KEY, flush_interval=0.05, timeout=1.0)
    yield plane, reporter
    reporter.close(timeout=2)
    plane.stop()
