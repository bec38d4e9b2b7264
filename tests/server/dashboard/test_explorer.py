"""The violations explorer grouped by call, the call page, and the links between calls, traces, sessions."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from contracts_app import services
from tests.server.conftest import Cast
from tests.server.dashboard.conftest import Fill

REPLY = """contract Reply {
  ensure len(output) <= 200
  ensure not pii(output)
}
"""


def violation(**overrides: object) -> dict[str, object]:
    return {"is_valid": False, "outcome": "violated", "message": "output is not JSON", **overrides}


@pytest.fixture
def owner(client: Client, cast: Cast) -> Client:
    client.force_login(cast.owner)
    return client


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-call="([^"]+)">', html)


class TestGroupedByCall:
    def test_one_row_per_call_with_every_verdict_its_trace_session_and_arm(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        call = {
            "call_id": "c-1",
            "session_id": "conv-7",
            "turn": 3,
            "experiment": "shorter",
            "variant": "treatment",
            "trace_id": "tr-1",
            "minutes_ago": 2,
        }
        fill(
            [
                violation(contract="json_format", **call),
                violation(contract="pii", severity="critical", message="an email address", **call),
                {"contract": "length", **call},
                violation(call_id="c-2", minutes_ago=5),
                {"call_id": "c-3", "minutes_ago": 1},  # held: not in the explorer
            ]
        )
        response = owner.get("/p/alpha/violations/")
        page = response.context["page"]
        assert [c.call_id for c in page.calls] == ["c-1", "c-2"]
        first = page.calls[0]
        assert sorted(v.contract for v in first.violations) == ["json_format", "pii"] and first.passed == 1
        html = response.content.decode()
        assert rows(html) == ["c-1", "c-2"]
        row = html[html.index('data-call="c-1"') : html.index('data-call="c-2"')]
        assert 'href="/p/alpha/calls/c-1/?at=' in row
        assert 'href="/p/alpha/traces/tr-1/?at=' in row
        assert 'href="?session=conv-7"' in row and "turn 3" in row
        assert 'href="/p/alpha/experiments/shorter/"' in row
        assert 'href="?experiment=shorter&amp;variant=treatment"' in row
        assert 'href="?model=gpt-4o-mini"' in row
        assert 'href="?contract=pii"' in row

    def test_a_call_whose_violations_span_pages_is_on_one_page_only(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        # 70 calls, each violated three times far apart: minute i, i + 70 and i + 140.
        fill([violation(call_id=f"c-{i}", minutes_ago=i + 70 * k) for k in range(3) for i in range(70)])
        seen: list[str] = []
        query: dict[str, str] = {}
        while True:
            page = owner.get("/p/alpha/violations/", query).context["page"]
            seen += [c.call_id for c in page.calls]
            assert all(len(c.violations) == 3 for c in page.calls)
            if page.next_cursor is None:
                break
            query = {"cursor": page.next_cursor}
        # Each call once, where its newest violation puts it.
        assert seen == [f"c-{i}" for i in range(70)]

    def test_the_call_filter_shows_that_call(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill([violation(call_id="c-1"), violation(call_id="c-2")])
        page = owner.get("/p/alpha/violations/", {"call": "c-2"}).context["page"]
        assert [c.call_id for c in page.calls] == ["c-2"]

    def test_its_query_count_is_pinned_and_does_not_grow_with_the_data(
        self, owner: Client, cast: Cast, fill: Fill, django_assert_num_queries: DjangoAssertNumQueries
    ) -> None:
        services.contract_version_create(project=cast.project_a, name="Reply", source=REPLY)
        fill(
            [
                violation(call_id=f"c-{i}", contract="Reply.ensure[1]", contract_version=1, minutes_ago=i)
                for i in range(80)
            ]
            + [violation(call_id=f"c-{i}", contract="pii", minutes_ago=i) for i in range(80)]
        )
        # session, user, time zone preference, project, the header's project list, one scan
        # of violations, the verdicts of the page's calls, the clauses' versions, the defined
        # contracts.
        with django_assert_num_queries(9):
            response = owner.get("/p/alpha/violations/")
        page = response.context["page"]
        assert len(page.calls) == 50 and page.next_cursor
        # A later page also asks which of its calls were on an earlier one.
        with django_assert_num_queries(10):
            assert (
                len(owner.get("/p/alpha/violations/", {"cursor": page.next_cursor}).context["page"].calls)
                == 30
            )


class TestClausesAndLinks:
    def test_an_llmcl_clause_is_shown_by_its_source_text_and_line(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        services.contract_version_create(project=cast.project_a, name="Reply", source=REPLY)
        fill([violation(call_id="c-1", contract="Reply.ensure[2]", contract_version=1)])
        html = owner.get("/p/alpha/violations/").content.decode()
        assert '<a class="contract" href="/p/alpha/contracts/Reply/">Reply v1, line 3</a>' in html
        assert '<code class="clause" title="Reply.ensure[2]">ensure not pii(output)</code>' in html
        assert "Reply.ensure[2]</a>" not in html

    def test_the_call_page_lists_every_verdict_and_links_to_trace_session_and_arm(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        services.contract_version_create(project=cast.project_a, name="Reply", source=REPLY)
        common = {
            "call_id": "c-9",
            "session_id": "conv-1",
            "trace_id": "tr-9",
            "experiment": "e",
            "variant": "B",
        }
        fill(
            [
                violation(contract="Reply.ensure[1]", contract_version=1, **common),
                {"contract": "Reply.ensure[2]", "contract_version": 1, **common},
            ]
        )
        response = owner.get("/p/alpha/calls/c-9/")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('<a class="contract" href="/p/alpha/contracts/Reply/">') == 2
        assert "ensure len(output) &lt;= 200" in html and "ensure not pii(output)" in html
        # Links carry the row's time (dashboard.lib.hints).
        assert 'href="/p/alpha/traces/tr-9/?at=' in html
        assert 'href="/p/alpha/violations/?session=conv-1"' in html
        assert 'href="/p/alpha/experiments/e/"' in html
        assert owner.get("/p/alpha/calls/nope/").status_code == 404

    def test_an_outsider_cannot_open_a_call(self, client: Client, cast: Cast, fill: Fill) -> None:
        fill([violation(call_id="c-1")])
        client.force_login(cast.outsider)
        assert client.get("/p/alpha/calls/c-1/").status_code == 404


class TestTraceLinks:
    def test_the_trace_page_links_its_call_conversation_model_and_experiment(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        from contracts_app.models import Trace

        fill([violation(call_id="c/1", session_id="conv 1", trace_id="tr/1", experiment="e", variant="B")])
        Trace.objects.create(
            project=cast.project_a,
            trace_id="tr/1",
            call_id="c/1",
            created_at=cast.project_a.created_at,
            model="gpt-4o",
        )
        html = owner.get("/p/alpha/violations/").content.decode()
        assert 'href="/p/alpha/traces/tr/1/?at=' in html and 'href="/p/alpha/calls/c/1/?at=' in html
        html = owner.get("/p/alpha/traces/tr/1/").content.decode()
        assert '<a class="call" href="/p/alpha/calls/c/1/?at=' in html
        assert 'href="/p/alpha/violations/?session=conv%201"' in html
        assert 'href="/p/alpha/violations/?model=gpt-4o"' in html
        assert 'href="/p/alpha/experiments/e/"' in html
        assert owner.get("/p/alpha/calls/c/1/").status_code == 200


class TestTraceSampleSetting:
    def test_the_trace_sample_rate_is_set_in_percent_and_pulled_by_the_sdks(
        self, owner: Client, cast: Cast
    ) -> None:
        url = "/p/alpha/settings/project/"
        base = {"retention_days": "30", "alert_webhook_url": ""}
        assert owner.post(url, {**base, "trace_sample_percent": "150"}).status_code == 400
        assert owner.post(url, {**base, "trace_sample_percent": "25"}).status_code == 302
        pulled = Client().get("/api/v1/breakpoints", headers={"X-API-Key": cast.key_a}).json()
        assert pulled["trace_sample_rate"] == 0.25
        # Left empty, the rate stays as it was.
        assert owner.post(url, base).status_code == 302
        cast.project_a.refresh_from_db()
        assert cast.project_a.trace_sample_rate == 0.25
        assert 'name="trace_sample_percent" value="25.0"' in owner.get("/p/alpha/settings/").content.decode()


class TestTraceClauses:
    def test_the_trace_page_shows_a_clause_by_its_source_text_and_line(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        from contracts_app.models import Trace

        services.contract_version_create(project=cast.project_a, name="Reply", source=REPLY)
        fill([violation(call_id="c-5", contract="Reply.ensure[2]", contract_version=1, trace_id="tr-5")])
        steps = [
            {"kind": "output_contract", "name": "Reply.ensure[2]", "data": {"is_valid": False}},
            {"kind": "output_contract", "name": "no_refunds", "data": {"is_valid": True}},
        ]
        Trace.objects.create(
            project=cast.project_a,
            trace_id="tr-5",
            call_id="c-5",
            created_at=cast.project_a.created_at,
            steps=steps,
        )
        html = owner.get("/p/alpha/traces/tr-5/").content.decode()
        assert (
            '<a class="contract" href="/p/alpha/contracts/Reply/"><strong>Reply v1, line 3</strong></a>'
            in html
        )
        assert '<code class="clause" title="Reply.ensure[2]">ensure not pii(output)</code>' in html
        assert 'href="/p/alpha/violations/?contract=no_refunds"><strong>no_refunds</strong>' in html
