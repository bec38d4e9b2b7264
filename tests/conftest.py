"""Shared fixtures: a fake OpenAI server and contracted clients talking to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llm_contracts import AsyncContractOpenAI, ContractOpenAI, FunctionContract
from llm_contracts.testing import FakeLLM

# The plugin's own tests (tests/sdk/testing) run pytest inside pytest.
pytest_plugins = ["pytester"]


def no_forbidden(**kwargs: Any) -> FunctionContract:
    """Return a contract that rejects any answer containing the word "forbidden"."""
    kwargs.setdefault("name", "no_forbidden")
    return FunctionContract(lambda text: "forbidden" not in text, **kwargs)


@pytest.fixture
def fake() -> FakeLLM:
    """Serve a clean JSON answer unless a test queues another."""
    return FakeLLM(default='{"answer": "all clean here"}', model="gpt-4o-mini")


@pytest.fixture(name="no_forbidden")
def no_forbidden_fixture() -> Callable[..., FunctionContract]:
    return no_forbidden


@pytest.fixture
def make_client(fake: FakeLLM) -> Callable[..., ContractOpenAI]:
    """Build a sync client on the fake; openai's HTTP retries off so errors surface at once."""

    def make(**kwargs: Any) -> ContractOpenAI:
        kwargs.setdefault("output_contracts", [no_forbidden()])
        return ContractOpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0, **kwargs)

    return make


@pytest.fixture
def make_async_client(fake: FakeLLM) -> Callable[..., AsyncContractOpenAI]:
    """Build an async client on the fake, like ``make_client``."""

    def make(**kwargs: Any) -> AsyncContractOpenAI:
        kwargs.setdefault("output_contracts", [no_forbidden()])
        return AsyncContractOpenAI(
            api_key="test-key", http_client=fake.async_http_client(), max_retries=0, **kwargs
        )

    return make
