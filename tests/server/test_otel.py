"""Tracing of the control plane: requests, tasks and queries become spans, and nothing without a collector."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

pytest.importorskip("opentelemetry.instrumentation.django", reason="the server's OTel packages are missing")

import psycopg  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.instrumentation.django import DjangoInstrumentor  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

from accounts import services as account_services  # noqa: E402
from accounts.models import Project  # noqa: E402
from dashboard import celery_app, otel  # noqa: E402
from telemetry import services as telemetry_services  # noqa: E402
from telemetry import tasks  # noqa: E402

from .conftest import make_event  # noqa: E402
from .test_tasks_and_e2e import wait_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OTEL_MIDDLEWARE = DjangoInstrumentor._opentelemetry_middleware  # the one it adds to MIDDLEWARE


class Traced:
    """The provider ``otel.setup`` installed and the spans it has finished."""

    def __init__(self, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter

    def spans(self, kind: SpanKind | None = None) -> list[ReadableSpan]:
        self.provider.force_flush()  # the batch processor exports on its own schedule
        return [s for s in self.exporter.get_finished_spans() if kind is None or s.kind == kind]


@pytest.fixture
def traced() -> Iterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = otel.setup(exporter=exporter)
    assert provider is not None
    try:
        yield Traced(provider, exporter)
    finally:
        # Other tests must run untraced: no middleware, no wrapped psycopg.connect, no signals.
        otel.teardown()


def test_a_request_is_a_server_span_with_its_http_attributes(traced: Traced, db: None) -> None:
    assert Client().get("/api/v1/health").status_code == 200

    [span] = traced.spans(SpanKind.SERVER)
    assert span.name == "GET api/v1/health"
    assert span.attributes is not None
    assert span.attributes["http.method"] == "GET"
    assert span.attributes["http.route"] == "api/v1/health"
    assert span.attributes["http.status_code"] == 200
    assert span.resource.attributes["service.name"] == "llm-contracts-control-plane"


def test_an_eager_task_is_a_consumer_span_named_after_the_task(traced: Traced, db: None) -> None:
    tasks.alerts_evaluate.apply().get()

    [span] = traced.spans(SpanKind.CONSUMER)
    assert span.name == "run/contracts_app.alerts_evaluate"
    assert span.attributes is not None and span.attributes["celery.state"] == "SUCCESS"


@pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
    reason="needs CELERY_BROKER_URL pointing at Redis",
)
def test_a_task_through_the_real_broker_continues_the_trace_of_its_publisher(
    traced: Traced, transactional_db: None
) -> None:
    from celery.contrib.testing.worker import start_worker

    project = account_services.project_create(name="Traced broker")
    telemetry_services.event_ingest_batch(project=project, events=[make_event() for _ in range(2)])
    # The solo pool sends worker_process_init too, so dashboard/celery.py's hook runs here;
    # already set up, it must keep this provider.
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        tasks.rollups_aggregate.delay()
        assert wait_for(lambda: len(traced.spans(SpanKind.CONSUMER)) == 1)

    [published] = traced.spans(SpanKind.PRODUCER)
    [ran] = traced.spans(SpanKind.CONSUMER)
    assert published.name == "apply_async/contracts_app.rollups_aggregate"
    assert ran.name == "run/contracts_app.rollups_aggregate"
    assert ran.context is not None and published.context is not None
    assert ran.context.trace_id == published.context.trace_id


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)
def test_a_query_on_postgres_is_a_client_span_with_its_statement(
    traced: Traced, transactional_db: None
) -> None:
    # The test database's connection predates the instrumentation; only new ones are traced.
    connection.close()
    try:
        assert not Project.objects.filter(slug="nowhere").exists()
        spans = [s for s in traced.spans(SpanKind.CLIENT) if "contracts_app_project" in str(s.attributes)]
        assert len(spans) == 1
        assert spans[0].attributes is not None
        assert spans[0].attributes["db.system"] == "postgresql"
        assert str(spans[0].attributes["db.statement"]).startswith("SELECT")
    finally:
        connection.close()  # later tests must not reuse a traced connection


def test_setting_up_twice_keeps_one_provider_and_one_span_per_request(traced: Traced, db: None) -> None:
    assert otel.setup(exporter=InMemorySpanExporter()) is traced.provider
    assert otel.setup() is traced.provider

    assert settings.MIDDLEWARE.count(OTEL_MIDDLEWARE) == 1
    Client().get("/api/v1/health")
    tasks.alerts_evaluate.apply().get()
    assert len(traced.spans(SpanKind.SERVER)) == 1
    assert len(traced.spans(SpanKind.CONSUMER)) == 1


def test_a_sampler_ratio_of_zero_keeps_no_trace(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "OTEL_TRACES_SAMPLER_ARG", 0.0)
    exporter = InMemorySpanExporter()
    provider = otel.setup(exporter=exporter)
    assert provider is not None
    try:
        assert Client().get("/api/v1/health").status_code == 200
        tasks.alerts_evaluate.apply().get()
        provider.force_flush()
        assert exporter.get_finished_spans() == ()
    finally:
        otel.teardown()


def test_teardown_removes_every_instrumentation(db: None) -> None:
    connect = psycopg.connect
    middleware = list(settings.MIDDLEWARE)
    exporter = InMemorySpanExporter()
    otel.setup(exporter=exporter)
    assert psycopg.connect is not connect and OTEL_MIDDLEWARE in settings.MIDDLEWARE
    otel.teardown()

    assert psycopg.connect is connect
    assert middleware == settings.MIDDLEWARE
    Client().get("/api/v1/health")
    tasks.alerts_evaluate.apply().get()
    assert exporter.get_finished_spans() == ()


def test_without_an_endpoint_setup_installs_nothing(db: None) -> None:
    connect = psycopg.connect
    middleware = list(settings.MIDDLEWARE)
    assert settings.OTEL_EXPORTER_OTLP_ENDPOINT == ""

    assert otel.setup() is None
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert psycopg.connect is connect
    assert middleware == settings.MIDDLEWARE


def test_without_opentelemetry_setup_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "opentelemetry"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now fails
    monkeypatch.setattr(settings, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")

    assert otel.setup() is None
    monkeypatch.undo()
    assert OTEL_MIDDLEWARE not in settings.MIDDLEWARE


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps what it receives."""

    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (Collector,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def base_environment() -> dict[str, str]:
    """Return the environment of a process in development mode, with no other setting of the control plane."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**base, "DEBUG": "1"}


def run_python(code: str, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base_environment(), "STATE_DIR": str(tmp_path), **variables},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://collector:4317"},
            "OTEL_EXPORTER_OTLP_ENDPOINT must be a URL",
        ),
        ({"OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1"),
        ({"OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG must be a number"),
    ],
)
def test_a_bad_tracing_setting_stops_start_up_naming_it(
    tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    done = run_python("import dashboard.settings", tmp_path, **variables)
    assert done.returncode != 0
    assert "ImproperlyConfigured: " + message in done.stderr.splitlines()[-1]


def exported_spans(received: list[tuple[str, str, bytes]]) -> list[tuple[str, str]]:
    """Return (service name, span name) of every span the collector received."""
    spans = []
    for _, _, body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = resource["service.name"]
            spans += [(service, span.name) for scope in resource_spans.scope_spans for span in scope.spans]
    return spans


def test_the_wsgi_app_exports_its_spans_to_the_configured_endpoint(
    collector: tuple[str, list[tuple[str, str, bytes]]], tmp_path: Path
) -> None:
    # A process of its own: the global tracer provider can be set only once per process.
    url, received = collector
    done = run_python(
        "from wsgiref.util import setup_testing_defaults\n"
        "from dashboard.wsgi import application\n"
        "from opentelemetry import trace\n"
        "environ = {'PATH_INFO': '/api/v1/health'}\n"
        "setup_testing_defaults(environ)\n"
        "b''.join(application(environ, lambda status, headers: print(status)))\n"
        "trace.get_tracer_provider().force_flush()\n",
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT=url + "/",
        OTEL_SERVICE_NAME="cp-under-test",
    )
    assert done.returncode == 0, done.stderr
    assert {(path, kind) for path, kind, _ in received} == {("/v1/traces", "application/x-protobuf")}
    assert ("cp-under-test", "GET api/v1/health") in exported_spans(received)


def test_a_prefork_worker_process_exports_the_spans_of_its_tasks(
    collector: tuple[str, list[tuple[str, str, bytes]]], tmp_path: Path
) -> None:
    # The worker's database is an empty SQLite file, so the task fails: traced all the same.
    url, received = collector
    variables = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_SERVICE_NAME": "worker-under-test",
        # Export after 0.2 s instead of the batch processor's default 5 s.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    sent = run_python(
        "from dashboard import celery_app\ncelery_app.send_task('contracts_app.alerts_evaluate')\n",
        tmp_path,
        **variables,
    )
    assert sent.returncode == 0, sent.stderr
    task_span = ("worker-under-test", "run/contracts_app.alerts_evaluate")
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--pool", "prefork", "-c", "1"],
            env={**base_environment(), "STATE_DIR": str(tmp_path), **variables},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: worker.poll() is not None or task_span in exported_spans(received), timeout=30)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert task_span in exported_spans(received), log.read_text()
