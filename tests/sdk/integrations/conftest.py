"""Fixtures of the integration tests: third-party models and agents on the fake OpenAI model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from llm_contracts.testing import FakeLLM


@pytest.fixture
def plain_openai(fake: FakeLLM) -> Callable[[], tuple[openai.OpenAI, openai.AsyncOpenAI]]:
    """Build openai's own clients (no contracts) on the fake model."""

    def build() -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
        return (openai.OpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0),
                openai.AsyncOpenAI(api_key="test-key", http_client=fake.async_http_client(), max_retries=0))

    return build


@pytest.fixture
def chat_openai(plain_openai: Callable[[], tuple[openai.OpenAI, openai.AsyncOpenAI]]) -> Callable[..., Any]:
    """Build a langchain-openai ChatOpenAI talking to the fake model through openai's own clients."""
    langchain_openai = pytest.importorskip("langchain_openai")

    def build(**kwargs: Any) -> Any:
        sync, async_ = plain_openai()
        return langchain_openai.ChatOpenAI(model="gpt-4o-mini", api_key="test-key", client=sync.chat.completions,
                                           root_client=sync, async_client=async_.chat.completions,
                                           root_async_client=async_, **kwargs)

    return build
