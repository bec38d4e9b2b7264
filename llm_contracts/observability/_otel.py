"""OpenTelemetry spans for validated calls, in the GenAI semantic conventions.

One ``CLIENT`` span per call (``chat gpt-4o-mini``) carries ``gen_ai.operation.name``,
``gen_ai.provider.name``, the request and response model and the token usage; every
contract verdict is a ``gen_ai.guardrail.result`` span event whose policy id and version
are the contract's name and version. Everything here is a no-op when ``opentelemetry``
is not installed (the ``otel`` extra).

When it is on: ``otel=True`` always (on the global tracer provider), ``otel=False``
never, ``otel=<TracerProvider>`` on that provider, and ``otel=None`` (the default)
whenever the app has configured a global tracer provider, checked on every call, so a
provider set up after the client was built is picked up too.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from .._version import __version__

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport

__all__ = ["SpanRecorder", "otel_available"]

_OPERATIONS = {
    "/chat/completions": "chat",
    "/responses": "chat",
    "/completions": "text_completion",
    "/v1/messages": "chat",
}
# A provider the OpenTelemetry API would load from the environment on first use. Read
# once: looking a missing variable up in os.environ costs microseconds on every call.
_ENV_PROVIDER = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
_MISSING = object()
_RESULT = "gen_ai.guardrail.result"


def otel_available() -> bool:
    """Return True when the OpenTelemetry API can be imported."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


class SpanRecorder:
    """Record one span per finished call on the global tracer provider."""

    def __init__(self, mode: Any = None) -> None:
        self._tracer: Any = None
        self._provider: Any = None
        self._fixed: Any = None  # the tracer of a provider given explicitly
        self.mode: bool | None = mode if mode in (True, False, None) else True
        if self.mode is True and mode is not True:
            self._fixed = mode.get_tracer("llm_contracts", __version__)
        elif mode is True and not otel_available():
            self.mode = False  # asked for, not installed: stay a no-op rather than fail the app

    def _get_tracer(self) -> Any:
        if self._fixed is not None:
            return self._fixed
        if self.mode is None:
            module = sys.modules.get("opentelemetry.trace")
            if module is None:
                return None  # auto mode: an app that configured a provider has imported the API
            # No global provider set yet (set_tracer_provider stores it there): nothing to
            # record on. Vendor SDKs (anthropic) import the API themselves, so this runs on
            # every call of an app without tracing; get_tracer_provider() would say the same
            # after an environment lookup.
            if not _ENV_PROVIDER and getattr(module, "_TRACER_PROVIDER", _MISSING) is None:
                return None
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        if self.mode is None and isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
            return None
        if provider is not self._provider:
            self._provider = provider
            self._tracer = trace.get_tracer("llm_contracts", __version__)
        return self._tracer

    def record(self, report: ContractReport, versions: dict[str, int] | None = None) -> None:
        """Emit the span of ``report``, which ended now and started at ``report.started_ns``."""
        if self.mode is False:
            return
        tracer = self._get_tracer()
        if tracer is None:
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        end_ns = time.time_ns()
        start_ns = getattr(report, "started_ns", 0) or end_ns
        operation = _OPERATIONS.get(report.endpoint, "chat")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": report.provider or "openai",
            "gen_ai.request.model": report.model,
            "llm_contracts.outcome": report.outcome,
            "llm_contracts.retries": report.retries,
        }
        if report.attempts:
            response_model = getattr(report.attempts[-1], "model", "") or ""
            if response_model:
                attributes["gen_ai.response.model"] = response_model
            attributes["gen_ai.usage.input_tokens"] = report.total_usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = report.total_usage.completion_tokens
        if report.stop_reason:
            attributes["llm_contracts.stop_reason"] = report.stop_reason
        span = tracer.start_span(
            f"{operation} {report.model}".strip(),
            kind=SpanKind.CLIENT,
            start_time=start_ns,
            attributes=attributes,
        )
        from ..debugging._trace import redact_excerpt  # loaded with the first span, not the client

        versions = versions or {}
        for r in report.results:
            event: dict[str, Any] = {
                "gen_ai.guardrail.policy.id": r.contract_name,
                "gen_ai.guardrail.result": "error" if r.error else ("pass" if r.is_valid else "fail"),
                "gen_ai.guardrail.reason": redact_excerpt(r.message or "") or "",
                "llm_contracts.severity": r.severity.value,
                "llm_contracts.enforcement": r.enforcement.value,
            }
            version = versions.get(r.contract_name)
            if version is not None:
                event["gen_ai.guardrail.policy.version"] = str(version)
            span.add_event(_RESULT, event, timestamp=end_ns)
        if report.outcome == "violated":
            span.set_attribute("error.type", "ContractViolationError")
            span.set_status(Status(StatusCode.ERROR, report.stop_reason or "contract violated"))
        span.end(end_time=end_ns)
