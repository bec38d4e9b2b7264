"""Fuzzing the API: schemathesis over the OpenAPI schema, hypothesis over POST /events (on Postgres)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

# Imported from the module that defines them: schemathesis.checks has them only once the
# OpenAPI support registered them, which some releases do lazily.
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from accounts.models import ApiKey, Project
from telemetry import services as telemetry_services

from .conftest import make_event

# Bounded so that the whole file runs in well under a minute in CI.
API_EXAMPLES = 25
EVENT_EXAMPLES = 60
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(db: None) -> Iterator[Any]:
    # As Django's test client does: the WSGI handler must not close the connection that
    # holds the test's transaction after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(db: None) -> str:
    project = account_services.project_create(name="Fuzz")
    _, raw = account_services.api_key_create(project=project, name="fuzz")
    # Every scope, so that the fuzzer reaches every operation's code, not only its 401.
    ApiKey.objects.filter(project=project).update(scopes="ingest,read,write")
    return raw


def test_no_operation_answers_5xx_or_outside_its_schema(api_schema: Any, api_key: str) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    calls: dict[str, int] = {}
    for operation in operations:

        @settings(
            max_examples=API_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            label = case.operation.label
            calls[label] = calls.get(label, 0) + 1
            case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS)

        fuzz()
    print("schemathesis cases per operation:", calls)  # the figures of the fuzz run, shown with -s
    assert sum(calls.values()) >= len(operations) * 5


# -- hypothesis over POST /events: any unicode (NUL, lone surrogates) and any number in any field

_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    ["\x00", "\ud800", "a\udfffb", "", "0", "4111 1111 1111 1111", "x@example.com"]
)
_NUMBER = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 1e308, -0.0, 10**12])
)
_VALUE = _TEXT | _NUMBER | st.booleans() | st.none() | st.lists(_TEXT, max_size=2)
_FIELDS = list(make_event())


@st.composite
def hostile_events(draw: Any) -> list[dict[str, Any]]:
    """A small batch of valid events with some fields replaced by arbitrary values."""
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        event = make_event(timestamp=(timezone.now() - timedelta(minutes=1)).isoformat())
        for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=4, unique=True)):
            event[name] = draw(_VALUE)
        out.append(event)
    return out


@pytest.fixture
def fuzz_project(db: None) -> tuple[Project, str]:
    project = account_services.project_create(name="Hostile")
    _, raw = account_services.api_key_create(project=project, name="fuzz")
    return project, raw


@settings(
    max_examples=EVENT_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(events=hostile_events())
def test_post_events_never_fails_whole_or_5xx_on_any_field(
    client: Client, fuzz_project: tuple[Project, str], events: list[dict[str, Any]]
) -> None:
    client.raise_request_exception = False
    project, key = fuzz_project
    # allow_nan: NaN and Infinity are what a careless client's JSON encoder sends.
    body = json.dumps({"events": events}, allow_nan=True)
    response = client.post(
        "/api/v1/events", body, content_type="application/json", headers={"X-API-Key": key}
    )
    assert response.status_code == 207, response.content[:300]
    answer = response.json()
    assert len(answer["results"]) == len(events)
    assert answer["accepted"] + answer["duplicates"] + answer["rejected"] == len(events)
    for result in answer["results"]:
        if result["status"] == "rejected":
            assert result["errors"] and all(e["field"] for e in result["errors"])
    # What was accepted can be read back and rolled up.
    assert telemetry_services.rollups_aggregate().failed_projects == 0
    assert project.events.count() >= answer["accepted"]
