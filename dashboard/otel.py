"""OpenTelemetry tracing of the control plane: Django requests, Celery tasks and psycopg queries.

``setup()`` is called by every entry point (``wsgi.py``, ``asgi.py``, ``manage.py`` and
the Celery worker's and beat's process start) and does something only once per process:

- with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, it installs a global ``TracerProvider`` that
  batches spans to ``<endpoint>/v1/traces`` over OTLP/HTTP, and instruments Django, Celery
  and psycopg (the last only matters on Postgres: SQLite has no psycopg connection);
- with an ``exporter`` passed in, it does the same with that exporter, on a provider it
  returns without making it global, so a test can read the spans and undo it all with
  ``teardown()``;
- otherwise, or when opentelemetry is not installed, it does nothing at all: no import of
  opentelemetry, no middleware, no wrapped connections.

Example::

    from dashboard import otel

    provider = otel.setup(exporter=InMemorySpanExporter())
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["setup", "teardown"]

logger = logging.getLogger(__name__)


@dataclass
class _State:
    provider: TracerProvider
    instrumentors: list[Any] = field(default_factory=list)


_lock = threading.Lock()
_state: _State | None = None


def setup(service_name: str | None = None, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Instrument this process once and return its tracer provider, or None when tracing is off."""
    global _state
    with _lock:
        if _state is not None:
            return _state.provider
        endpoint: str = settings.OTEL_EXPORTER_OTLP_ENDPOINT
        if exporter is None and not endpoint:
            return None  # the common case costs one settings lookup and nothing else
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        except ImportError:
            return None
        install_globally = exporter is None
        if exporter is None:
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                logger.warning(
                    "OTEL_EXPORTER_OTLP_ENDPOINT is set but opentelemetry-exporter-otlp-proto-http "
                    "is not installed: tracing stays off"
                )
                return None
            # Passed explicitly the endpoint is used as is, so add the signal's path as the
            # exporter itself does when it reads the variable (OTel's exporter specification).
            exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        ratio: float = settings.OTEL_TRACES_SAMPLER_ARG
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service_name or settings.OTEL_SERVICE_NAME}),
            # None keeps the SDK's default (every trace, or OTEL_TRACES_SAMPLER when set).
            sampler=ParentBased(TraceIdRatioBased(ratio)) if ratio < 1.0 else None,
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        if install_globally:
            trace.set_tracer_provider(provider)
        _state = _State(provider=provider, instrumentors=_instrument(provider))
        return provider


def teardown() -> None:
    """Undo ``setup()``: remove the instrumentation, then flush and shut down the provider."""
    global _state
    with _lock:
        if _state is None:
            return
        state, _state = _state, None
    for instrumentor in reversed(state.instrumentors):
        instrumentor.uninstrument()
    state.provider.shutdown()


def _instrument(provider: TracerProvider) -> list[Any]:
    """Instrument the installed libraries with ``provider`` and return their instrumentors."""
    instrumentors: list[Any] = []
    try:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        instrumentors.append(DjangoInstrumentor())
    except ImportError:
        logger.info("opentelemetry-instrumentation-django is not installed: requests are not traced")
    try:
        # Called in every worker process (the worker_process_init hook in dashboard/celery.py),
        # since a prefork child must connect its own signal handlers after the fork, and in
        # the web process, where tasks are published (and run, when eager).
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        instrumentors.append(CeleryInstrumentor())
    except ImportError:
        logger.info("opentelemetry-instrumentation-celery is not installed: tasks are not traced")
    try:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        instrumentors.append(PsycopgInstrumentor())
    except ImportError:
        logger.info("opentelemetry-instrumentation-psycopg is not installed: queries are not traced")
    done = []
    for instrumentor in instrumentors:
        # BaseInstrumentor is a per-class singleton: skip one instrumented by someone else
        # (opentelemetry-instrument, say) rather than take it over, and leave it alone later.
        if instrumentor.is_instrumented_by_opentelemetry:
            continue
        instrumentor.instrument(tracer_provider=provider)
        done.append(instrumentor)
    return done
