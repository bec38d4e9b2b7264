"""Hostile input: refused per item naming the field, never a 500, nothing else affected."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey
from contracts_app.models import Trace
from telemetry.models import ValidationEvent

from .conftest import Cast, Poster, make_event
from .experiments.conftest import MakeExperiment
from .experiments.conftest import make_experiment as make_experiment  # noqa: F401 (a fixture)
from .experiments.conftest import versions as versions  # noqa: F401 (a fixture)

CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.com"


@pytest.fixture
def quiet_client(client: Client) -> Client:
    # A 500 must show as a status here, not as an exception the test client re-raises.
    client.raise_request_exception = False
    return client


def fresh(**fields: Any) -> dict[str, Any]:
    return make_event(timestamp=(timezone.now() - timedelta(minutes=1)).isoformat(), **fields)


def rejected_fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for r in body["results"] if r["status"] == "rejected" for e in r["errors"]]


class TestUnstorableText:
    @pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b", "\udfff"], ids=["nul", "high", "low"])
    def test_one_bad_item_in_1000_is_refused_alone_naming_the_field(
        self, cast: Cast, post_events: Poster, bad: str
    ) -> None:
        events = [fresh(event_id=f"ok-{i}") for i in range(1000)]
        events[500] = fresh(event_id="bad", contract=bad)
        # json.dumps escapes a lone surrogate as \\ud800, as a client would send it.
        response = post_events(cast.key_a, events)
        assert response.status_code == 207
        body = response.json()
        assert (body["accepted"], body["rejected"]) == (999, 1)
        assert rejected_fields(body) == ["contract"]
        assert ValidationEvent.objects.filter(project=cast.project_a).count() == 999

    def test_free_text_loses_what_cannot_be_stored_and_keeps_the_rest(
        self, cast: Cast, post_events: Poster
    ) -> None:
        response = post_events(
            cast.key_a, [fresh(event_id="t", message="bad\x00byte \ud800here", output_excerpt="x\x00y")]
        )
        assert response.json()["accepted"] == 1
        event = ValidationEvent.objects.get(event_id="t")
        assert (event.message, event.output_excerpt) == ("badbyte \ufffdhere", "xy")

    def test_a_trace_with_bad_text_is_cleaned_or_refused_by_field(
        self, cast: Cast, quiet_client: Client
    ) -> None:
        def post(trace: dict[str, Any]) -> Any:
            return quiet_client.post(
                "/api/v1/traces",
                json.dumps(trace),
                content_type="application/json",
                headers={"X-API-Key": cast.key_a},
            )

        created = timezone.now().isoformat()
        step = {"kind": "request", "name": "re\x00quest", "data": {"k\x00": ["v\ud800", {"n": "\x00"}]}}
        assert post({"trace_id": "t1", "created_at": created, "steps": [step]}).status_code == 201
        stored = Trace.objects.get(trace_id="t1").steps[0]
        assert stored["name"] == "request" and stored["data"] == {"k": ["v\ufffd", {"n": ""}]}
        refused = post({"trace_id": "t\x00", "created_at": created, "steps": []})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "trace_id"
        too_old = post({"trace_id": "t2", "created_at": "0001-01-01T00:00:00+14:00", "steps": []})
        assert too_old.status_code == 400 and too_old.json()["errors"][0]["field"] == "created_at"

    def test_an_experiment_body_with_bad_text_is_refused_naming_the_field(
        self, cast: Cast, quiet_client: Client
    ) -> None:
        ApiKey.objects.filter(project=cast.project_a).update(scopes="ingest,read,write")
        response = quiet_client.post(
            "/api/v1/experiments",
            '{"key": "ok", "description": "x\\u0000y", "control": [], "treatment": []}',
            content_type="application/json",
            headers={"X-API-Key": cast.key_a},
        )
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "description", "reason": "must not contain a NUL character (\\u0000)"}
        ]

    @pytest.mark.parametrize(
        "url",
        [
            "/api/v1/experiments/a%00b/start",
            "/p/alpha/traces/a%00b/",
            "/p/alpha/contracts/a%00b/",
            "/p/alpha/experiments/a%00b/",
            "/p/alpha/violations/?contract=a%00b",
        ],
    )
    def test_a_path_or_query_with_a_nul_is_a_400(self, cast: Cast, quiet_client: Client, url: str) -> None:
        quiet_client.force_login(cast.owner)
        method = quiet_client.post if url.startswith("/api/") else quiet_client.get
        response = method(url, headers={"X-API-Key": cast.key_a})
        assert response.status_code == 400


class TestNumbers:
    @pytest.mark.parametrize("tokens", [2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 10**12])
    def test_large_token_counts_are_stored_exactly(
        self, cast: Cast, post_events: Poster, tokens: int
    ) -> None:
        response = post_events(
            cast.key_a, [fresh(event_id="big", prompt_tokens=tokens, completion_tokens=tokens)]
        )
        assert response.status_code == 207 and response.json()["accepted"] == 1
        event = ValidationEvent.objects.get(event_id="big")
        assert (event.prompt_tokens, event.completion_tokens) == (tokens, tokens)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("prompt_tokens", 10**12 + 1),
            ("completion_tokens", 2**64),
            ("retries", 2**31),
            ("turn", 2**32 + 5),
            ("contract_version", 2**31),
            ("latency_ms", 1e308),
            ("llm_latency_ms", 7 * 24 * 3600 * 1000.0 + 1),
            ("latency_ms", -1),
            ("prompt_tokens", 1.5),
            ("prompt_tokens", "12"),
        ],
    )
    def test_an_out_of_bounds_number_is_refused_per_item(
        self, cast: Cast, post_events: Poster, field: str, value: Any
    ) -> None:
        response = post_events(cast.key_a, [fresh(**{field: value}), fresh()])
        assert response.status_code == 207
        assert rejected_fields(response.json()) == [field]
        assert ValidationEvent.objects.filter(project=cast.project_a).count() == 1

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
    def test_a_non_finite_number_is_refused_per_item(
        self, cast: Cast, post_events: Poster, literal: str
    ) -> None:
        # Only the latency is replaced: a timestamp or an id may contain "1.0" too.
        item = json.dumps(fresh(latency_ms=1.0))
        good, bad = json.dumps(fresh()), item.replace('"latency_ms": 1.0', f'"latency_ms": {literal}')
        assert bad.count(literal) == 1
        response = post_events(cast.key_a, [], raw=f'{{"events": [{bad}, {good}]}}'.encode())
        assert response.status_code == 207
        assert rejected_fields(response.json()) == ["latency_ms"]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("latency_ms", True),
            ("prompt_tokens", False),
            ("retries", True),
            ("is_valid", 1),
            ("error", "true"),
        ],
    )
    def test_booleans_and_numbers_are_not_each_other(
        self, cast: Cast, post_events: Poster, field: str, value: Any
    ) -> None:
        response = post_events(cast.key_a, [fresh(**{field: value})])
        assert rejected_fields(response.json()) == [field]

    def test_the_sdk_counters_refuse_a_boolean_and_take_a_large_count(
        self, cast: Cast, post_events: Poster
    ) -> None:
        sdk = {
            "name": "x",
            "instance_id": "i1",
            "counters": {"sent": 2**40, "breaker_skips": 3, "rejected": 2},
        }
        assert post_events(cast.key_a, [fresh()], sdk=sdk).status_code == 207
        sdk["counters"] = {"sent": True}
        response = post_events(cast.key_a, [fresh()], sdk=sdk)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "sdk.counters.sent"


class TestTimestamps:
    @pytest.mark.parametrize(
        "timestamp",
        ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2000-01-01T00:00:00Z"],
    )
    def test_a_timestamp_outside_the_window_is_refused(
        self, cast: Cast, post_events: Poster, settings: Any, timestamp: str
    ) -> None:
        settings.EVENT_MAX_AGE_S = 7 * 24 * 3600
        response = post_events(cast.key_a, [make_event(timestamp=timestamp), fresh()])
        assert rejected_fields(response.json()) == ["timestamp"]

    def test_the_window_follows_the_settings(self, cast: Cast, post_events: Poster, settings: Any) -> None:
        settings.EVENT_MAX_AGE_S, settings.EVENT_MAX_FUTURE_S = 3600, 60
        now = timezone.now()
        events = [
            make_event(timestamp=(now - timedelta(minutes=50)).isoformat()),
            make_event(timestamp=(now - timedelta(minutes=70)).isoformat()),
            make_event(timestamp=(now + timedelta(seconds=30)).isoformat()),
            make_event(timestamp=(now + timedelta(minutes=5)).isoformat()),
        ]
        statuses = [r["status"] for r in post_events(cast.key_a, events).json()["results"]]
        assert statuses == ["accepted", "rejected", "accepted", "rejected"]


class TestRedaction:
    FIELDS = ("message", "session_id", "experiment", "variant", "call_id", "event_id", "model", "contract")

    @pytest.mark.parametrize("field", FIELDS)
    @pytest.mark.parametrize("pii", [CARD, EMAIL], ids=["card", "email"])
    def test_no_free_text_field_stores_personal_data(
        self, cast: Cast, post_events: Poster, field: str, pii: str
    ) -> None:
        value = f"for {pii}"
        response = post_events(cast.key_a, [fresh(**{field: value})])
        assert response.json()["accepted"] == 1
        stored = ValidationEvent.objects.values().get(project=cast.project_a)
        assert all(pii not in str(v) for v in stored.values()), stored[field]

    def test_a_redacted_id_stays_distinct_and_idempotent(self, cast: Cast, post_events: Poster) -> None:
        events = [fresh(event_id=f"{EMAIL}-1"), fresh(event_id=f"{EMAIL}-2")]
        assert post_events(cast.key_a, events).json()["accepted"] == 2
        assert post_events(cast.key_a, events).json()["duplicates"] == 2
        assert ValidationEvent.objects.filter(project=cast.project_a).count() == 2

    def test_trace_names_keys_and_ids_are_redacted(self, cast: Cast, client: Client) -> None:
        trace = {
            "trace_id": f"t-{EMAIL}",
            "call_id": f"c {CARD}",
            "created_at": timezone.now().isoformat(),
            "model": EMAIL,
            "steps": [{"kind": "request", "name": f"step {CARD}", "data": {EMAIL: {CARD: EMAIL}}}],
        }
        response = client.post(
            "/api/v1/traces",
            json.dumps(trace),
            content_type="application/json",
            headers={"X-API-Key": cast.key_a},
        )
        assert response.status_code == 201
        stored = Trace.objects.values().get(project=cast.project_a)
        text = json.dumps(stored, default=str)
        assert EMAIL not in text and CARD not in text


class TestProtocolEdges:
    def test_the_fallback_outcome_is_stored(self, cast: Cast, post_events: Poster) -> None:
        response = post_events(cast.key_a, [fresh(event_id="fb", outcome="fallback")])
        assert response.json()["accepted"] == 1
        assert ValidationEvent.objects.get(event_id="fb").outcome == "fallback"

    def test_a_plain_body_over_the_limit_is_a_json_413(
        self, cast: Cast, quiet_client: Client, settings: Any
    ) -> None:
        settings.INGEST_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
        body = json.dumps({"events": [fresh(message="x" * 1000) for _ in range(5)]})
        response = quiet_client.post(
            "/api/v1/events", body, content_type="application/json", headers={"X-API-Key": cast.key_a}
        )
        assert response.status_code == 413
        assert response.json()["errors"][0]["field"] == "body"

    def test_the_openapi_schema_describes_each_event(self, client: Client) -> None:
        schema = client.get("/api/v1/openapi.json").json()
        components = schema["components"]["schemas"]

        def resolve(node: dict[str, Any]) -> dict[str, Any]:
            ref = node.get("$ref")
            return resolve(components[ref.rsplit("/", 1)[1]]) if ref else node

        batch = components["EventBatch"]["properties"]["events"]
        item = resolve(batch["items"])
        assert {"event_id", "timestamp", "latency_ms", "outcome"} <= set(item["properties"])
        assert "fallback" in resolve(item["properties"]["outcome"])["enum"]
        assert batch["maxItems"] == 1000


class TestRampForm:
    @pytest.mark.parametrize("rows", ["abc", "1e3", "", "-1"])
    def test_a_non_numeric_row_count_is_not_a_500(
        self, cast: Cast, quiet_client: Client, make_experiment: MakeExperiment, rows: str
    ) -> None:
        make_experiment()
        quiet_client.force_login(cast.owner)
        response = quiet_client.post(
            f"/p/{cast.project_a.slug}/experiments/stricter-pii/schedule/",
            {"rows": rows, "coverage_0": "10", "hold_0": "minutes", "hold_value_0": "5"},
        )
        assert response.status_code in (200, 302, 400)
