"""The breakpoint pages: create, edit, enable, disable, delete, hits and captures; and the SDK round trip."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from contracts_app import services
from contracts_app.models import Breakpoint, Trace
from contracts_app.schemas import TraceIn
from telemetry import services as telemetry_services

from ..conftest import Cast, make_event
from .conftest import logged_in

HTMX = {"HX-Request": "true"}
CONDITION = {
    "contract": "no_forbidden",
    "severity": "error",
    "model": "",
    "input_contains": "",
    "output_contains": "refund",
    "limit": "2",
}


def capture(cast: Cast, breakpoint: Breakpoint, trace_id: str) -> tuple[Trace, bool]:
    """Upload a trace as the SDK does on a hit of ``breakpoint``."""
    body = {
        "trace_id": trace_id,
        "created_at": datetime(2025, 3, 4, tzinfo=UTC).isoformat(),
        "breakpoint_id": breakpoint.pk,
        "outcome": "violated",
        "model": "gpt-4o-mini",
        "steps": [{"kind": "outcome", "name": "violated", "data": {"outcome": "violated"}}],
    }
    return services.trace_store(project=cast.project_a, trace=TraceIn.model_validate(body))


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def trace_body(trace_id: str, output: str, valid: bool) -> dict[str, Any]:
    return {
        "trace_id": trace_id,
        "created_at": datetime(2025, 3, 4, tzinfo=UTC).isoformat(),
        "outcome": "passed" if valid else "violated",
        "model": "gpt-4o-mini",
        "steps": [
            {"kind": "request", "name": "request", "data": {"model": "gpt-4o-mini"}},
            {"kind": "model_call", "name": "gpt-4o-mini", "data": {"attempt": 0, "output": output}},
            {
                "kind": "output_contract",
                "name": "no_refunds",
                "data": {"is_valid": valid, "message": "" if valid else "promised a refund"},
            },
        ],
    }


class TestCaptureLimits:
    def test_a_breakpoint_made_without_limit_or_rate_gets_the_defaults(
        self, cast: Cast, owner: Client
    ) -> None:
        response = owner.post("/p/alpha/breakpoints/", {**CONDITION, "limit": ""})
        assert response.status_code == 302
        bp = Breakpoint.objects.get()
        assert (bp.limit, bp.rate_per_minute) == (100, 10)
        pulled = Client().get("/api/v1/breakpoints", headers={"X-API-Key": cast.key_a}).json()
        assert (
            pulled["breakpoints"][0]["rate_per_minute"] == 10 and pulled["breakpoints"][0]["remaining"] == 100
        )

    def test_a_limit_or_rate_out_of_bounds_is_refused_by_name(self, owner: Client) -> None:
        response = owner.post(
            "/p/alpha/breakpoints/", {**CONDITION, "limit": "100000", "rate_per_minute": "0"}
        )
        assert response.status_code == 422
        assert {"limit", "rate_per_minute"} <= set(response.context["form"].errors)
        assert not Breakpoint.objects.exists()

    def test_the_server_keeps_at_most_the_rate_a_minute_as_captures(self, cast: Cast) -> None:
        bp = services.breakpoint_save(project=cast.project_a, contract="a", rate_per_minute=2)
        stored = [capture(cast, bp, f"t{i}")[0] for i in range(3)]
        assert [t.breakpoint_id for t in stored] == [bp.pk, bp.pk, None]
        bp.refresh_from_db()
        assert bp.hit_count == 2 and Trace.objects.count() == 3

    def test_captures_are_paged(self, cast: Cast, viewer: Client) -> None:
        bp = services.breakpoint_save(project=cast.project_a, contract="a", rate_per_minute=600)
        for i in range(30):
            capture(cast, bp, f"t{i:02d}")
        first = viewer.get(f"/p/alpha/breakpoints/{bp.pk}/")
        assert len(first.context["traces"]) == 25 and first.context["traces"][0].trace_id == "t29"
        assert 'href="?page=2" rel="next"' in first.content.decode()
        second = viewer.get(f"/p/alpha/breakpoints/{bp.pk}/", {"page": "2"})
        assert [t.trace_id for t in second.context["traces"]] == [f"t{i:02d}" for i in range(4, -1, -1)]
        html = second.content.decode()
        assert 'href="?page=1" rel="prev"' in html and 'rel="next"' not in html

    def test_two_captures_are_compared_side_by_side_step_by_step(self, cast: Cast, viewer: Client) -> None:
        for trace_id, output, valid in (("good", "Happy to help.", True), ("bad", "We refund all.", False)):
            services.trace_store(
                project=cast.project_a, trace=TraceIn.model_validate(trace_body(trace_id, output, valid))
            )
        response = viewer.get("/p/alpha/traces/compare/", {"t": ["good", "bad"]})
        assert response.status_code == 200
        rows = response.context["rows"]
        assert [r.same for r in rows] == [True, False, False]
        html = response.content.decode()
        assert "Happy to help." in html and "We refund all." in html and "promised a refund" in html
        assert html.count("differs</span>") == 2
        assert viewer.get("/p/alpha/traces/compare/", {"t": ["good"]}).status_code == 400
        assert viewer.get("/p/alpha/traces/compare/", {"t": ["good", "nope"]}).status_code == 404


class TestBreakpointPages:
    def test_an_editor_creates_a_breakpoint_with_conditions_and_a_limit(
        self, cast: Cast, owner: Client
    ) -> None:
        response = owner.post("/p/alpha/breakpoints/", CONDITION)
        assert response.status_code == 302
        bp = Breakpoint.objects.get(project=cast.project_a)
        assert (
            bp.contract,
            bp.severity,
            bp.model,
            bp.input_contains,
            bp.output_contains,
            bp.limit,
            bp.active,
        ) == ("no_forbidden", "error", None, None, "refund", 2, True)
        html = owner.get("/p/alpha/breakpoints/").content.decode()
        assert "output contains “refund”" in html and "armed" in html

    def test_bad_input_is_shown_on_the_form_and_nothing_is_created(self, owner: Client) -> None:
        response = owner.post("/p/alpha/breakpoints/", {**CONDITION, "contract": "", "limit": "0"})
        assert response.status_code == 422
        errors = response.context["form"].errors
        assert "contract" in errors and "limit" in errors
        assert not Breakpoint.objects.exists()
        response = owner.post("/p/alpha/breakpoints/", {**CONDITION, "severity": "loud"})
        assert response.status_code == 422 and "severity" in response.context["form"].errors

    def test_editing_changes_the_conditions(self, cast: Cast, owner: Client) -> None:
        bp = services.breakpoint_save(project=cast.project_a, contract="a", model="gpt-4o")
        response = owner.post(f"/p/alpha/breakpoints/{bp.pk}/", {**CONDITION, "contract": "b", "limit": ""})
        assert response.status_code == 302
        bp.refresh_from_db()
        # An empty limit is the default one, never "no limit".
        assert (bp.contract, bp.model, bp.output_contains, bp.limit) == ("b", None, "refund", 100)

    def test_disable_enable_and_delete(self, cast: Cast, owner: Client) -> None:
        bp = services.breakpoint_save(project=cast.project_a, contract="a")
        response = owner.post(f"/p/alpha/breakpoints/{bp.pk}/active/", {"active": "0"}, headers=HTMX)
        assert response.status_code == 200 and "<html" not in response.content.decode()
        assert "Enable" in response.content.decode()
        bp.refresh_from_db()
        assert not bp.active
        assert owner.post(f"/p/alpha/breakpoints/{bp.pk}/active/", {"active": "1"}).status_code == 302
        bp.refresh_from_db()
        assert bp.active
        capture(cast, bp, "kept")
        assert owner.post(f"/p/alpha/breakpoints/{bp.pk}/delete/").status_code == 302
        assert not Breakpoint.objects.exists()
        assert Trace.objects.get(trace_id="kept").breakpoint is None  # the capture outlives it

    def test_the_detail_page_lists_the_captured_traces_newest_first(self, cast: Cast, viewer: Client) -> None:
        bp = services.breakpoint_save(project=cast.project_a, contract="a")
        for trace_id in ("first", "second", "third"):
            capture(cast, bp, trace_id)
        response = viewer.get(f"/p/alpha/breakpoints/{bp.pk}/")
        assert [t.trace_id for t in response.context["traces"]] == ["third", "second", "first"]
        html = response.content.decode()
        assert "/p/alpha/traces/third/" in html and "3</strong> hits" in html
        fragment = viewer.get(f"/p/alpha/breakpoints/{bp.pk}/", headers=HTMX).content.decode()
        assert fragment.lstrip().startswith('<form method="get"') and "second" in fragment

    def test_a_breakpoint_disarms_itself_at_its_limit(
        self, cast: Cast, owner: Client, client: Client
    ) -> None:
        owner.post("/p/alpha/breakpoints/", CONDITION)
        bp = Breakpoint.objects.get()
        assert capture(cast, bp, "t1")[0].breakpoint_id == bp.pk
        bp.refresh_from_db()
        assert (bp.hit_count, bp.active) == (1, True)
        capture(cast, bp, "t2")
        bp.refresh_from_db()
        assert (bp.hit_count, bp.active, bp.remaining) == (2, False, 0)
        pulled = client.get("/api/v1/breakpoints", headers={"X-API-Key": cast.key_a}).json()
        assert pulled == {"breakpoints": [], "trace_sample_rate": 1.0}
        # A hit that was already on its way is kept as a trace, but not counted as a capture.
        late, created = capture(cast, bp, "t3")
        bp.refresh_from_db()
        assert created and late.breakpoint is None and bp.hit_count == 2
        html = owner.get("/p/alpha/breakpoints/").content.decode()
        assert "spent" in html
        # A spent breakpoint is enabled again only after its limit is raised.
        owner.post(f"/p/alpha/breakpoints/{bp.pk}/active/", {"active": "1"})
        bp.refresh_from_db()
        assert not bp.active
        owner.post(f"/p/alpha/breakpoints/{bp.pk}/", {**CONDITION, "limit": "5"})
        owner.post(f"/p/alpha/breakpoints/{bp.pk}/active/", {"active": "1"})
        bp.refresh_from_db()
        assert (bp.active, bp.remaining) == (True, 3)

    def test_a_disabled_breakpoint_captures_nothing(self, cast: Cast) -> None:
        bp = services.breakpoint_save(project=cast.project_a, contract="a")
        services.breakpoint_set_active(breakpoint=bp, active=False)
        trace, _ = capture(cast, bp, "t-off")
        bp.refresh_from_db()
        assert trace.breakpoint is None and bp.hit_count == 0

    def test_access_outsiders_404_viewers_403(self, cast: Cast, viewer: Client, outsider: Client) -> None:
        bp = services.breakpoint_save(project=cast.project_a, contract="a")
        assert viewer.get("/p/alpha/breakpoints/").status_code == 200
        assert "New breakpoint" not in viewer.get("/p/alpha/breakpoints/").content.decode()
        assert viewer.post("/p/alpha/breakpoints/", CONDITION).status_code == 403
        assert viewer.post(f"/p/alpha/breakpoints/{bp.pk}/", CONDITION).status_code == 403
        assert viewer.post(f"/p/alpha/breakpoints/{bp.pk}/active/", {"active": "0"}).status_code == 403
        assert viewer.post(f"/p/alpha/breakpoints/{bp.pk}/delete/").status_code == 403
        for path in ("/p/alpha/breakpoints/", f"/p/alpha/breakpoints/{bp.pk}/"):
            assert outsider.get(path).status_code == 404
        assert outsider.post(f"/p/alpha/breakpoints/{bp.pk}/delete/").status_code == 404
        # Another project's breakpoint is not reachable through one's own project either.
        assert logged_in(cast.outsider).get(f"/p/bravo/breakpoints/{bp.pk}/").status_code == 404
        assert Breakpoint.objects.get().active

    def test_the_list_refreshes_its_table_for_htmx(self, cast: Cast, viewer: Client) -> None:
        services.breakpoint_save(project=cast.project_a, contract="a")
        html = viewer.get("/p/alpha/breakpoints/", headers=HTMX).content.decode()
        assert "<html" not in html and "<code>a</code>" in html

    def test_the_form_suggests_contract_names_seen_lately(self, cast: Cast, owner: Client) -> None:
        telemetry_services.event_ingest_batch(
            project=cast.project_a,
            events=[make_event(contract="Reply.ensure[1]", timestamp=datetime.now(UTC).isoformat())],
        )
        telemetry_services.rollups_aggregate()
        assert "Reply.ensure[1]" in owner.get("/p/alpha/breakpoints/").context["contract_names"]


class TestSdkRoundTrip:
    def test_a_breakpoint_made_on_the_page_is_pulled_and_captures_a_matching_call(
        self, cast: Cast, live_server: Any, transactional_db: None
    ) -> None:
        from llm_contracts import ContractOpenAI, ContractViolationError, FunctionContract
        from llm_contracts.reporting import Reporter
        from llm_contracts.testing import FakeLLM

        owner = logged_in(cast.owner)
        assert owner.post("/p/alpha/breakpoints/", {**CONDITION, "limit": "1"}).status_code == 302
        bp = Breakpoint.objects.get()

        fake = FakeLLM(default="All good.")
        fake.reply("We never refund anything, forbidden!")
        reporter = Reporter(live_server.url, cast.key_a, flush_interval=0.05, poll_interval=0.2)
        client = ContractOpenAI(
            api_key="test",
            http_client=fake.http_client(),
            max_retries=0,
            reporter=reporter,
            output_contracts=[FunctionContract(lambda t: "forbidden" not in t, name="no_forbidden")],
        )
        try:
            assert reporter.sync.wait_loaded(timeout=10)
            assert [b.id for b in reporter.sync.breakpoints] == [bp.pk]
            # no_forbidden fails on an answer that mentions a refund: captured.
            with pytest.raises(ContractViolationError):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "refund?"}]
                )
            # Nothing fails here: not captured (and the limit of 1 is spent anyway).
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            assert reporter.flush(timeout=10)
            assert wait_for(lambda: Trace.objects.filter(breakpoint=bp).exists())
        finally:
            reporter.close(timeout=5)
        bp.refresh_from_db()
        assert (bp.hit_count, bp.active) == (1, False)
        assert Trace.objects.count() == 1

        trace = Trace.objects.get()
        page = owner.get(f"/p/alpha/breakpoints/{bp.pk}/")
        assert [t.trace_id for t in page.context["traces"]] == [trace.trace_id]
        html = owner.get(f"/p/alpha/traces/{trace.trace_id}/").content.decode()
        assert "We never refund anything, forbidden!" in html and "no_forbidden" in html


def test_the_server_bounds_a_trace_an_old_sdk_uploads_unbounded(cast: Cast) -> None:
    from llm_contracts.debugging._trace import TRACE_MAX_BYTES

    body = trace_body("big", "y" * 9000, False)
    body["steps"] = body["steps"] * 60  # 180 steps of up to 9,000 characters
    stored, _ = services.trace_store(project=cast.project_a, trace=TraceIn.model_validate(body))
    stored.refresh_from_db()
    assert len(json.dumps(stored.steps, separators=(",", ":")).encode()) <= TRACE_MAX_BYTES
    assert len(stored.steps) == 180 and stored.steps[1]["kind"] == "model_call"
