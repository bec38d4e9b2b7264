"""The contract page's profile of a saved version: asked on the page, measured by a bounded Celery job."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts import services as account_services
from contracts_app import services
from contracts_app.models import ContractVersion, VersionProfile
from dashboard import celery_app

from ..conftest import Cast
from .conftest import logged_in

HTMX = {"HX-Request": "true"}
URL = "/p/alpha/contracts/Reply/versions/2/profile/"
CASES = (
    "Your order ships on Monday.\n"
    '{"output": "Write to jane@example.com for a refund.", "input": "How do I get a refund?"}\n'
    "\n"
    '"' + "a long answer " * 40 + '"\n'
)


def rows(html: str) -> dict[str, list[str]]:
    """Return the profile table's cells by check name."""
    table = re.search(r'<table class="lc-table" id="profile-table">(.*?)</table>', html, re.S)
    assert table, html
    out = {}
    for check, inner in re.findall(r'<tr data-check="([^"]+)">(.*?)</tr>', table.group(1), re.S):
        out[check] = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", inner, re.S)
        ]
    return out


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class TestContractPage:
    def test_the_page_title_is_the_contracts_name_and_the_deploy_log_is_shown_once(
        self, viewer: Client, reply: list[ContractVersion]
    ) -> None:
        html = viewer.get("/p/alpha/contracts/Reply/").content.decode()
        assert re.search(r"<title>\s*Reply · Contracts · Alpha", html)
        assert html.count('id="audit"') == 1
        assert html.count('href="' + URL + '"') == 1 and "Profile v1" in html


class TestProfile:
    def test_an_editor_profiles_a_version_and_sees_each_check_measured(
        self,
        owner: Client,
        reply: list[ContractVersion],
        eager_tasks: None,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            answer = owner.post(URL, {"cases": CASES, "runs": "3"})
        assert answer.status_code == 302 and answer["Location"] == URL
        profile = VersionProfile.objects.get()
        assert profile.status == "done", profile.error
        assert (profile.case_count, profile.runs, profile.cases) == (3, 3, [])  # the texts are not kept
        html = owner.get(URL).content.decode()
        table = rows(html)
        # Reply v2: a length bound and a personal-data check, each judged 3 cases x 3 runs.
        assert set(table) == {"Reply.ensure[1]", "Reply.ensure[2]"}
        assert all(cells[3].startswith("9") for cells in table.values())
        assert all(float(cells[4]) > 0 for cells in table.values())
        # The length bound fails the long answer (3 runs) and the PII check the address (3 runs).
        assert table["Reply.ensure[1]"][-1] == "3" and table["Reply.ensure[2]"][-1] == "3"
        assert 'id="profile-state"' in html and "Done: 3 cases × 3 runs" in html
        assert "hx-trigger" not in re.search(r'<div id="profile-result"[^>]*>', html).group(0)

    def test_a_pending_profile_is_polled_and_only_one_waits_per_version(
        self, owner: Client, reply: list[ContractVersion], django_capture_on_commit_callbacks: Any
    ) -> None:
        # No worker runs here: the profile stays queued.
        assert owner.post(URL, {"cases": "fine", "runs": "1"}).status_code == 302
        fragment = owner.get(URL, headers=HTMX).content.decode()
        assert fragment.startswith('<div id="profile-result"') and 'hx-trigger="every 1s"' in fragment
        assert "Queued: 1 cases × 1 runs" in fragment
        again = owner.post(URL, {"cases": "fine", "runs": "1"})
        assert again.status_code == 409
        assert "v2 is being profiled" in again.content.decode()
        assert VersionProfile.objects.count() == 1

    @pytest.mark.parametrize(
        ("cases", "runs", "says"),
        [
            ("fine\n{not json\n", "3", "line 2: not JSON"),
            ('{"output": "x", "answer": "y"}', "3", "line 1: unknown key &#x27;answer&#x27;"),
            ("\n \n", "3", "no cases"),
            ("fine", "0", "runs: a whole number from 1 to 20"),
            ("fine", "many", "runs: a whole number from 1 to 20"),
            ("fine", "21", "runs: a whole number from 1 to 20"),
            ("x\n" * 51, "1", "line 51: at most 50 cases"),
            ("y" * 20_001, "1", "line 1: a case may have at most 20000 characters"),
        ],
    )
    def test_bad_cases_are_refused_naming_the_line_and_queue_nothing(
        self, owner: Client, reply: list[ContractVersion], cases: str, runs: str, says: str
    ) -> None:
        answer = owner.post(URL, {"cases": cases, "runs": runs})
        assert answer.status_code == 422
        assert says in answer.content.decode()
        assert not VersionProfile.objects.exists()

    def test_a_version_that_cannot_be_built_on_the_server_fails_with_the_reason(
        self, cast: Cast, owner: Client, eager_tasks: None, django_capture_on_commit_callbacks: Any
    ) -> None:
        services.contract_version_create(
            project=cast.project_a,
            name="Polite",
            source='contract Polite {\n  ensure judge("Is it polite?") >= 0.7\n}\n',
        )
        with django_capture_on_commit_callbacks(execute=True):
            owner.post("/p/alpha/contracts/Polite/versions/1/profile/", {"cases": "hello", "runs": "1"})
        profile = VersionProfile.objects.get()
        assert profile.status == "failed" and "judge" in profile.error
        html = owner.get("/p/alpha/contracts/Polite/versions/1/profile/").content.decode()
        assert "Failed: " in html and "Traceback" not in html

    def test_model_text_in_a_case_never_reaches_the_page_unescaped(
        self, owner: Client, reply: list[ContractVersion], django_capture_on_commit_callbacks: Any
    ) -> None:
        answer = owner.post(URL, {"cases": '{"output": 1}\n<script>alert(1)</script>', "runs": "1"})
        html = answer.content.decode()
        assert answer.status_code == 422 and "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    def test_viewers_see_profiles_but_cannot_ask_for_one_and_outsiders_see_nothing(
        self, cast: Cast, viewer: Client, outsider: Client, reply: list[ContractVersion]
    ) -> None:
        page = viewer.get(URL)
        assert page.status_code == 200 and 'id="profile-form"' not in page.content.decode()
        assert viewer.post(URL, {"cases": "fine", "runs": "1"}).status_code == 403
        assert outsider.get(URL).status_code == 404
        assert logged_in(cast.outsider).post(URL, {"cases": "fine", "runs": "1"}).status_code == 404
        assert viewer.get("/p/alpha/contracts/Reply/versions/9/profile/").status_code == 404
        assert not VersionProfile.objects.exists()

    def test_the_form_needs_the_csrf_token(self, cast: Cast, reply: list[ContractVersion]) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(cast.owner)
        assert client.post(URL, {"cases": "fine", "runs": "1"}).status_code == 403
        assert not VersionProfile.objects.exists()


@pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
    reason="needs CELERY_BROKER_URL pointing at Redis",
)
def test_the_profile_runs_on_a_worker_through_the_real_broker(transactional_db: None) -> None:
    from celery.contrib.testing.worker import start_worker
    from django.contrib.auth.models import User

    owner = User.objects.create_user("dana", "dana@example.org", "password")
    project = account_services.project_create(name="Alpha", owner=owner)
    services.contract_version_create(
        project=project, name="Reply", source="contract Reply {\n  ensure len(output) <= 20\n}\n"
    )
    client = logged_in(owner)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert (
            client.post(
                "/p/alpha/contracts/Reply/versions/1/profile/",
                {"cases": "short\nway too long an answer", "runs": "2"},
            ).status_code
            == 302
        )
        assert wait_for(lambda: not VersionProfile.objects.get().pending)
    profile = VersionProfile.objects.get()
    assert profile.status == "done" and profile.result["inputs"] == 2
    assert profile.result["profiles"][0]["violations"] == 2  # the long answer, twice
