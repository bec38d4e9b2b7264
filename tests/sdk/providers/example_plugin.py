"""An example provider plugin: a made-up "echo" API whose body is ``{"model", "prompt"}``.

A real plugin lives in its own package and names its spec in that package's metadata:

    [project.entry-points."llm_contracts.providers"]
    echo = "echo_contracts:spec"

The tests install this one without pip, by writing such an entry point on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llm_contracts import LLMRequest, LLMResponse
from llm_contracts.contracts._types import Message, ToolDelta, Usage
from llm_contracts.providers import ProviderSpec, Route
from llm_contracts.providers._views import BodyRequestView, Place


class EchoRequests(BodyRequestView):
    """The request side: one prompt, which is the user's message."""

    provider = "echo"
    endpoint = "/v1/echo"

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        prompt = body.get("prompt")
        return LLMRequest(
            model=str(body.get("model", "")),
            messages=[Message("user", prompt if isinstance(prompt, str) else "")],
            provider=self.provider,
            endpoint=self.endpoint,
            body=dict(body),
            chat=False,
            view=self,
        )

    def _places(self, body: Mapping[str, Any]) -> Iterator[Place]:
        yield "prompt", None

    def _rewrite(self, body: Mapping[str, Any], fn: Any, roles: frozenset[str] | None) -> dict[str, Any]:
        return {**body, "prompt": fn(str(body.get("prompt", "")))}

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        return {**body, "prompt": f"{body.get('prompt', '')}\n{answer.text}\n{feedback}"}


class EchoResponses:
    """The answer side: ``{"echo": text}``, streamed as ``{"piece": text}`` events."""

    def response(self, parsed: Any, latency_s: float | None) -> LLMResponse:
        return LLMResponse(text=parsed.get("echo", ""), latency_s=latency_s, raw=parsed)

    def choices(self, parsed: Any, latency_s: float | None) -> list[LLMResponse]:
        return [self.response(parsed, latency_s)]

    def substitute(self, parsed: Any, text: str) -> Any:
        return {**parsed, "echo": text}

    def sum_usage(self, target: Any, attempts: Sequence[Any]) -> None:
        return None

    def delta_text(self, chunk: Any) -> str | None:
        return chunk.get("piece")  # type: ignore[no-any-return]

    def chunk_usage(self, chunk: Any) -> Usage | None:
        return None

    def tool_deltas(self, chunk: Any) -> list[ToolDelta]:
        return []

    def finish_reason(self, chunk: Any) -> str | None:
        return None


spec = ProviderSpec(
    name="echo",
    routes={"/v1/echo": Route("/v1/echo", EchoRequests(), EchoResponses())},
    clients={"EchoClient": "tests.sdk.providers.example_plugin:EchoClient"},
)


class EchoClient:
    """Stands in for a drop-in client class (a real plugin subclasses its vendor's client)."""


def broken() -> ProviderSpec:
    raise RuntimeError("this plugin cannot start")
