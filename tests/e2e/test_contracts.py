"""In the browser: the LLMCL editor's live checks and saving, and breakpoints the SDK hits."""

from __future__ import annotations

import os
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from contracts_app import services
from dashboard import celery_app
from llm_contracts import ContractViolationError, FunctionContract
from llm_contracts.testing import FakeLLM
from tests.server.conftest import Cast

from .conftest import Shot, editor_fill, reporting_client

pytestmark = pytest.mark.e2e

VERSION_1 = """contract Reply {
  description "Answers stay short"
  ensure len(output) <= 2000
}
"""
# Line 4 names a value that does not exist: the compiler points at it.
BROKEN = """contract Reply {
  description "Answers stay short and private"
  ensure len(output) <= 500
  ensure not pii(outptu)
}
"""
FIXED = BROKEN.replace("outptu", "output")


class TestEditor:
    def test_it_shows_an_error_under_its_line_as_one_types_and_saves_the_fix_as_version_2(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        services.contract_save(project=cast.project_a, source=VERSION_1, author=cast.owner)
        page.goto("/p/alpha/contracts/Reply/edit/")
        expect(page.get_by_text("LLMCL source (saved as version 2)")).to_be_visible()
        diagnostics = page.locator("#diagnostics")

        # Typing (debounced) posts the draft; the listing comes back with the error under
        # line 4 and nowhere else.
        editor_fill(page, BROKEN)
        errors = diagnostics.locator(".lc-diag")
        expect(errors).to_have_count(1)
        line = diagnostics.locator("li.has-error")
        expect(line).to_have_attribute("data-line", "4")
        expect(line.locator("> code")).to_have_text("  ensure not pii(outptu)")
        expect(line.locator(".lc-diag .where")).to_have_text("4:24")
        expect(line.locator(".lc-diag .message")).to_have_text("unexpected ')'; expected '('")
        expect(line.locator(".lc-hint")).to_contain_text("'outptu' is not a value")
        # (to_have_text would collapse the caret's leading spaces.)
        assert line.locator(".caret").text_content() == " " * 23 + "^"
        # Drawn between line 4 and line 5, as one reads it.
        boxes = [
            line.locator("> code").bounding_box(),
            line.locator(".lc-diag").bounding_box(),
            diagnostics.locator('li[data-line="5"]').bounding_box(),
        ]
        tops = [box["y"] for box in boxes if box is not None]
        assert len(tops) == 3 and tops == sorted(tops), boxes
        expect(diagnostics.locator(".lc-status.bad")).to_have_text("1 error.")
        shot(page, "error")

        # Only a version that compiles is saved.
        page.get_by_role("button", name="Save as a new version").click()
        expect(page.locator("#diagnostics .lc-status.bad")).to_have_text(
            "1 error: the version was not saved."
        )
        expect(page.locator("#diagnostics li.has-error")).to_have_attribute("data-line", "4")
        shot(page, "not-saved")

        editor_fill(page, FIXED)
        expect(page.locator("#diagnostics .lc-status.ok")).to_have_text("Compiles.")
        expect(page.locator("#diagnostics .lc-diag")).to_have_count(0)
        shot(page, "fixed")

        page.get_by_role("button", name="Save as a new version").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/contracts/Reply/$"))
        expect(page.locator(".messages")).to_contain_text("Saved Reply version 2 as a draft")
        versions = page.locator("#versions tbody tr")
        expect(versions).to_have_count(2)
        expect(versions.first).to_contain_text("v2 draft")
        expect(versions.first).to_contain_text("alice")
        expect(page.locator("#diff")).to_contain_text("ensure not pii(output)")
        expect(page.locator("pre.lc-code")).to_have_text(FIXED.rstrip("\n"))
        shot(page, "version-2")


def pulled(live_server: Any, key: str) -> list[tuple[str, int]]:
    """Return (name, version) of each contract an SDK pulls now."""
    answer = httpx.get(f"{live_server.url}/api/v1/contracts", headers={"X-API-Key": key})
    return [(c["name"], c["version"]) for c in answer.json()["contracts"]]


class TestDeploys:
    def test_a_saved_version_is_a_draft_until_its_activation_is_confirmed(
        self, page: Page, cast: Cast, live_server: Any, shot: Shot
    ) -> None:
        first = services.contract_save(project=cast.project_a, source=VERSION_1, author=cast.owner)
        services.contract_version_activate(contract_version=first, actor=cast.owner)
        page.goto("/p/alpha/contracts/Reply/edit/")
        editor_fill(page, FIXED)
        page.get_by_role("button", name="Save as a new version").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/contracts/Reply/$"))
        expect(page.locator("#running")).to_have_text("v1 runs")
        expect(page.locator("#versions tbody tr").first).to_contain_text("v2 draft")
        assert pulled(live_server, cast.key_a) == [("Reply", 1)]
        shot(page, "draft")

        page.get_by_role("link", name="Activate v2…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Activate Reply v2?")
        expect(page.locator("#impact")).to_contain_text("v1")
        expect(page.locator("#calls-per-hour")).to_have_text("0.0")
        expect(page.locator("#diff tr.insert", has_text="ensure not pii(output)")).to_have_count(1)
        expect(page.locator("#diff tr.delete", has_text="ensure len(output) <= 2000")).to_have_count(1)
        # Looking is not deploying.
        assert pulled(live_server, cast.key_a) == [("Reply", 1)]
        shot(page, "confirm")
        page.get_by_label("Why").fill("shorter answers")
        page.get_by_role("button", name="Activate v2").click()

        expect(page).to_have_url(re.compile(r"/p/alpha/contracts/Reply/$"))
        expect(page.locator(".messages")).to_contain_text("Activated Reply v2")
        expect(page.locator("#running")).to_have_text("v2 runs")
        expect(page.locator("#audit tbody tr").first).to_contain_text("activated v2 (was v1)")
        expect(page.locator("#audit tbody tr").first).to_contain_text("shorter answers")
        assert pulled(live_server, cast.key_a) == [("Reply", 2)]
        shot(page, "activated")

    def test_new_contract_with_a_name_in_use_is_refused_with_a_link_to_it(
        self, page: Page, cast: Cast, live_server: Any, shot: Shot
    ) -> None:
        first = services.contract_save(project=cast.project_a, source=VERSION_1, author=cast.owner)
        services.contract_version_activate(contract_version=first, actor=cast.owner)
        page.goto("/p/alpha/contracts/new/")
        editor_fill(page, FIXED)
        page.get_by_role("button", name="Save as a new version").click()
        refusal = page.locator("#refusal")
        expect(refusal).to_contain_text("a contract named Reply exists already")
        # What was typed stays.
        expect(page.locator("textarea#source")).to_have_value(FIXED)
        shot(page, "name-taken")
        refusal.get_by_role("link", name="Open Reply").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/contracts/Reply/$"))
        expect(page.locator("#versions tbody tr")).to_have_count(1)
        assert pulled(live_server, cast.key_a) == [("Reply", 1)]


def no_refunds(text: str) -> bool | str:
    return f"promised a refund: {text}" if "refund" in text.lower() else True


class TestBreakpoints:
    def test_a_breakpoint_made_on_the_page_captures_the_trace_of_a_matching_sdk_call(
        self, page: Page, cast: Cast, live_server: Any, shot: Shot
    ) -> None:
        fake = FakeLLM(default="Happy to help.")
        contract = FunctionContract(no_refunds, name="no_refunds")
        # The app runs before the breakpoint exists: its first pull finds none.
        with reporting_client(live_server.url, cast.key_a, fake, contract) as (client, reporter):
            assert reporter.sync.wait_loaded(timeout=10)
            assert list(reporter.sync.breakpoints) == []

            page.goto("/p/alpha/breakpoints/")
            expect(page.locator("#breakpoints")).to_contain_text("No breakpoints.")
            form = page.locator("form.lc-card")
            form.get_by_label("Contract").fill("no_refunds")
            form.get_by_label("Output contains").fill("refund")
            form.get_by_label("Capture at most").fill("1")
            form.get_by_role("button", name="Create").click()
            expect(page.locator(".messages")).to_contain_text(re.compile(r"Breakpoint \d+ is armed\."))
            row = page.locator("#breakpoints tbody tr")
            expect(row).to_have_count(1)
            expect(row.locator(".lc-badge")).to_have_text("armed")
            breakpoint_id = int(row.locator("td").first.inner_text())
            shot(page, "armed")

            # Pull now rather than at the next poll, an hour away.
            reporter.sync.poll_once()
            assert [bp.id for bp in reporter.sync.breakpoints] == [breakpoint_id]

            # A call that holds is not captured; one that fails with "refund" in the output is.
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            fake.reply("Sure, we refund everything.")
            with pytest.raises(ContractViolationError):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "My money back?"}]
                )
            assert reporter.flush(timeout=10)
            assert reporter.stats()["traces_sent"] == 1

        page.get_by_role("link", name=str(breakpoint_id), exact=True).click()
        expect(page).to_have_url(re.compile(rf"/p/alpha/breakpoints/{breakpoint_id}/$"))
        expect(page.locator("main")).to_contain_text("1 hit of at most 1, 10 a minute at most.")
        # The limit is reached: the breakpoint disarmed itself.
        expect(page.get_by_role("heading", level=1).locator(".lc-badge")).to_have_text("spent")
        captured = page.locator("#captured tbody tr")
        expect(captured).to_have_count(1)
        expect(captured).to_contain_text("violated")
        expect(captured).to_contain_text("gpt-4o-mini")
        shot(page, "captured")

        captured.locator("a[href*='/traces/']").click()
        expect(page).to_have_url(re.compile(r"/p/alpha/traces/\w+/\?at=[0-9T:.Z-]+$"))
        expect(page.locator("dl.lc-facts")).to_contain_text(f"breakpoint {breakpoint_id}")
        expect(page.locator("li.request")).to_contain_text("My money back?")
        expect(page.locator("li.model_call pre.lc-output")).to_have_text("Sure, we refund everything.")
        expect(page.locator("li.output_contract", has_text="no_refunds").locator(".lc-badge")).to_have_text(
            "failed"
        )
        expect(page.locator(".lc-chart .main-svg").first).to_be_visible()
        shot(page, "trace")


class TestProfile:
    @pytest.mark.skipif(
        not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
        reason="needs CELERY_BROKER_URL pointing at Redis",
    )
    def test_a_version_is_profiled_by_a_worker_and_the_page_shows_the_result_when_it_lands(
        self, page: Page, cast: Cast, shot: Shot
    ) -> None:
        from celery.contrib.testing.worker import start_worker

        services.contract_save(project=cast.project_a, source=FIXED, author=cast.owner)
        page.goto("/p/alpha/contracts/Reply/")
        page.get_by_role("link", name="Profile v1").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Profile Reply v1")
        expect(page.locator("#profile-result")).to_contain_text("Not profiled yet")
        page.get_by_label("Cases").fill("Fine answer.\n" + '{"output": "Mail me at jane@example.com"}')
        page.get_by_label("Runs").fill("4")
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            page.get_by_role("button", name="Profile v1").click()
            expect(page.locator(".messages")).to_contain_text("Profiling Reply v1")
            # The page polls until the worker has stored the measurements.
            expect(page.locator("#profile-state")).to_contain_text("Done: 2 cases × 4 runs", timeout=30_000)
        expect(page.locator("#profile-table tbody tr")).to_have_count(2)
        expect(page.locator('#profile-table tr[data-check="Reply.ensure[2]"] td').last).to_have_text("4")
        shot(page, "profiled")
