"""The dashboard pages through the test client: access, fragments, CSV, query counts, escaping."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from accounts import services as account_services
from accounts.models import ApiKey, Invitation, Membership, Project
from telemetry import services as telemetry_services
from telemetry.models import AlertRule
from tests.server.conftest import Cast
from tests.server.dashboard.conftest import Fill

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="alert(2)">'

PAGES = ["/p/{slug}/", "/p/{slug}/violations/", "/p/{slug}/health/", "/p/{slug}/settings/"]
WRITES = [
    ("/p/{slug}/settings/keys/", {"name": "ci", "scopes": ["ingest", "read"]}),
    ("/p/{slug}/settings/project/", {"retention_days": "7", "alert_webhook_url": ""}),
    (
        "/p/{slug}/settings/alerts/",
        {
            "contract": "json_format",
            "metric": "violation_rate",
            "threshold": "20",
            "window_minutes": "5",
            "min_count": "10",
        },
    ),
    ("/p/{slug}/settings/invitations/", {"email": "charlie@example.org", "role": "viewer"}),
]


def violation(**overrides: object) -> dict[str, object]:
    return {"is_valid": False, "outcome": "violated", "message": "output is not JSON", **overrides}


@pytest.fixture
def owner(client: Client, cast: Cast) -> Client:
    client.force_login(cast.owner)
    return client


class TestAccess:
    @pytest.mark.parametrize("page", PAGES)
    def test_a_member_sees_their_project(self, client: Client, cast: Cast, page: str) -> None:
        client.force_login(cast.member)
        response = client.get(page.format(slug=cast.project_a.slug))
        assert response.status_code == 200
        assert b"Alpha" in response.content

    @pytest.mark.parametrize("page", PAGES)
    def test_an_outsider_gets_404(self, client: Client, cast: Cast, page: str) -> None:
        client.force_login(cast.outsider)
        assert client.get(page.format(slug=cast.project_a.slug)).status_code == 404

    @pytest.mark.parametrize("page", PAGES)
    def test_an_anonymous_visitor_is_sent_to_log_in(self, client: Client, cast: Cast, page: str) -> None:
        response = client.get(page.format(slug=cast.project_a.slug))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")

    def test_an_outsider_cannot_open_an_event_of_another_project(
        self, client: Client, cast: Cast, fill: Fill
    ) -> None:
        fill([violation()])
        event = cast.project_a.events.get()
        client.force_login(cast.outsider)
        assert client.get(f"/p/{cast.project_b.slug}/events/{event.pk}/").status_code == 404
        assert client.get(f"/p/{cast.project_a.slug}/events/{event.pk}/").status_code == 404

    @pytest.mark.parametrize(("url", "data"), WRITES)
    def test_a_viewer_cannot_post(self, client: Client, cast: Cast, url: str, data: dict[str, str]) -> None:
        client.force_login(cast.member)
        before = (ApiKey.objects.count(), AlertRule.objects.count(), Membership.objects.count())
        assert client.post(url.format(slug=cast.project_a.slug), data).status_code == 403
        assert (ApiKey.objects.count(), AlertRule.objects.count(), Membership.objects.count()) == before
        assert Project.objects.get(pk=cast.project_a.pk).retention_days == 30

    @pytest.mark.parametrize(("url", "data"), WRITES)
    def test_an_outsider_posting_gets_404(
        self, client: Client, cast: Cast, url: str, data: dict[str, str]
    ) -> None:
        client.force_login(cast.outsider)
        assert client.post(url.format(slug=cast.project_a.slug), data).status_code == 404

    def test_an_editor_cannot_manage_members(self, client: Client, cast: Cast) -> None:
        account_services.membership_set(project=cast.project_a, user=cast.member, role=Membership.Role.EDITOR)
        client.force_login(cast.member)
        response = client.post(
            f"/p/{cast.project_a.slug}/settings/invitations/", {"email": "c@example.org", "role": "owner"}
        )
        assert response.status_code == 403
        assert not Invitation.objects.exists()

    def test_home_sends_a_user_to_their_first_project(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.member)
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"] == f"/p/{cast.project_a.slug}/"

    def test_home_tells_a_user_without_projects_so(self, client: Client, cast: Cast) -> None:
        client.force_login(User.objects.create_user("dana", password="password"))
        response = client.get("/")
        assert response.status_code == 200
        assert b"not a member of any project" in response.content

    def test_the_login_page_logs_a_user_in(self, client: Client, cast: Cast) -> None:
        assert client.get("/login/").status_code == 200
        response = client.post("/login/", {"username": "alice", "password": "password"})
        assert response.status_code == 302
        assert client.get("/").status_code == 302


class TestOverview:
    def test_it_shows_rates_latency_and_tops_from_the_rollups(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        fill(
            [violation(model="gpt-4o", severity="critical", llm_latency_ms=900.0) for _ in range(3)]
            + [{"model": "gpt-4o-mini", "llm_latency_ms": 150.0} for _ in range(7)]
        )
        # Raw events are gone: the page must read the rollups alone.
        cast.project_a.events.all().delete()
        response = owner.get(f"/p/{cast.project_a.slug}/?range=1h")
        assert response.status_code == 200
        numbers = dict(response.context["numbers"])
        assert numbers["Validations"] == "10"
        assert numbers["Violation rate"] == "30.00%"
        overview = response.context["o"]
        assert overview.by_model[0] == ("gpt-4o", 3, 3)
        assert overview.by_severity[0] == ("critical", 3, 3)
        assert 100 <= overview.latency()["llm"]["p50"] <= 200
        assert 500 <= overview.latency()["llm"]["p95"] <= 1000
        assert b'id="chart-violation-rate-data" type="application/json"' in response.content

    def test_ranges_beyond_a_day_read_the_hour_rollups(self, owner: Client, cast: Cast, fill: Fill) -> None:
        # Minutes at the edges of the day, whole hours in between, and a day before.
        fill(
            [
                violation(minutes_ago=60 * 30),
                {"minutes_ago": 10},
                violation(minutes_ago=150),
                {"minutes_ago": 1430},
            ]
        )
        day = owner.get(f"/p/{cast.project_a.slug}/?range=24h").context["o"]
        week = owner.get(f"/p/{cast.project_a.slug}/?range=7d").context["o"]
        assert (day.count, day.violations, day.time_range.hourly) == (3, 1, False)
        assert sum(day.histogram) == sum(day.llm_histogram) == 3
        assert (week.count, week.violations, week.time_range.hourly) == (4, 2, True)

    def test_a_custom_range_is_read_from_start_and_end(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill([violation(minutes_ago=120)])
        start = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
        end = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        response = owner.get(f"/p/{cast.project_a.slug}/", {"range": "custom", "start": start, "end": end})
        assert response.context["o"].violations == 1

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"range": "2w"}, b"range must be one of 1h, 24h, 7d, 30d, custom"),
            ({"range": "custom"}, b"start is required"),
            ({"range": "custom", "start": "yesterday"}, b"start must be a date and time"),
            (
                {"range": "custom", "start": "2025-01-02T00:00", "end": "2025-01-01T00:00"},
                b"end must be later",
            ),
            ({"range": "custom", "start": "2024-01-01T00:00", "end": "2025-01-01T00:00"}, b"at most 90 days"),
        ],
    )
    def test_a_bad_range_is_refused_with_a_reason(
        self, owner: Client, cast: Cast, query: dict[str, str], message: bytes
    ) -> None:
        response = owner.get(f"/p/{cast.project_a.slug}/", query)
        assert response.status_code == 400
        assert message in response.content

    def test_htmx_refresh_returns_only_the_live_block(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill([violation()])
        response = owner.get(
            f"/p/{cast.project_a.slug}/?range=1h",
            headers={"HX-Request": "true", "HX-Target": "overview-live"},
        )
        body = response.content.decode()
        assert body.lstrip().startswith("{#") is False
        assert '<div id="overview-live"' in body
        assert 'hx-trigger="every 30s"' in body
        assert "<html" not in body

    def test_each_chart_is_available_as_csv(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill([violation(contract="=cmd()", minutes_ago=3), {"minutes_ago": 3}])
        base = f"/p/{cast.project_a.slug}/?range=1h&format=csv"
        rates = list(csv.reader(io.StringIO(owner.get(base + "&chart=violation_rate").content.decode())))
        assert rates[0] == ["bucket", "contract", "validations", "violations", "violation_rate"]
        total = [r for r in rates[1:] if r[1] == "*" and r[2] != "0"]
        assert [r[2:] for r in total] == [["2", "1", "0.5"]]
        # A contract name cannot smuggle a spreadsheet formula into the export.
        assert any(r[1] == "'=cmd()" for r in rates)
        volume = owner.get(base + "&chart=validations")
        assert volume["Content-Type"].startswith("text/csv")
        assert "attachment" in volume["Content-Disposition"]
        latency = list(csv.reader(io.StringIO(owner.get(base + "&chart=latency").content.decode())))
        assert latency[0] == ["latency", "quantile", "ms"]
        assert owner.get(base + "&chart=nope").status_code == 404

    def test_its_query_count_does_not_grow_with_the_data(
        self, owner: Client, cast: Cast, fill: Fill, django_assert_num_queries: DjangoAssertNumQueries
    ) -> None:
        fill([violation(contract=f"c{i}", model=f"m{i}", minutes_ago=i) for i in range(30)])
        # session, user, time zone preference, project, series, sums of whole hours and of
        # the minutes at the edges, model/severity breakdown, the header's project list.
        with django_assert_num_queries(9):
            assert owner.get(f"/p/{cast.project_a.slug}/?range=24h").status_code == 200
        with django_assert_num_queries(8):
            assert owner.get(f"/p/{cast.project_a.slug}/?range=30d").status_code == 200

    def test_contract_names_in_charts_are_escaped(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill([violation(contract=XSS_IMG)])
        body = owner.get(f"/p/{cast.project_a.slug}/?range=1h").content.decode()
        assert XSS_IMG not in body
        assert "onerror=" not in body.replace("onerror=&quot;", "").replace("onerror=\\u0026quot;", "")


class TestViolations:
    def test_it_lists_violations_only_newest_first(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill(
            [
                violation(message="older", minutes_ago=10),
                {"message": "passed"},
                violation(message="newer", minutes_ago=1),
            ]
        )
        events = owner.get(f"/p/{cast.project_a.slug}/violations/").context["page"].events
        assert [e.message for e in events] == ["newer", "older"]

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"contract": "pii"}, {"b"}),
            ({"version": "2"}, {"c"}),
            ({"severity": "critical"}, {"b"}),
            ({"model": "claude"}, {"c"}),
            ({"session": "s-1"}, {"a"}),
            ({"experiment": "exp", "variant": "B"}, {"c"}),
            ({"range": "1h"}, {"a", "b"}),
            ({"q": "schema"}, {"a"}),
        ],
    )
    def test_it_filters(
        self, owner: Client, cast: Cast, fill: Fill, query: dict[str, str], expected: set[str]
    ) -> None:
        fill(
            [
                violation(event_id="a", message="does not match the schema", session_id="s-1", minutes_ago=5),
                violation(
                    event_id="b",
                    contract="pii",
                    severity="critical",
                    message="an email address",
                    minutes_ago=6,
                ),
                violation(
                    event_id="c",
                    contract_version=2,
                    model="claude",
                    experiment="exp",
                    variant="B",
                    message="too long",
                    minutes_ago=300,
                ),
            ]
        )
        events = owner.get(f"/p/{cast.project_a.slug}/violations/", query).context["page"].events
        assert {e.event_id for e in events} == expected

    def test_keyset_pages_cover_every_violation_once(self, owner: Client, cast: Cast, fill: Fill) -> None:
        # Pairs share a timestamp, so the id must break ties between pages.
        fill([violation(minutes_ago=i // 2) for i in range(120)])
        seen: list[int] = []
        url = f"/p/{cast.project_a.slug}/violations/"
        query: dict[str, str] = {}
        while True:
            page = owner.get(url, query).context["page"]
            seen += [e.pk for e in page.events]
            if page.next_cursor is None:
                break
            query = {"cursor": page.next_cursor}
        assert len(seen) == 120 == len(set(seen))

    def test_a_tampered_cursor_is_refused(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill([violation(minutes_ago=i) for i in range(60)])
        cursor = owner.get(f"/p/{cast.project_a.slug}/violations/").context["page"].next_cursor
        response = owner.get(f"/p/{cast.project_a.slug}/violations/", {"cursor": cursor[:-3] + "abc"})
        assert response.status_code == 400
        assert b"cursor is not valid" in response.content

    def test_htmx_returns_only_the_table(self, owner: Client, cast: Cast, fill: Fill) -> None:
        fill([violation()])
        response = owner.get(
            f"/p/{cast.project_a.slug}/violations/",
            headers={"HX-Request": "true", "HX-Target": "violations-table"},
        )
        body = response.content.decode()
        assert body.startswith('<div id="violations-table">')
        assert "<html" not in body

    def test_its_query_count_does_not_grow_with_the_data(
        self, owner: Client, cast: Cast, fill: Fill, django_assert_num_queries: DjangoAssertNumQueries
    ) -> None:
        fill([violation(minutes_ago=i) for i in range(80)])
        # session, user, time zone preference, project, the header's project list, one scan of
        # violations, the verdicts of the page's calls, the names of the defined contracts.
        with django_assert_num_queries(8):
            response = owner.get(f"/p/{cast.project_a.slug}/violations/", {"severity": "error", "q": "JSON"})
        assert len(response.context["page"].events) == 50

    def test_model_output_is_escaped_in_the_explorer_and_the_event(
        self, owner: Client, cast: Cast, fill: Fill
    ) -> None:
        fill(
            [
                violation(
                    message=f"bad output {XSS_SCRIPT} {XSS_IMG}",
                    output_excerpt=f"{XSS_SCRIPT}{XSS_IMG}",
                    input_excerpt=XSS_IMG,
                    trace_id="tr-1",
                )
            ]
        )
        listing = owner.get(f"/p/{cast.project_a.slug}/violations/").content.decode()
        event = cast.project_a.events.get()
        detail = owner.get(f"/p/{cast.project_a.slug}/events/{event.pk}/").content.decode()
        for body in (listing, detail):
            assert XSS_SCRIPT not in body
            assert XSS_IMG not in body
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in detail
        assert f'href="/p/{cast.project_a.slug}/traces/tr-1/?at=' in detail


class TestHealth:
    def test_it_shows_the_fleet_and_the_rollup_lag(
        self, owner: Client, cast: Cast, post_events: object
    ) -> None:
        sdk = {
            "name": "llm-contracts",
            "version": "0.3.1",
            "instance_id": "i-1",
            "counters": {"dropped": 4, "breaker_skips": 2},
        }
        post_events(cast.key_a, [], sdk=sdk)  # type: ignore[operator]
        telemetry_services.rollups_aggregate(now=timezone.now() - timedelta(seconds=90))
        response = owner.get(f"/p/{cast.project_a.slug}/health/")
        fleet = response.context["fleet"]
        assert (fleet.dropped, fleet.breaker_skips, fleet.versions) == (4, 2, [("0.3.1", 1)])
        assert 89 <= fleet.rollup_lag.total_seconds() < 120
        assert b"i-1" in response.content

    def test_htmx_returns_only_the_fleet(self, owner: Client, cast: Cast) -> None:
        response = owner.get(
            f"/p/{cast.project_a.slug}/health/", headers={"HX-Request": "true", "HX-Target": "health-fleet"}
        )
        assert response.content.decode().startswith('<div id="health-fleet"')
        assert b"never aggregated" in response.content


class TestSettings:
    def test_a_new_key_is_shown_once_and_works(self, owner: Client, cast: Cast) -> None:
        response = owner.post(f"/p/{cast.project_a.slug}/settings/keys/", {"name": "ci", "scopes": "ingest"})
        assert response.status_code == 201
        raw = response.context["new_key"]
        assert raw.encode() in response.content
        assert account_services.api_key_authenticate(raw_key=raw) is not None
        assert raw.encode() not in owner.get(f"/p/{cast.project_a.slug}/settings/").content

    def test_htmx_key_creation_returns_the_keys_section(self, owner: Client, cast: Cast) -> None:
        response = owner.post(
            f"/p/{cast.project_a.slug}/settings/keys/",
            {"name": "ci", "scopes": ["ingest", "read"]},
            headers={"HX-Request": "true", "HX-Target": "api-keys"},
        )
        assert response.content.decode().startswith('<section id="api-keys">')

    def test_a_revoked_key_stops_working(self, owner: Client, cast: Cast) -> None:
        key = ApiKey.objects.get(project=cast.project_a)
        response = owner.post(f"/p/{cast.project_a.slug}/settings/keys/{key.pk}/revoke/")
        assert response.status_code == 302
        assert account_services.api_key_authenticate(raw_key=cast.key_a) is None

    def test_a_key_of_another_project_cannot_be_revoked(self, owner: Client, cast: Cast) -> None:
        key = ApiKey.objects.get(project=cast.project_b)
        assert owner.post(f"/p/{cast.project_a.slug}/settings/keys/{key.pk}/revoke/").status_code == 404
        assert account_services.api_key_authenticate(raw_key=cast.key_b) is not None

    def test_an_owner_changes_and_removes_a_member(self, owner: Client, cast: Cast) -> None:
        url = f"/p/{cast.project_a.slug}/settings/members/"
        membership = account_services.membership_set(
            project=cast.project_a, user=cast.outsider, role="editor"
        )
        assert owner.post(f"{url}{membership.pk}/", {"role": "viewer"}).status_code == 302
        assert Membership.objects.get(pk=membership.pk).role == "viewer"
        assert owner.post(f"{url}{membership.pk}/", {"remove": "1"}).status_code == 302
        assert not Membership.objects.filter(pk=membership.pk).exists()

    def test_the_last_owner_cannot_leave_or_be_demoted(self, owner: Client, cast: Cast) -> None:
        mine = Membership.objects.get(project=cast.project_a, user=cast.owner)
        url = f"/p/{cast.project_a.slug}/settings/members/{mine.pk}/"
        assert owner.post(url, {"remove": "1"}).status_code == 400
        response = owner.post(url, {"role": "viewer"})
        assert response.status_code == 400
        assert b"at least one owner" in response.content
        assert Membership.objects.get(pk=mine.pk).role == "owner"

    def test_retention_and_webhook_are_saved_and_checked(self, owner: Client, cast: Cast) -> None:
        url = f"/p/{cast.project_a.slug}/settings/project/"
        assert owner.post(url, {"retention_days": "0", "alert_webhook_url": ""}).status_code == 400
        assert owner.post(url, {"retention_days": "7", "alert_webhook_url": "not a url"}).status_code == 400
        # A public address (a host name would need DNS, which the tests do not have).
        response = owner.post(url, {"retention_days": "7", "alert_webhook_url": "https://93.184.216.34/x"})
        assert response.status_code == 302
        project = Project.objects.get(pk=cast.project_a.pk)
        assert (project.retention_days, project.alert_webhook_url) == (7, "https://93.184.216.34/x")

    def test_alert_thresholds_are_added_checked_and_deleted(self, owner: Client, cast: Cast) -> None:
        url = f"/p/{cast.project_a.slug}/settings/alerts/"
        rule = {
            "contract": "json_format",
            "metric": "violation_rate",
            "window_minutes": "5",
            "min_count": "10",
        }
        # Rates are typed in percent: 120 % is refused, and what was typed stays in the form.
        response = owner.post(url, {**rule, "threshold": "120"})
        assert response.status_code == 400
        assert b"percentage between 0 and 100" in response.content
        assert b'value="120"' in response.content
        assert owner.post(url, {**rule, "threshold": "20"}).status_code == 302
        created = AlertRule.objects.get(project=cast.project_a)
        assert created.threshold == 0.2
        assert "20%" in owner.get(f"/p/{cast.project_a.slug}/settings/").content.decode()
        assert owner.post(f"{url}{created.pk}/delete/").status_code == 302
        assert not AlertRule.objects.exists()

    def test_a_viewer_sees_settings_without_forms(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.member)
        body = client.get(f"/p/{cast.project_a.slug}/settings/").content.decode()
        assert "Create key" not in body
        assert "Add member" not in body
        assert "Events are kept 30 days" in body
