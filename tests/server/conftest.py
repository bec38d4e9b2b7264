"""The server test cast: an owner and a member of project A, an outsider owning project B."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts import services as account_services
from accounts.models import Membership, Project
from tests.server.webhook_receiver import eager_tasks, receiver  # noqa: F401  (fixtures)

_ids = itertools.count(1)
NOW = datetime(2025, 3, 4, 12, 30, 15, tzinfo=UTC)


def make_event(**overrides: Any) -> dict[str, Any]:
    """Return one valid event in the protocol's format."""
    n = next(_ids)
    event = {
        "event_id": f"ev-{n}",
        "call_id": f"call-{n}",
        "timestamp": NOW.isoformat(),
        "contract": "json_format",
        "contract_version": None,
        "category": "output",
        "is_valid": True,
        "error": False,
        "severity": "error",
        "enforcement": "strict",
        "message": "",
        "outcome": "passed",
        "input_excerpt": "hello",
        "output_excerpt": '{"ok": true}',
        "latency_ms": 1.5,
        "llm_latency_ms": 220.0,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "endpoint": "chat.completions",
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "auto_fix_attempted": False,
        "auto_fix_succeeded": False,
        "retries": 0,
        "session_id": None,
        "turn": None,
        "experiment": None,
        "variant": None,
        "trace_id": None,
        "sdk_version": "0.1.0",
    }
    event.update(overrides)
    return event


@dataclass
class Cast:
    owner: User
    member: User
    outsider: User
    project_a: Project
    project_b: Project
    key_a: str
    key_b: str


@pytest.fixture
def cast(db: None) -> Cast:
    owner = User.objects.create_user("alice", "alice@example.org", "password")
    member = User.objects.create_user("bob", "bob@example.org", "password")
    outsider = User.objects.create_user("charlie", "charlie@example.org", "password")
    project_a = account_services.project_create(name="Alpha", owner=owner)
    account_services.membership_set(project=project_a, user=member, role=Membership.Role.VIEWER)
    project_b = account_services.project_create(name="Bravo", owner=outsider)
    _, key_a = account_services.api_key_create(project=project_a, name="a", created_by=owner)
    _, key_b = account_services.api_key_create(project=project_b, name="b", created_by=outsider)
    return Cast(owner, member, outsider, project_a, project_b, key_a, key_b)


@pytest.fixture(autouse=True)
def _accept_the_fixtures_dates(settings: Any) -> None:
    # The cast's events are dated around NOW, a fixed day in the past; ingest refuses
    # timestamps more than EVENT_MAX_AGE_S old. Tests of that window set it back.
    settings.EVENT_MAX_AGE_S = (datetime.now(UTC) - NOW).total_seconds() + 30 * 24 * 3600


Poster = Callable[..., Any]


@pytest.fixture
def post_events(client: Client) -> Poster:
    """Post a batch of events with a key; ``gzipped`` compresses the body."""

    def post(
        key: str | None,
        events: list[Any],
        *,
        sdk: dict[str, Any] | None = None,
        gzipped: bool = False,
        raw: bytes | None = None,
    ) -> Any:
        body = (
            raw
            if raw is not None
            else json.dumps({"events": events, **({"sdk": sdk} if sdk else {})}).encode()
        )
        headers: dict[str, str] = {}
        if key is not None:
            headers["X-API-Key"] = key
        if gzipped:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return client.post("/api/v1/events", body, content_type="application/json", headers=headers)

    return post


def minutes_ago(n: float, now: datetime = NOW) -> str:
    return (now - timedelta(minutes=n)).isoformat()
