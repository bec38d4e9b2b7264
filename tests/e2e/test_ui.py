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

from llm_contracts import FunctionContract
from llm_contracts.testing import FakeLLM
from telemetry import services as telemetry_services
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
# The dashboard's own pages fit a phone's width: wide tables scroll inside themselves.
FITS_390 = {"overview", "violations", "health", "settings", "new-project", "time-zone", "not-found"}


def test_every_main_page_at_1440_and_390_px(page: Page, cast: Cast) -> None:
    now = timezone.now()
    events = [
        make_event(
            timestamp=(now - timedelta(minutes=m)).isoformat(),
            is_valid=m % 2 == 0,
            outcome="passed" if m % 2 == 0 else "violated",
        )
        for m in range(1, 6)
    ]
    telemetry_services.event_ingest_batch(project=cast.project_a, events=events)
    telemetry_services.rollups_aggregate()
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for name, url in MAIN_PAGES:
            page.goto(url)
            expect(page.locator("main h1").first).to_be_visible()
            if width == 390 and name in FITS_390:
                overflow = page.evaluate("() => document.documentElement.scrollWidth")
                assert overflow <= width, f"{name} is {overflow} px wide at {width} px"
            page.screenshot(path=str(ARTIFACTS / f"page-{name}-{width}.png"), full_page=True)
    # Keyboard users see where they are: the focused link has an outline.
    page.goto("/p/alpha/")
    page.keyboard.press("Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
