"""POST /api/v1/events: auth and scoping, per-item status, idempotency, gzip, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accounts import services as account_services
from accounts.models import ApiKey
from dashboard.lib.limits import saturate
from telemetry.models import SdkInstance, ValidationEvent

from .conftest import Cast, Poster, make_event


def stored_ids(project: object) -> list[str]:
    return sorted(ValidationEvent.objects.filter(project=project).values_list("event_id", flat=True))


class TestAuth:
    def test_it_stores_events_in_the_keys_project_only(self, cast: Cast, post_events: Poster) -> None:
        response = post_events(cast.key_a, [make_event(event_id="x1")])
        assert response.status_code == 207
        assert stored_ids(cast.project_a) == ["x1"]
        assert stored_ids(cast.project_b) == []

    def test_a_key_from_another_project_cannot_write_or_dedupe_against_it(
        self, cast: Cast, post_events: Poster
    ) -> None:
        post_events(cast.key_a, [make_event(event_id="shared")])
        response = post_events(cast.key_b, [make_event(event_id="shared")])
        # The same id in project B is a different event: stored there, A untouched.
        assert response.json()["results"] == [{"event_id": "shared", "status": "accepted"}]
        assert ValidationEvent.objects.filter(event_id="shared").count() == 2
        assert stored_ids(cast.project_a) == ["shared"]

    def test_it_refuses_a_revoked_key(self, cast: Cast, post_events: Poster) -> None:
        account_services.api_key_revoke(api_key=ApiKey.objects.get(project=cast.project_a))
        response = post_events(cast.key_a, [make_event()])
        assert response.status_code == 401
        assert response.json()["errors"][0]["field"] == "X-API-Key"
        assert stored_ids(cast.project_a) == []

    def test_it_refuses_an_expired_key(self, cast: Cast, post_events: Poster) -> None:
        from django.utils import timezone

        _, raw = account_services.api_key_create(
            project=cast.project_a, name="old", expires_at=timezone.now() - timezone.timedelta(seconds=1)
        )
        assert post_events(raw, [make_event()]).status_code == 401

    @pytest.mark.parametrize("key", [None, "", "lck_not-a-real-key", "x" * 500])
    def test_it_refuses_a_missing_or_unknown_key(
        self, cast: Cast, post_events: Poster, key: str | None
    ) -> None:
        assert post_events(key, [make_event()]).status_code == 401

    def test_it_stores_the_key_hashed_with_a_visible_prefix(self, cast: Cast) -> None:
        key, raw = account_services.api_key_create(project=cast.project_a, name="shown once")
        assert raw.startswith(key.prefix)
        assert raw not in key.hashed_key and key.hashed_key == account_services.hash_key(raw)


class TestBatch:
    def test_a_retried_batch_stores_nothing_twice(self, cast: Cast, post_events: Poster) -> None:
        batch = [make_event() for _ in range(5)]
        first = post_events(cast.key_a, batch).json()
        second = post_events(cast.key_a, batch).json()
        assert (first["accepted"], first["duplicates"]) == (5, 0)
        assert (second["accepted"], second["duplicates"]) == (0, 5)
        assert [r["status"] for r in second["results"]] == ["duplicate"] * 5
        assert ValidationEvent.objects.filter(project=cast.project_a).count() == 5

    def test_a_repeated_id_inside_one_batch_is_a_duplicate(self, cast: Cast, post_events: Poster) -> None:
        event = make_event()
        body = post_events(cast.key_a, [event, dict(event)]).json()
        assert [r["status"] for r in body["results"]] == ["accepted", "duplicate"]
        assert ValidationEvent.objects.count() == 1

    def test_a_malformed_item_is_rejected_alone(self, cast: Cast, post_events: Poster) -> None:
        good1, good2 = make_event(), make_event()
        bad = make_event(severity="catastrophic", latency_ms=-1)
        body = post_events(cast.key_a, [good1, bad, "not an object", good2]).json()
        assert (body["accepted"], body["rejected"]) == (2, 2)
        rejected = body["results"][1]
        assert rejected["status"] == "rejected" and rejected["index"] == 1
        assert {e["field"] for e in rejected["errors"]} == {"severity", "latency_ms"}
        assert body["results"][2]["errors"] == [{"field": "event", "reason": "must be a JSON object"}]
        assert stored_ids(cast.project_a) == sorted([good1["event_id"], good2["event_id"]])

    def test_it_rejects_a_timestamp_without_a_timezone(self, cast: Cast, post_events: Poster) -> None:
        body = post_events(cast.key_a, [make_event(timestamp="2025-03-04T12:00:00")]).json()
        assert body["results"][0]["errors"][0]["field"] == "timestamp"

    def test_it_accepts_a_gzip_body(self, cast: Cast, post_events: Poster) -> None:
        response = post_events(cast.key_a, [make_event(event_id="gz")], gzipped=True)
        assert response.status_code == 207
        assert stored_ids(cast.project_a) == ["gz"]

    def test_it_rejects_a_body_that_is_not_gzip(self, cast: Cast, client: object) -> None:
        response = client.post(
            "/api/v1/events",
            b"plain",
            content_type="application/json",  # type: ignore[attr-defined]
            headers={"X-API-Key": cast.key_a, "Content-Encoding": "gzip"},
        )
        assert response.status_code == 400
        assert "gzip" in response.json()["errors"][0]["reason"]

    def test_it_rejects_a_batch_of_1001_events_whole(self, cast: Cast, post_events: Poster) -> None:
        response = post_events(cast.key_a, [make_event() for _ in range(1001)])
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "events"
        assert "1000" in response.json()["errors"][0]["reason"]
        assert ValidationEvent.objects.count() == 0

    def test_it_accepts_a_batch_of_1000_events(self, cast: Cast, post_events: Poster) -> None:
        response = post_events(cast.key_a, [make_event() for _ in range(1000)])
        assert response.json()["accepted"] == 1000

    @pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"events": 3}'])
    def test_it_answers_bad_bodies_with_a_4xx_naming_the_problem(
        self, cast: Cast, post_events: Poster, raw: bytes
    ) -> None:
        response = post_events(cast.key_a, [], raw=raw)
        assert 400 <= response.status_code < 500
        assert response.json()["errors"][0]["reason"]

    def test_it_redacts_excerpts_again_before_storage(self, cast: Cast, post_events: Poster) -> None:
        post_events(
            cast.key_a,
            [
                make_event(
                    input_excerpt="mail me at jane.doe@example.com", output_excerpt="card 4111 1111 1111 1111"
                )
            ],
        )
        event = ValidationEvent.objects.get()
        assert "jane.doe@example.com" not in (event.input_excerpt or "")
        assert "4111" not in (event.output_excerpt or "")

    def test_it_records_the_sdk_instance_and_its_counters(self, cast: Cast, post_events: Poster) -> None:
        sdk = {
            "name": "llm-contracts-python",
            "version": "0.1.0",
            "instance_id": "inst-1",
            "counters": {"sent": 3, "dropped": 1, "failed": 0, "spooled": 0, "breaker_skips": 0},
        }
        post_events(cast.key_a, [make_event(), make_event()], sdk=sdk)
        post_events(cast.key_a, [make_event()], sdk={**sdk, "counters": {**sdk["counters"], "sent": 5}})
        instance = SdkInstance.objects.get(project=cast.project_a)
        assert instance.events_received == 3
        assert instance.counters["sent"] == 5 and instance.counters["dropped"] == 1

    def test_it_answers_429_with_retry_after_when_saturated(self, cast: Cast, post_events: Poster) -> None:
        with saturate():
            response = post_events(cast.key_a, [make_event()])
        assert response.status_code == 429
        assert int(response["Retry-After"]) >= 1
        assert ValidationEvent.objects.count() == 0
        assert post_events(cast.key_a, [make_event()]).status_code == 207

    def test_a_stored_event_cannot_be_changed(self, cast: Cast, post_events: Poster) -> None:
        from dashboard.lib.immutable import ImmutableError

        post_events(cast.key_a, [make_event()])
        event = ValidationEvent.objects.get()
        event.message = "rewritten"
        with pytest.raises(ImmutableError):
            event.save()

    def test_the_results_keep_the_items_order(self, cast: Cast, post_events: Poster) -> None:
        events = [make_event(event_id=f"o{i}") for i in range(20)]
        body = post_events(cast.key_a, events).json()
        assert [r["event_id"] for r in body["results"]] == [f"o{i}" for i in range(20)]
        assert json.loads(json.dumps(body))["accepted"] == 20


class TestWritePath:
    def test_a_batch_of_new_events_in_an_experiment_takes_two_statements_besides_the_copy(
        self, cast: Cast, post_events: Poster, django_assert_max_num_queries: Any
    ) -> None:
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("the COPY path is Postgres's")
        sdk = {"name": "py", "version": "1", "instance_id": "i1"}
        post_events(cast.key_a, [make_event()], sdk=sdk)  # the SDK instance row exists
        events = [make_event(call_id=f"call-{i // 3}", experiment="exp", variant="b") for i in range(300)]
        # The COPY goes straight into the events table (not counted: psycopg's own cursor);
        # the SDK instance update and the 100 calls' exposures are one statement each.
        with django_assert_max_num_queries(5):
            response = post_events(cast.key_a, events, sdk=sdk)
        assert response.json()["accepted"] == 300
        from experiments.models import Exposure

        assert Exposure.objects.filter(project=cast.project_a, experiment="exp").count() == 100

    def test_a_resent_batch_with_new_events_stores_only_the_new_ones(
        self, cast: Cast, post_events: Poster
    ) -> None:
        first = [make_event() for _ in range(5)]
        post_events(cast.key_a, first)
        fresh = [make_event() for _ in range(3)]
        response = post_events(cast.key_a, [*first[:2], fresh[0], first[4], *fresh[1:]])
        assert [r["status"] for r in response.json()["results"]] == [
            "duplicate",
            "duplicate",
            "accepted",
            "duplicate",
            "accepted",
            "accepted",
        ]
        assert ValidationEvent.objects.filter(project=cast.project_a).count() == 8
        from telemetry.models import PendingEvent

        # The rolled-back attempt queued nothing: each stored event is queued once.
        assert PendingEvent.objects.filter(project_id=cast.project_a.pk).count() == 8
