"""Alert evaluation: a threshold crossed posts once to the webhook, and once more when it clears.

Each post is its own Celery task (run eagerly here) to a real receiver on loopback, which
the tests allow through WEBHOOK_ALLOWED_HOSTS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from telemetry import services as telemetry_services
from telemetry.models import AlertRule

from .conftest import Cast, make_event
from .webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("eager_tasks")

Capture = Callable[..., Any]


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_RETRY_BACKOFF_S = 0.0


def evaluate(capture: Capture) -> list[telemetry_services.AlertChange]:
    """Evaluate the rules and run the deliveries they queued once the transaction commits."""
    with capture(execute=True):
        return telemetry_services.alerts_evaluate()


def traffic(cast: Cast, *, valid: int, invalid: int) -> None:
    now = timezone.now().isoformat()
    events = [make_event(timestamp=now, contract="pii") for _ in range(valid)] + [
        make_event(timestamp=now, contract="pii", is_valid=False) for _ in range(invalid)
    ]
    telemetry_services.event_ingest_batch(project=cast.project_a, events=events)
    telemetry_services.rollups_aggregate()


def rule(cast: Cast, hook: Receiver, **kwargs: Any) -> AlertRule:
    cast.project_a.alert_webhook_url = hook.url
    cast.project_a.save()
    kwargs.setdefault("metric", AlertRule.Metric.VIOLATION_RATE)
    kwargs.setdefault("threshold", 0.5)
    return AlertRule.objects.create(project=cast.project_a, contract="pii", min_count=4, **kwargs)


class TestAlerts:
    def test_a_crossed_threshold_posts_once_until_it_clears(
        self, cast: Cast, receiver: Receiver, django_capture_on_commit_callbacks: Capture
    ) -> None:
        rule(cast, receiver)
        traffic(cast, valid=1, invalid=4)
        evaluate(django_capture_on_commit_callbacks)
        evaluate(django_capture_on_commit_callbacks)
        assert [(p["state"], p["contract"], p["value"]) for p in receiver.posts] == [("firing", "pii", 0.8)]

        traffic(cast, valid=20, invalid=0)
        evaluate(django_capture_on_commit_callbacks)
        evaluate(django_capture_on_commit_callbacks)
        assert [p["state"] for p in receiver.posts] == ["firing", "cleared"]

    def test_it_stays_quiet_below_the_threshold_or_the_minimum_count(
        self, cast: Cast, receiver: Receiver, django_capture_on_commit_callbacks: Capture
    ) -> None:
        rule(cast, receiver)
        traffic(cast, valid=0, invalid=3)  # 100% but only 3 events, below min_count
        evaluate(django_capture_on_commit_callbacks)
        traffic(cast, valid=10, invalid=0)
        evaluate(django_capture_on_commit_callbacks)
        assert receiver.posts == []

    def test_a_p95_threshold_fires_on_slow_validations(
        self, cast: Cast, receiver: Receiver, django_capture_on_commit_callbacks: Capture
    ) -> None:
        rule(cast, receiver, metric=AlertRule.Metric.P95_MS, threshold=100.0)
        now = timezone.now().isoformat()
        telemetry_services.event_ingest_batch(
            project=cast.project_a,
            events=[make_event(timestamp=now, contract="pii", latency_ms=900.0) for _ in range(10)],
        )
        telemetry_services.rollups_aggregate()
        evaluate(django_capture_on_commit_callbacks)
        assert [p["metric"] for p in receiver.posts] == ["p95_ms"]
        assert receiver.posts[0]["value"] > 100

    def test_a_failed_delivery_is_retried_until_it_arrives(
        self, cast: Cast, receiver: Receiver, django_capture_on_commit_callbacks: Capture
    ) -> None:
        rule(cast, receiver)
        receiver.statuses = [500, 503]
        traffic(cast, valid=0, invalid=5)
        evaluate(django_capture_on_commit_callbacks)
        assert [p["state"] for p in receiver.posts] == ["firing", "firing", "firing"]
        # Delivered on the third try; the next pass does not post it again.
        evaluate(django_capture_on_commit_callbacks)
        assert len(receiver.posts) == 3

    def test_evaluation_only_queues_one_delivery_per_rule(
        self, cast: Cast, receiver: Receiver, django_capture_on_commit_callbacks: Capture
    ) -> None:
        rule(cast, receiver)
        rule(cast, receiver, threshold=0.1)
        traffic(cast, valid=0, invalid=5)
        with django_capture_on_commit_callbacks(execute=False) as queued:
            changes = telemetry_services.alerts_evaluate()
        # Nothing was posted while the rules were evaluated: a slow receiver holds up no rule.
        assert receiver.posts == [] and [c.queued for c in changes] == [True, True]
        assert len(queued) == 2
        for deliver in queued:
            deliver()
        assert [p["threshold"] for p in sorted(receiver.posts, key=lambda p: p["threshold"])] == [0.1, 0.5]
