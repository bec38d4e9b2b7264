"""In the browser: one time zone, a project made from the UI, and every main page at two widths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from contracts_app import services
from contracts_app.models import Trace
from llm_contracts import ContractViolationError, FunctionContract
from llm_contracts.testing import FakeLLM
from telemetry import services as telemetry_services
from telemetry.models import ValidationEvent
from tests.server.conftest import Cast, make_event

from .conftest import ARTIFACTS, TIMEOUT_MS, Shot, reporting_client

pytestmark = pytest.mark.e2e

ZONE = "Australia/Adelaide"  # UTC+09:30 or +10:30: no time of it reads like a UTC time


@pytest.fixture
def adelaide_page(browser: Browser, live_server: Any, cast: Cast) -> Iterator[Page]:
    """Return a page of a browser set to Australia/Adelaide, logged in as alice."""
    client = Client()
    client.force_login(cast.owner)
    context = browser.new_context(
        base_url=live_server.url, timezone_id=ZONE, viewport={"width": 1440, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def _minutes(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


class TestTimeZone:
    def test_the_overview_in_an_adelaide_browser_shows_the_headers_times(
        self, adelaide_page: Page, cast: Cast, shot: Shot
    ) -> None:
        page = adelaide_page
        now = timezone.now()
        events = [make_event(timestamp=(now - timedelta(minutes=m)).isoformat()) for m in range(1, 4)]
        assert telemetry_services.event_ingest_batch(project=cast.project_a, events=events).accepted == 3
        telemetry_services.rollups_aggregate()

        page.goto("/p/alpha/?range=1h")
        # The first visit tells the server the browser's zone; the page is drawn in it.
        expect(page.locator("#header-tz-name")).to_have_text(ZONE)
        header = _minutes(page.locator("#header-clock").inner_text())
        # The browser's own clock, in its own zone ("sv-SE" writes 2025-03-04 17:30:00).
        browser_now = page.evaluate("() => new Date().toLocaleString('sv-SE').slice(0, 16)")
        assert abs(_minutes(browser_now) - header) <= timedelta(minutes=1)

        # The range line, the date inputs and the chart's last point are in the header's zone.
        line = page.locator("#overview-live > p.muted").inner_text()
        match = re.search(r"– (\d{4}-\d\d-\d\d \d\d:\d\d) " + re.escape(ZONE), line)
        assert match is not None, line
        assert abs(_minutes(match.group(1)) - header) <= timedelta(minutes=1)
        end_input = page.locator("input[name=end]").input_value().replace("T", " ")
        assert abs(_minutes(end_input) - header) <= timedelta(minutes=1)
        expect(page.locator("#chart-violation-rate .main-svg").first).to_be_visible()
        last_x = page.evaluate(
            "() => { const t = document.getElementById('chart-violation-rate').data[0];"
            " return t.x[t.x.length - 1]; }"
        )
        assert abs(_minutes(last_x[:16]) - header) <= timedelta(minutes=2)
        shot(page, "overview-adelaide")

    def test_a_chosen_zone_replaces_the_browsers_everywhere(self, adelaide_page: Page, cast: Cast) -> None:
        page = adelaide_page
        page.goto("/p/alpha/")
        expect(page.locator("#header-tz-name")).to_have_text(ZONE)
        page.locator("#header-time-zone").click()
        page.get_by_label("Time zone").select_option("America/New_York")
        page.get_by_role("button", name="Save").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/$"))
        expect(page.locator("#header-tz-name")).to_have_text("America/New_York")
        expect(page.locator("#overview-live > p.muted")).to_contain_text("America/New_York")


class TestProjects:
    def test_a_new_project_shows_the_snippet_that_sends_its_first_event(
        self, page: Page, cast: Cast, live_server: Any, shot: Shot
    ) -> None:
        page.goto("/p/alpha/")
        page.locator(".switcher summary").click()
        page.get_by_role("link", name="New project…").click()
        page.get_by_label("Project name").fill("Support bot")
        page.get_by_role("button", name="Create project").click()
        expect(page).to_have_url(re.compile(r"/p/support-bot/$"))
        snippet = page.locator("#onboarding pre.snippet")
        expect(snippet).to_contain_text("from llm_contracts import ContractOpenAI, Reporter")
        expect(snippet).to_contain_text(f'Reporter("{live_server.url}", "lck_')
        shot(page, "onboarding")

        # The snippet's key works: an SDK call reported with it fills the project.
        key = re.search(r'"(lck_[^"]+)"', snippet.inner_text())
        assert key is not None
        fake = FakeLLM(default='{"ok": true}')
        with reporting_client(live_server.url, key.group(1), fake, FunctionContract(lambda text: True)) as (
            client,
            reporter,
        ):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
            assert reporter.flush(timeout=5)
        telemetry_services.rollups_aggregate()
        page.reload()
        expect(page.locator("#onboarding")).to_have_count(0)
        expect(page.locator(".number", has_text="Validations").first.locator("dd")).to_have_text("1")
        # The switcher lists both projects.
        page.locator(".switcher summary").click()
        expect(page.locator(".switcher li a")).to_have_text(["Alpha", "Support bot", "New project…"])


MAIN_PAGES = [
    ("overview", "/p/alpha/"),
    ("violations", "/p/alpha/violations/"),
    ("health", "/p/alpha/health/"),
    ("settings", "/p/alpha/settings/"),
    ("contracts", "/p/alpha/contracts/"),
    ("contract-edit", "/p/alpha/contracts/new/"),
    ("breakpoints", "/p/alpha/breakpoints/"),
    ("experiments", "/p/alpha/experiments/"),
    ("new-project", "/projects/new/"),
    ("time-zone", "/timezone/"),
    ("not-found", "/p/nope/"),
]
# The pages one reaches from those, filled in by _fill (their ids are only known then).
DETAIL_PAGES = ["call", "trace", "trace-compare", "event", "contract", "breakpoint", "experiment"]

LONG_NAME = "SupportReplyForEnterpriseCustomersInTheEuropeanRegion"
SOURCE = """contract {name} {{
  ensure len(output) <= {limit}
}}
"""
# A long word (a URL, a JSON blob) has no place to wrap: the tables must cope with it.
LONG_MESSAGE = "promised a refund: " + "https://support.example.org/refunds/" + "x" * 120


def no_refunds(text: str) -> bool | str:
    return f"{LONG_MESSAGE} {text}" if "refund" in text.lower() else True


def _fill(cast: Cast, live_server_url: str) -> dict[str, str]:
    """Give every main page rows to show, wide ones included; return the detail pages' URLs."""
    from experiments import services as experiment_services

    now = timezone.now()
    events = [
        make_event(
            timestamp=(now - timedelta(minutes=m)).isoformat(),
            contract=LONG_NAME if m % 3 else "json_format",
            model="ft:gpt-4o-mini-2024-07-18:enterprise-support:replies-v7:9xYzAbCd",
            session_id=f"conversation-{m}-of-a-very-long-customer-session-identifier",
            is_valid=m % 2 == 0,
            outcome="passed" if m % 2 == 0 else "violated",
            message="" if m % 2 == 0 else LONG_MESSAGE,
        )
        for m in range(1, 6)
    ]
    telemetry_services.event_ingest_batch(project=cast.project_a, events=events)
    telemetry_services.rollups_aggregate()
    # A contract with a running version and a draft, a breakpoint on it, an experiment of both.
    v1 = services.contract_save(project=cast.project_a, source=SOURCE.format(name=LONG_NAME, limit=2000))
    services.contract_version_activate(contract_version=v1, actor=cast.owner)
    v2 = services.contract_save(
        project=cast.project_a, name=LONG_NAME, source=SOURCE.format(name=LONG_NAME, limit=500)
    )
    breakpoint_ = services.breakpoint_create(
        project=cast.project_a, contract="no_refunds", output_contains="refund", limit=5
    )
    actor = experiment_services.Actor.of_user(cast.owner)
    experiment = experiment_services.experiment_create(
        project=cast.project_a,
        key="shorter-replies-for-enterprise-customers",
        actor=actor,
        control=[v1.pk],
        treatment=[v2.pk],
        coverage=0.1,
    )
    experiment_services.experiment_start(experiment=experiment, actor=actor)
    # Two calls of a conversation that an SDK reports with their traces, both captured.
    fake = FakeLLM()
    contract = FunctionContract(no_refunds, name="no_refunds")
    with reporting_client(live_server_url, cast.key_a, fake, contract) as (client, reporter):
        assert reporter.sync.wait_loaded(timeout=10)
        with client.conversation("support-42-" + "z" * 60):
            for answer in ("Sure, we refund everything.", "Yes, a full refund: " + "y" * 200):
                fake.reply(answer)
                with pytest.raises(ContractViolationError):
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "My money back?"}]
                    )
        assert reporter.flush(timeout=10)
        assert reporter.stats()["traces_sent"] == 2
    traces = list(Trace.objects.filter(project=cast.project_a).order_by("created_at"))
    event = ValidationEvent.objects.filter(project=cast.project_a, trace_id=traces[0].trace_id).first()
    assert event is not None
    return {
        "call": f"/p/alpha/calls/{traces[0].call_id}/",
        "trace": f"/p/alpha/traces/{traces[1].trace_id}/",
        "trace-compare": f"/p/alpha/traces/compare/?t={traces[0].trace_id}&t={traces[1].trace_id}",
        "event": f"/p/alpha/events/{event.pk}/",
        "contract": f"/p/alpha/contracts/{LONG_NAME}/",
        "breakpoint": f"/p/alpha/breakpoints/{breakpoint_.pk}/",
        "experiment": f"/p/alpha/experiments/{experiment.key}/",
    }


# Where a page or one of its tables reaches past the viewport's right edge. A table wider
# than a phone scrolls inside itself (overflow-x), so its own box still fits.
OVERFLOW = """(width) => {
    const out = [];
    if (document.documentElement.scrollWidth > width) {
        out.push(`the page is ${document.documentElement.scrollWidth} px wide`);
    }
    for (const table of document.querySelectorAll("main table")) {
        const box = table.getBoundingClientRect();
        if (box.width === 0) continue;
        if (box.left < -1 || box.right > width + 1) {
            out.push(`table ${table.id || table.className || "(unnamed)"} spans ${box.left}..${box.right}`);
        }
        const style = getComputedStyle(table);
        if (table.scrollWidth > table.clientWidth + 1 && !["auto", "scroll"].includes(style.overflowX)) {
            out.push(`table ${table.id || table.className} is cut off`);
        }
    }
    return out;
}"""


# For the failure message: the outermost elements that reach past the right edge.
WIDEST = """(width) => {
    const out = [];
    for (const el of document.querySelectorAll("main *")) {
        const parent = el.parentElement;
        if (el.getBoundingClientRect().right > width + 1
            && !(parent && parent.getBoundingClientRect().right > width + 1)) {
            out.push(`${el.tagName.toLowerCase()}.${el.className}`);
        }
    }
    return out.slice(0, 10);
}"""


def test_every_main_page_at_1440_and_390_px(page: Page, cast: Cast, live_server: Any) -> None:
    details = _fill(cast, live_server.url)
    pages = [*MAIN_PAGES, *((name, details[name]) for name in DETAIL_PAGES)]
    ARTIFACTS.mkdir(exist_ok=True)
    problems: dict[str, list[str]] = {}
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for name, url in pages:
            page.goto(url)
            expect(page.locator("main h1").first).to_be_visible()
            if name not in ("not-found", "new-project", "time-zone", "contract-edit"):
                # The filled pages show what _fill stored, not an empty state.
                rows = page.locator("main table tbody tr, main ol.lc-steps > li, main dl.fields dd")
                assert rows.count() > 0, f"{name} shows no rows"
            if width == 390:
                found = page.evaluate(OVERFLOW, width)
                if found:
                    problems[name] = [*found, *page.evaluate(WIDEST, width)]
            page.screenshot(path=str(ARTIFACTS / f"page-{name}-{width}.png"), full_page=True)
    assert problems == {}, f"at 390 px: {problems}"
    # Keyboard users see where they are: the focused link has an outline.
    page.goto("/p/alpha/")
    page.keyboard.press("Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
