"""In the browser: logging in, the overview's charts, a violation and its trace, escaping."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from llm_contracts import ContractViolationError, FunctionContract
from llm_contracts.testing import FakeLLM
from telemetry import services as telemetry_services
from tests.server.conftest import Cast, make_event

from .conftest import Shot, chart_kept, chart_zoom_and_hide, expect_value, reporting_client

pytestmark = pytest.mark.e2e


def no_refunds(text: str) -> bool | str:
    return f"promised a refund: {text}" if "refund" in text.lower() else True


def no_markup(text: str) -> bool | str:
    # The message quotes the output, so the payload reaches every place a message is shown.
    return f"markup in the answer: {text}" if "<" in text else True


def report_violation(
    live_server_url: str, cast: Cast, prompt: str, answer: str, check: Callable[[str], bool | str]
) -> None:
    """Make one call whose answer fails ``check`` and deliver its events and trace to the server."""
    fake = FakeLLM()
    fake.reply(answer)
    contract = FunctionContract(check, name=check.__name__)
    with reporting_client(live_server_url, cast.key_a, fake, contract, upload_traces="violations") as (
        client,
        reporter,
    ):
        with pytest.raises(ContractViolationError):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
            )
        assert reporter.flush(timeout=10)
        assert reporter.stats()["traces_sent"] == 1


class TestLogin:
    def test_it_logs_a_user_in_with_the_form_and_opens_their_project(
        self, anonymous_page: Page, cast: Cast, shot: Shot
    ) -> None:
        page = anonymous_page
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
        shot(page, "login")

        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not her password")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".login .error")).to_contain_text("enter a correct username and password")

        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("password")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/$"))
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.locator(".topbar .who")).to_have_text("alice")
        shot(page, "logged-in")


FAILING_BY_MINUTE = {6: 1, 5: 0, 4: 2, 3: 0, 2: 3, 1: 1}


class TestOverview:
    def test_it_draws_the_charts_from_the_rollups(self, page: Page, cast: Cast, shot: Shot) -> None:
        now = timezone.now()
        events = []
        for minute in range(1, 7):
            at = (now - timedelta(minutes=minute)).isoformat()
            # json_format fails 1, 0, 2, 0, 3, 1 times of 4, oldest minute first: no three
            # points in a row are in line, so Plotly keeps every corner. 7 of 48 fail.
            failing = FAILING_BY_MINUTE[minute]
            for i in range(4):
                events.append(make_event(timestamp=at, contract="no_pii", llm_latency_ms=180.0 + i))
                events.append(
                    make_event(
                        timestamp=at,
                        contract="json_format",
                        is_valid=i >= failing,
                        outcome="passed" if i >= failing else "violated",
                        message="" if i >= failing else "not JSON",
                    )
                )
        assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).accepted == 48
        telemetry_services.rollups_aggregate()

        page.goto("/p/alpha/?range=1h")
        numbers = page.locator("dl.numbers")
        expect(numbers.locator(".number", has_text="Validations").first.locator("dd")).to_have_text("48")
        expect(numbers.locator(".number", has_text="Violation rate").locator("dd")).to_have_text("14.58%")

        # The violation rate: one line for all contracts and one per contract, through the
        # six minutes with data. Plotly merges the points of a straight run (no_pii never
        # fails, a flat line), but keeps each corner of the lines that go up and down.
        rate = page.locator("#chart-violation-rate")
        expect(rate.locator(".main-svg").first).to_be_visible()
        expect(rate.locator(".scatterlayer .trace")).to_have_count(3)
        expect(rate.locator(".legendtext")).to_have_text(["all contracts", "json_format", "no_pii"])
        lines = rate.locator(".scatterlayer .trace path.js-line")
        paths = lines.evaluate_all("paths => paths.map(p => p.getAttribute('d'))")
        corners = [d.count("L") for d in paths]
        assert corners[:2] == [5, 5] and corners[2] >= 1, paths

        # Validations per minute: a bar for each minute with events; latency: both series.
        bars = page.locator("#chart-validations .barlayer .point path")
        drawn = bars.evaluate_all("paths => paths.filter(p => p.getBBox().height > 0).length")
        assert drawn == 6
        expect(page.locator("#chart-latency .barlayer .trace")).to_have_count(2)
        expect(page.locator("table.top", has_text="Failing contracts")).to_contain_text("json_format")
        shot(page, "overview")

    def test_the_30_s_refresh_brings_new_figures_and_keeps_the_zoom_and_legend_choice(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        now = timezone.now()
        events = [
            make_event(
                timestamp=(now - timedelta(minutes=minute)).isoformat(),
                contract=contract,
                is_valid=minute % 3 != 0,
                outcome="passed" if minute % 3 != 0 else "violated",
            )
            for minute in range(1, 50)
            for contract in ("json_format", "no_pii")
        ]
        assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).accepted == 98
        telemetry_services.rollups_aggregate()

        # The page's own clock: the refresh is htmx's "every 30s" timer, run by moving time on.
        page.clock.install()
        page.goto("/p/alpha/?range=1h")
        validations = page.locator("dl.numbers .number", has_text="Validations").first.locator("dd")
        expect(validations).to_have_text("98")
        chart = page.locator("#chart-violation-rate")
        expect(chart.locator(".main-svg").first).to_be_visible()

        points = "el => el.data[0].y.filter(v => v !== null).length"
        before = chart.evaluate(points)
        zoomed = chart_zoom_and_hide(page, chart, "no_pii")

        # New events arrive; the refresh brings them.
        later = [make_event(timestamp=now.isoformat(), contract="json_format") for _ in range(2)]
        assert telemetry_services.event_ingest_batch(project=cast.project_a, events=later).accepted == 2
        telemetry_services.rollups_aggregate()
        page.clock.run_for(31_000)
        expect(validations).to_have_text("100")
        # The chart took the new figure (a point for the current minute) and kept what the
        # user chose.
        expect_value(lambda: chart.evaluate(points), before + 1)
        chart_kept(chart, zoomed, "no_pii")
        shot(page, "overview-refreshed-zoomed")


class TestViolationAndTrace:
    def test_from_a_violation_to_its_call_its_trace_and_its_conversation(
        self, page: Page, cast: Cast, live_server: Any, shot: Shot
    ) -> None:
        fake = FakeLLM()
        contract = FunctionContract(no_refunds, name="no_refunds")
        # The default upload: no breakpoint, no option; the call has a violation.
        with reporting_client(live_server.url, cast.key_a, fake, contract) as (client, reporter):
            with client.conversation("support-42"):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
                )
                fake.reply("Sure, we refund everything within 30 days.")
                with pytest.raises(ContractViolationError):
                    client.chat.completions.create(
                        model="gpt-4o-mini",
                        messages=[{"role": "user", "content": "Can I get my money back?"}],
                    )
            assert reporter.flush(timeout=10)
            assert reporter.stats()["traces_sent"] == 1

        page.goto("/p/alpha/violations/")
        rows = page.locator("table.calls tbody tr")
        expect(rows).to_have_count(1)
        row = rows.first
        expect(row.locator(".message")).to_contain_text("promised a refund: Sure, we refund everything")
        expect(row.locator("a.session")).to_have_text("support-42")
        shot(page, "explorer")

        row.locator("a.call").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/calls/\w+/\?at=[0-9T:.Z-]+$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Call")
        verdict = page.locator("#verdicts tbody tr", has_text="no_refunds")
        expect(verdict).to_contain_text("violated")
        expect(page.locator("#call-facts")).to_contain_text("support-42")
        shot(page, "call")

        page.get_by_role("link", name="Open the trace").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/traces/\w+/\?at=[0-9T:.Z-]+$"))
        steps = page.locator("ol.lc-steps > li")
        expect(steps.first).to_have_class(re.compile(r"\brequest\b"))
        expect(steps.first).to_contain_text("Can I get my money back?")
        expect(page.locator("li.model_call pre.lc-output")).to_have_text(
            "Sure, we refund everything within 30 days."
        )
        failed = page.locator("li.output_contract", has_text="no_refunds")
        expect(failed.locator(".lc-badge")).to_have_text("failed")
        expect(steps.last).to_contain_text("violated")
        bars = page.locator(".lc-chart .barlayer .point")
        expect(bars).to_have_count(steps.count())
        shot(page, "trace")

        # The conversation: the explorer filtered by its session.
        page.locator("dl.lc-facts a.session").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/violations/\?session=support-42$"))
        expect(page.locator("table.calls tbody tr")).to_have_count(1)
        expect(page.locator("input[name=session]")).to_have_value("support-42")
        shot(page, "conversation")


SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'


class TestEscaping:
    def test_model_text_with_markup_is_shown_as_text_and_runs_nothing(
        self, page: Page, cast: Cast, live_server: Any, shot: Shot
    ) -> None:
        answer = f"Here you go: {SCRIPT}{IMG}"
        report_violation(live_server.url, cast, f"Say {SCRIPT}", answer, no_markup)

        def assert_inert(where: str) -> None:
            # The page is loaded (goto and click wait for "load"), so a broken image's
            # onerror would have run by now.
            assert page.evaluate("typeof window.__xss") == "undefined", f"a payload ran in {where}"
            assert page.locator('img[src="x"]').count() == 0, f"the payload's <img> is an element in {where}"

        page.goto("/p/alpha/violations/")
        message = page.locator("table.events .message")
        expect(message).to_contain_text(f"markup in the answer: Here you go: {SCRIPT}{IMG}")
        assert_inert("the explorer")
        shot(page, "explorer")

        page.locator("table.events a.event").first.click()
        expect(page.locator("dd.message")).to_contain_text(SCRIPT + IMG)
        expect(page.locator("pre.excerpt").first).to_have_text(f"Say {SCRIPT}")
        expect(page.locator("pre.excerpt").nth(1)).to_have_text(answer)
        assert_inert("the event page")
        shot(page, "event")

        page.get_by_role("link", name="Open the trace").click()
        expect(page.locator("li.model_call pre.lc-output")).to_have_text(answer)
        expect(page.locator("li.output_contract p.lc-message")).to_contain_text(SCRIPT + IMG)
        expect(page.locator("li.request pre.lc-code")).to_contain_text(SCRIPT)
        # The timeline's hover box renders a subset of HTML: the message must come out as text.
        bar = page.locator(".lc-chart .barlayer .point").nth(2).bounding_box()
        assert bar is not None
        page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
        expect(page.locator(".lc-chart .hoverlayer .hovertext")).to_contain_text(SCRIPT)
        assert_inert("the trace view")
        shot(page, "trace")
