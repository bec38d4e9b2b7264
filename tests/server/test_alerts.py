"""Alert evaluation: a threshold crossed posts once to the webhook, and once more when it clears."""

from __future__ import annotations

import json
from typing import Any

import httpx
from django.utils import timezone

from contracts_app import services
from contracts_app.models import AlertRule

from .conftest import Cast, make_event


class Webhook:
    """The project's webhook receiver: it lives outside the project, so a mock transport stands in."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = status
        self.client = httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(json.loads(request.content))
        return httpx.Response(self.status)


def traffic(cast: Cast, *, valid: int, invalid: int) -> None:
    now = timezone.now().isoformat()
    events = [make_event(timestamp=now, contract="pii") for _ in range(valid)] + [
        make_event(timestamp=now, contract="pii", is_valid=False) for _ in range(invalid)
    ]
    services.event_ingest_batch(project=cast.project_a, events=events)
    services.rollups_aggregate()


def rule(cast: Cast, **kwargs: Any) -> AlertRule:
    cast.project_a.alert_webhook_url = "https://hooks.example.org/alerts"
    cast.project_a.save()
    kwargs.setdefault("metric", AlertRule.Metric.VIOLATION_RATE)
    kwargs.setdefault("threshold", 0.5)
    return AlertRule.objects.create(project=cast.project_a, contract="pii", min_count=4, **kwargs)


class TestAlerts:
    def test_a_crossed_threshold_posts_once_until_it_clears(self, cast: Cast) -> None:
        rule(cast)
        hook = Webhook()
        traffic(cast, valid=1, invalid=4)
        services.alerts_evaluate(http_client=hook.client)
        services.alerts_evaluate(http_client=hook.client)
        assert [(p["state"], p["contract"], p["value"]) for p in hook.posts] == [("firing", "pii", 0.8)]

        traffic(cast, valid=20, invalid=0)
        services.alerts_evaluate(http_client=hook.client)
        services.alerts_evaluate(http_client=hook.client)
        assert [p["state"] for p in hook.posts] == ["firing", "cleared"]

    def test_it_stays_quiet_below_the_threshold_or_the_minimum_count(self, cast: Cast) -> None:
        rule(cast)
        hook = Webhook()
        traffic(cast, valid=0, invalid=3)  # 100% but only 3 events, below min_count
        services.alerts_evaluate(http_client=hook.client)
        traffic(cast, valid=10, invalid=0)
        services.alerts_evaluate(http_client=hook.client)
        assert hook.posts == []

    def test_a_p95_threshold_fires_on_slow_validations(self, cast: Cast) -> None:
        rule(cast, metric=AlertRule.Metric.P95_MS, threshold=100.0)
        hook = Webhook()
        now = timezone.now().isoformat()
        services.event_ingest_batch(
            project=cast.project_a,
            events=[make_event(timestamp=now, contract="pii", latency_ms=900.0) for _ in range(10)],
        )
        services.rollups_aggregate()
        services.alerts_evaluate(http_client=hook.client)
        assert [p["metric"] for p in hook.posts] == ["p95_ms"]
        assert hook.posts[0]["value"] > 100

    def test_an_undelivered_alert_is_tried_again(self, cast: Cast) -> None:
        rule(cast)
        failing = Webhook(status=500)
        traffic(cast, valid=0, invalid=5)
        services.alerts_evaluate(http_client=failing.client)
        working = Webhook()
        services.alerts_evaluate(http_client=working.client)
        assert len(failing.posts) == 1 and [p["state"] for p in working.posts] == ["firing"]
