"""In the browser: the Content-Security-Policy is enforced, and an invitation link makes a member."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership
from tests.server.conftest import Cast

from .conftest import Shot

pytestmark = pytest.mark.e2e


def test_the_pages_run_under_an_enforced_policy_that_blocks_inline_script(page: Page, cast: Cast) -> None:
    response = page.goto("/p/alpha/settings/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # The page's own scripts (htmx, the form helpers) come from static files and ran.
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.csp_violations == []  # type: ignore[attr-defined]

    # An injected inline script and an inline handler do not run, and the browser says why.
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.__inline = 1';
            document.head.appendChild(s);
            const b = document.createElement('button');
            b.setAttribute('onclick', 'window.__handler = 1');
            document.body.appendChild(b);
            b.click();
        }"""
    )
    assert page.evaluate("typeof window.__inline") == "undefined"
    assert page.evaluate("typeof window.__handler") == "undefined"
    expect_blocked = [m for m in page.csp_violations if "script-src" in m]  # type: ignore[attr-defined]
    assert len(expect_blocked) == 2, page.csp_violations  # type: ignore[attr-defined]
    # Those two were this test's own probes: the page itself caused none.
    page.csp_violations.clear()  # type: ignore[attr-defined]


def test_an_invitation_link_registers_a_new_person_into_the_project(
    page: Page, browser: Browser, live_server: Any, cast: Cast, shot: Shot
) -> None:
    page.goto("/p/alpha/settings/")
    invite = page.locator("form[action$='/settings/invitations/']")
    invite.get_by_label("Email").fill("erin@example.org")
    invite.get_by_label("Role").select_option("editor")
    invite.get_by_role("button", name="Invite").click()
    link = page.locator("code.invitation-link")
    expect(link).to_contain_text("/invitations/")
    shot(page, "invited")
    path = "/invitations/" + link.inner_text().split("/invitations/", 1)[1]

    context = browser.new_context(base_url=live_server.url)
    try:
        visitor = context.new_page()
        blocked: list[str] = []
        visitor.on("console", lambda m: blocked.append(m.text) if "Security Policy" in m.text else None)
        visitor.goto(path)
        expect(visitor.get_by_role("heading", name="Join Alpha")).to_be_visible()
        visitor.locator("input[name=username]").fill("erin")
        visitor.locator("input[name=password1]").fill("a-long-phrase-42")
        visitor.locator("input[name=password2]").fill("a-long-phrase-42")
        visitor.get_by_role("button", name="Create account and join").click()
        expect(visitor).to_have_url(f"{live_server.url}/p/alpha/")
        expect(visitor.locator(".messages")).to_contain_text("You joined Alpha")
        assert blocked == []
    finally:
        context.close()
    assert Membership.objects.get(project=cast.project_a, user__username="erin").role == "editor"
