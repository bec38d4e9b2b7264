"""OpenTelemetry: one GenAI span per validated call, each verdict a gen_ai.guardrail.result event."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from llm_contracts import ContractOpenAI, ContractViolationError, FunctionContract
from llm_contracts.contracts import PromptLengthContract
from llm_contracts.testing import FakeLLM

pytest.importorskip("opentelemetry.sdk", reason="the otel extra (opentelemetry-sdk) is not installed")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def client_with(provider: Any, fake: FakeLLM, **kwargs: Any) -> ContractOpenAI:
    no_forbidden = FunctionContract(
        lambda text: "forbidden" not in text, name="no_forbidden", message="says forbidden"
    )
    return ContractOpenAI(
        api_key="sk-test",
        http_client=fake.http_client(),
        max_retries=0,
        otel=provider,
        input_contracts=[PromptLengthContract(max_tokens=500)],
        output_contracts=[no_forbidden],
        **kwargs,
    )


def ask(client: ContractOpenAI) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_a_call_makes_one_client_span_with_the_genai_attributes(provider, exporter):
    fake = FakeLLM(default="fine", model="gpt-4o-mini")
    ask(client_with(provider, fake))

    (span,) = exporter.get_finished_spans()
    assert span.name == "chat gpt-4o-mini" and span.kind is SpanKind.CLIENT
    attrs = span.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["llm_contracts.outcome"] == "passed"
    assert span.end_time >= span.start_time


def test_each_verdict_is_a_guardrail_result_event(provider, exporter):
    fake = FakeLLM(default="fine", model="gpt-4o-mini")
    ask(client_with(provider, fake))

    (span,) = exporter.get_finished_spans()
    events = [(e.name, dict(e.attributes)) for e in span.events]
    assert [name for name, _ in events] == ["gen_ai.guardrail.result"] * 2
    by_policy = {a["gen_ai.guardrail.policy.id"]: a for _, a in events}
    assert set(by_policy) == {"PromptLengthContract", "no_forbidden"}
    assert by_policy["no_forbidden"]["gen_ai.guardrail.result"] == "pass"


def test_a_violated_call_has_an_error_status_and_a_failing_guardrail_event(provider, exporter):
    fake = FakeLLM(default="this is forbidden", model="gpt-4o-mini")

    with pytest.raises(ContractViolationError):
        ask(client_with(provider, fake))

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ContractViolationError"
    failing = [dict(e.attributes) for e in span.events if e.attributes["gen_ai.guardrail.result"] == "fail"]
    assert [(a["gen_ai.guardrail.policy.id"], a["gen_ai.guardrail.reason"]) for a in failing] == [
        ("no_forbidden", "says forbidden")
    ]


def test_otel_false_makes_no_span(provider, exporter):
    fake = FakeLLM(default="fine", model="gpt-4o-mini")
    client = client_with(None, fake)
    client_off = ContractOpenAI(api_key="sk-test", http_client=fake.http_client(), otel=False)

    ask(client)
    ask(client_off)

    assert exporter.get_finished_spans() == ()


def test_spans_start_automatically_once_the_app_configures_a_tracer_provider():
    # A fresh interpreter: the global tracer provider can be set only once per process.
    code = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from llm_contracts import ContractOpenAI
from llm_contracts.testing import FakeLLM

fake = FakeLLM(default="fine")
client = ContractOpenAI(api_key="sk-test", http_client=fake.http_client())
def ask():
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
ask()
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
ask()
print(len(exporter.get_finished_spans()))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "LLM_CONTRACTS_URL": ""},
    )

    assert out.stdout.strip() == "1"


def test_without_opentelemetry_otel_true_is_a_noop(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import opentelemetry now fails
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    fake = FakeLLM(default="fine", model="gpt-4o-mini")

    client = client_with(True, fake)
    reply = ask(client)

    assert reply.choices[0].message.content == "fine"
    assert client._contract_telemetry is None or client._contract_telemetry.spans.mode is False
