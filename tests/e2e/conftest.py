"""Browser tests: Playwright's sync API drives Debian's Chromium against pytest-django's live server.

One browser serves every test of this folder; each test gets a fresh context (cookies,
storage) and page. Screenshots of the pages land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from llm_contracts import ContractOpenAI, FunctionContract
from llm_contracts.reporting import Reporter
from llm_contracts.testing import FakeLLM
from tests.server import conftest as server_conftest
from tests.server.conftest import Cast

# The server tests' cast, reused as is: alice owns Alpha, bob views it, charlie owns Bravo
# (with live_server in the test, pytest-django gives its ``db`` real transactions).
cast = server_conftest.cast

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# A failing step fails within seconds instead of hanging the suite.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Launch Chromium once for every browser test (skipped where it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (.ci/run installs it with apt-get)")
    # Playwright's sync API runs its event loop in this thread and, between calls, leaves
    # it marked as running (playwright/_impl/_greenlets.py: wait_for_future). Django sees
    # a running loop and refuses every ORM call from this thread (SynchronousOnlyOperation):
    # the test's own setup, pytest-django's flush, the services the tests call. Nothing here
    # is async: the loop only carries Playwright's messages, and the ORM runs synchronously
    # between them. So the check is lifted for exactly as long as Playwright lives, and
    # restored with it; driving the browser from another thread instead would mean
    # marshalling every page call across threads. The package scope ends the browser (and
    # the loop) before other folders' tests run, so pytest-asyncio never sees this loop.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        try:
            # launch() gives the browser a fresh, throw-away user-data directory.
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
        finally:
            playwright.stop()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # The cast's three users cost a second and a half with the default hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _new_page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Chromium reports what the Content-Security-Policy blocked on the console.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.csp_violations = blocked  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    # A script that threw (htmx, Plotly, the chart glue) breaks the page even when the
    # assertions happened to pass.
    assert errors == [], f"uncaught errors in the page: {errors}"
    # A blocked script, style or handler is a broken feature under the enforced policy.
    assert blocked == [], f"the Content-Security-Policy blocked: {blocked}"


@pytest.fixture
def anonymous_page(browser: Browser, live_server: Any) -> Iterator[Page]:
    """Return a page of a fresh browser context, not logged in."""
    yield from _new_page(browser, live_server.url)


@pytest.fixture
def page(browser: Browser, live_server: Any, cast: Cast) -> Iterator[Page]:
    """Return a page logged in as alice, the owner of project Alpha (slug "alpha")."""
    # The login form has its own test; the others start with alice's session cookie.
    client = Client()
    client.force_login(cast.owner)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    for page in _new_page(browser, live_server.url):
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        yield page


Shot = Callable[[Page, str], Path]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """Return a function that saves a full-page screenshot as test-artifacts/<test>-<step>.png."""
    test = re.sub(r"[^\w.-]+", "_", request.node.name)

    def save(page: Page, step: str) -> Path:
        path = ARTIFACTS / f"{test}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@contextmanager
def reporting_client(
    url: str, key: str, fake: FakeLLM, *contracts: FunctionContract, **kwargs: Any
) -> Iterator[tuple[ContractOpenAI, Reporter]]:
    """Yield a contracted client on ``fake`` whose real reporter sends to the server at ``url``."""
    # Pulls happen when the test asks (reporter.sync.poll_once()), not on a timer.
    reporter = Reporter(url, key, flush_interval=0.05, poll_interval=3600)
    client = ContractOpenAI(
        api_key="test",
        http_client=fake.http_client(),
        max_retries=0,
        contract_retries=0,
        reporter=reporter,
        output_contracts=list(contracts),
        **kwargs,
    )
    try:
        yield client, reporter
    finally:
        reporter.close(timeout=5)


def editor_fill(page: Page, text: str) -> None:
    """Replace the LLMCL editor's whole text with ``text``, as a paste over the selection does.

    Through the editor's own transaction (what its paste handler dispatches) rather than
    synthetic typing over a select-all: there Chromium's editing engine first wraps the new
    text in a span with a style attribute (to keep the look of the deleted text), which the
    policy blocks and CodeMirror redraws at once; harmless, but noise in these checks.
    """
    content = page.locator(".lc-editor .cm-content")
    content.click()
    page.evaluate(
        """(text) => {
            const view = document.querySelector("[data-llmcl-editor]").llmclView;
            view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text},
                           selection: {anchor: text.length}, userEvent: "input.paste"});
        }""",
        text,
    )


def expect_value(read: Callable[[], Any], expected: Any, timeout_s: float = 10.0) -> None:
    """Wait until ``read()`` returns ``expected`` (a chart's state settles a frame after the input)."""
    deadline = time.monotonic() + timeout_s
    while (value := read()) != expected:
        assert time.monotonic() < deadline, f"{value!r} != {expected!r}"
        time.sleep(0.05)


# What a Plotly chart element shows: its x range, and the lines hidden from its legend.
X_RANGE = "el => el._fullLayout.xaxis.range.slice()"
HIDDEN = "el => el.data.filter(t => t.visible === 'legendonly').map(t => t.name)"


def chart_zoom_and_hide(page: Page, chart: Locator, line: str) -> list[Any]:
    """Zoom ``chart`` in by dragging across its middle and hide ``line`` from its legend, as a user does.

    Return the zoomed x range.
    """
    expect(chart.locator(".main-svg").first).to_be_visible()
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first.bounding_box()
    assert area is not None
    y = area["y"] + area["height"] / 2
    page.mouse.move(area["x"] + area["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.5, y + 2, steps=5)
    page.mouse.move(area["x"] + area["width"] * 0.6, y + 2, steps=5)
    page.mouse.up()
    zoomed = chart.evaluate(X_RANGE)
    full = chart.evaluate("el => { const x = el.data[0].x; return [x[0], x[x.length - 1]]; }")
    assert full[0] < zoomed[0] < zoomed[1] < full[1], (zoomed, full)
    name = page.locator(".legendtext", has_text=re.compile(rf"^{re.escape(line)}$"))
    chart.locator(".legend .traces", has=name).locator(".legendtoggle").click()
    expect_value(lambda: chart.evaluate(HIDDEN), [line])
    return zoomed


def chart_kept(chart: Locator, zoomed: list[Any], line: str) -> None:
    """Assert that ``chart`` still shows the x range ``zoomed`` and still hides ``line``."""
    assert chart.evaluate(X_RANGE) == zoomed
    assert chart.evaluate("el => el._fullLayout.xaxis.autorange") is False
    assert chart.evaluate(HIDDEN) == [line]
