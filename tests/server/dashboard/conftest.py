"""Dashboard fixtures: project A filled with events and their rollups, relative to now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Project
from telemetry import services as telemetry_services
from tests.server.conftest import Cast, make_event

Fill = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def fill(cast: Cast) -> Fill:
    """Store events (minutes ago, relative to now) in a project and bring the rollups up to date."""

    def fill_(events: list[dict[str, Any]], project: Project | None = None) -> list[dict[str, Any]]:
        now = timezone.now()
        full = []
        for overrides in events:
            minutes = overrides.pop("minutes_ago", 5)
            full.append(make_event(timestamp=(now - timedelta(minutes=minutes)).isoformat(), **overrides))
        telemetry_services.event_ingest_batch(project=project or cast.project_a, events=full, now=now)
        telemetry_services.rollups_aggregate(now=now + timedelta(seconds=1))
        return full

    return fill_
