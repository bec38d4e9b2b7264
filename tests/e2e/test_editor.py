"""In the browser: the LLMCL code editor (CodeMirror) on the contract page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from contracts_app import services
from llm_contracts.llmcl import format_source
from tests.server.conftest import Cast

from .conftest import Shot, editor_fill

pytestmark = pytest.mark.e2e

VERSION_1 = """contract Reply {
  description "Answers stay short"
  ensure len(output) <= 2000
}
"""
# Line 4 calls pii on a misspelt value: the compiler points at column 24, the ')'.
BROKEN = """contract Reply {
  description "Answers stay short and private"
  ensure len(output) <= 500
  ensure not pii(outptu)
}
"""
MESSY = 'contract   Reply{\n  ensure    len(output)<=500\n    description "short"\n}\n'


def open_editor(page: Page, cast: Cast) -> None:
    services.contract_save(project=cast.project_a, source=VERSION_1, author=cast.owner)
    page.goto("/p/alpha/contracts/Reply/edit/")
    expect(page.locator(".lc-editor[data-ready=true]")).to_be_visible()


class TestEditor:
    def test_it_replaces_the_textarea_with_a_highlighted_editor_with_line_numbers(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        open_editor(page, cast)
        expect(page.locator("textarea#source")).to_be_hidden()
        expect(page.locator(".lc-editor .cm-lineNumbers .cm-gutterElement", has_text="4")).to_be_visible()
        # The TextMate grammar's rules colour the source: keywords, strings, numbers, calls.
        content = page.locator(".lc-editor .cm-content")
        expect(content.locator(".tok-keyword", has_text="contract")).to_have_count(1)
        expect(content.locator(".tok-keyword", has_text="description")).to_have_count(1)
        expect(content.locator(".tok-string")).to_have_text('"Answers stay short"')
        expect(content.locator(".tok-number")).to_have_text("2000")
        expect(content.locator(".tok-variableName2")).to_have_text("output")
        shot(page, "editor-1440")
        page.set_viewport_size({"width": 390, "height": 844})
        shot(page, "editor-390")

    def test_it_shows_the_servers_diagnostic_under_the_right_line_as_one_types(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        open_editor(page, cast)
        editor_fill(page, BROKEN)
        # The server's error at 4:24 is underlined in line 4, at the ')' it names.
        mark = page.locator(".lc-editor .cm-lintRange-error")
        expect(mark).to_have_count(1)
        expect(mark).to_have_text(")")
        line_4 = page.locator(".lc-editor .cm-line").nth(3)
        expect(line_4).to_have_text("  ensure not pii(outptu)")
        expect(line_4.locator(".cm-lintRange-error")).to_have_count(1)
        # ...with a marker in the gutter beside line 4, not beside another line.
        marker = page.locator(".lc-editor .cm-gutter-lint .cm-lint-marker-error")
        expect(marker).to_have_count(1)
        line_box, marker_box = line_4.bounding_box(), marker.bounding_box()
        assert line_box is not None and marker_box is not None
        middle = line_box["y"] + line_box["height"] / 2
        assert abs(middle - (marker_box["y"] + marker_box["height"] / 2)) < 4
        # Hovering the mark shows the server's message and hint.
        mark.hover()
        tooltip = page.locator(".cm-tooltip-lint")
        expect(tooltip).to_contain_text("unexpected ')'; expected '('")
        expect(tooltip).to_contain_text("'outptu' is not a value")
        shot(page, "diagnostic")

        # Fixing it clears the mark; the textarea the form submits follows the editor.
        editor_fill(page, BROKEN.replace("outptu", "output"))
        expect(page.locator("#diagnostics .lc-status.ok")).to_have_text("Compiles.")
        expect(mark).to_have_count(0)
        assert page.locator("textarea#source").input_value() == BROKEN.replace("outptu", "output")

    def test_format_lays_the_source_out_as_the_llmcl_formatter_does(self, page: Page, cast: Cast) -> None:
        open_editor(page, cast)
        editor_fill(page, MESSY)
        page.get_by_role("button", name="Format").click()
        expect(page.locator(".lc-editor-status")).to_have_text("Formatted.")
        assert page.locator("textarea#source").input_value() == format_source(MESSY)
        # The keyboard shortcut formats too; a source that does not parse is left as it is.
        editor_fill(page, "contract {")
        page.keyboard.press("Shift+Alt+F")
        expect(page.locator(".lc-editor-status")).to_contain_text("Not formatted")
        assert page.locator("textarea#source").input_value() == "contract {"

    def test_tab_indents_and_escape_then_tab_leaves_the_editor(self, page: Page, cast: Cast) -> None:
        open_editor(page, cast)
        editor_fill(page, "x")
        page.keyboard.press("Home")
        page.keyboard.press("Tab")
        content = page.locator(".lc-editor .cm-content")
        expect(content).to_be_focused()
        assert page.locator("textarea#source").input_value().startswith("  x")
        page.keyboard.press("Escape")
        page.keyboard.press("Tab")
        expect(content).not_to_be_focused()
        expect(page.get_by_role("button", name="Format")).to_be_focused()


def test_without_javascript_the_textarea_still_saves(
    browser: Browser, live_server: Any, cast: Cast, page: Page
) -> None:
    # The logged-in fixture's cookie, in a context that runs no script.
    cookies = page.context.cookies()
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        context.add_cookies(cookies)  # type: ignore[arg-type]
        plain = context.new_page()
        services.contract_save(project=cast.project_a, source=VERSION_1, author=cast.owner)
        plain.goto("/p/alpha/contracts/Reply/edit/")
        expect(plain.locator(".lc-editor")).to_be_hidden()
        textarea = plain.locator("textarea#source")
        expect(textarea).to_be_visible()
        textarea.fill(VERSION_1.replace("2000", "1500"))
        plain.get_by_role("button", name="Save as a new version").click()
        expect(plain.locator(".messages")).to_contain_text("Saved Reply version 2 as a draft")
    finally:
        context.close()
