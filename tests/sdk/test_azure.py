"""Azure OpenAI: the drop-in keeps Azure's URLs and auth, built or wrapped, sync and async."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from llm_contracts import (
    AsyncContractAzureOpenAI,
    AsyncContractOpenAI,
    ContractAzureOpenAI,
    ContractOpenAI,
    ContractViolationError,
    get_report,
)
from llm_contracts.testing import FakeLLM, http_module

from ..conftest import no_forbidden

ENDPOINT = "https://example-resource.openai.azure.com"
VERSION = "2024-10-21"
DEPLOYMENT = "my-gpt4o"
CHAT_URL = f"{ENDPOINT}/openai/deployments/{DEPLOYMENT}/chat/completions?api-version={VERSION}"
MESSAGES = [{"role": "user", "content": "Answer."}]


class Wire:
    """The requests that reached the fake model: full URL and headers."""

    def __init__(self, fake: FakeLLM) -> None:
        self.fake = fake
        self.seen: list[Any] = []

    def _record(self, request: Any) -> Any:
        self.seen.append(request)
        return self.fake.handler(request)

    def http_client(self) -> Any:
        http = http_module()
        return http.Client(transport=http.MockTransport(self._record))

    def async_http_client(self) -> Any:
        http = http_module()

        async def handler(request: Any) -> Any:
            await request.aread()
            return self._record(request)

        return http.AsyncClient(transport=http.MockTransport(handler))

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.seen]

    def header(self, name: str, index: int = -1) -> str | None:
        return self.seen[index].headers.get(name)  # type: ignore[no-any-return]


@pytest.fixture
def wire(fake: FakeLLM) -> Wire:
    return Wire(fake)


class Tokens:
    """An Azure AD token provider that hands out a new token per request."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f"ad-token-{self.calls}"


class TestWrappingTheSyncClient:
    def test_it_keeps_the_deployment_url_the_api_version_and_the_api_key_header(self, wire, fake):
        azure = openai.AzureOpenAI(
            azure_endpoint=ENDPOINT,
            api_version=VERSION,
            api_key="azure-key",
            http_client=wire.http_client(),
            max_retries=0,
        )
        client = ContractOpenAI(client=azure, output_contracts=[no_forbidden()], contract_retries=1)
        fake.reply("this is forbidden", "a clean answer")

        reply = client.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES)

        assert isinstance(client, ContractAzureOpenAI) and isinstance(client, openai.AzureOpenAI)
        assert get_report(reply).outcome == "repaired"
        assert wire.urls == [CHAT_URL, CHAT_URL]  # the re-ask too
        for i in range(2):
            assert wire.header("api-key", i) == "azure-key"
            assert wire.header("authorization", i) is None

    def test_an_azure_ad_token_provider_is_asked_on_every_request(self, wire):
        tokens = Tokens()
        azure = openai.AzureOpenAI(
            azure_endpoint=ENDPOINT,
            api_version=VERSION,
            azure_ad_token_provider=tokens,
            http_client=wire.http_client(),
            max_retries=0,
        )
        client = ContractOpenAI(client=azure, output_contracts=[no_forbidden()])

        client.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES)
        client.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES)

        assert wire.urls == [CHAT_URL, CHAT_URL]
        assert [wire.header("authorization", i) for i in range(2)] == [
            "Bearer ad-token-1",
            "Bearer ad-token-2",
        ]
        assert wire.header("api-key") is None

    def test_a_client_with_a_deployment_sends_what_the_plain_azure_client_sends(self, wire, fake):
        def build(cls: Any) -> Any:
            return cls(
                azure_endpoint=ENDPOINT,
                azure_deployment=DEPLOYMENT,
                api_version=VERSION,
                api_key="azure-key",
                http_client=wire.http_client(),
                max_retries=0,
            )

        for client in (
            build(openai.AzureOpenAI),
            ContractOpenAI(client=build(openai.AzureOpenAI)),
            build(ContractAzureOpenAI),
        ):
            client.chat.completions.create(model="ignored-by-the-deployment", messages=MESSAGES)
            client.models.list()

        plain, wrapped, built = (wire.seen[i : i + 2] for i in (0, 2, 4))
        for requests in (wrapped, built):
            assert [str(r.url) for r in requests] == [str(r.url) for r in plain]
            assert [r.headers.get("api-key") for r in requests] == ["azure-key", "azure-key"]
        assert str(plain[0].url) == CHAT_URL

    def test_copies_stay_azure_and_contracted(self, wire, fake):
        client = ContractAzureOpenAI(
            azure_endpoint=ENDPOINT,
            api_version=VERSION,
            api_key="azure-key",
            http_client=wire.http_client(),
            max_retries=0,
            output_contracts=[no_forbidden()],
        )
        twin = client.with_options(timeout=5)
        fake.reply("forbidden words")

        with pytest.raises(ContractViolationError):
            twin.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES)

        assert isinstance(twin, ContractAzureOpenAI)
        assert wire.urls == [CHAT_URL] and wire.header("api-key") == "azure-key"

    def test_a_non_azure_client_is_refused_by_the_azure_class(self):
        with pytest.raises(Exception, match="AzureOpenAI"):
            ContractAzureOpenAI(client=openai.OpenAI(api_key="k"))


class TestAsync:
    async def test_wrapping_keeps_the_url_and_an_async_token_provider(self, wire):
        calls = []

        async def token() -> str:
            calls.append(1)
            return f"async-token-{len(calls)}"

        azure = openai.AsyncAzureOpenAI(
            azure_endpoint=ENDPOINT,
            api_version=VERSION,
            azure_ad_token_provider=token,
            http_client=wire.async_http_client(),
            max_retries=0,
        )
        client = AsyncContractOpenAI(client=azure, output_contracts=[no_forbidden()])

        reply = await client.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES)

        assert isinstance(client, AsyncContractAzureOpenAI)
        assert get_report(reply).outcome == "passed"
        assert wire.urls == [CHAT_URL]
        assert wire.header("authorization") == "Bearer async-token-1" and wire.header("api-key") is None

    async def test_built_directly_it_sends_the_api_key_header(self, wire, fake):
        client = AsyncContractAzureOpenAI(
            azure_endpoint=ENDPOINT,
            api_version=VERSION,
            api_key="azure-key",
            http_client=wire.async_http_client(),
            max_retries=0,
            output_contracts=[no_forbidden()],
        )
        fake.reply("forbidden")

        with pytest.raises(ContractViolationError):
            await client.chat.completions.create(model=DEPLOYMENT, messages=MESSAGES)

        assert wire.urls == [CHAT_URL]
        assert wire.header("api-key") == "azure-key" and wire.header("authorization") is None
