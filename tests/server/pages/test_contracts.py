"""The contracts pages: list, detail with history and diff, the LLMCL editor, try it, save and roll back."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from contracts_app import services
from contracts_app.models import Contract, ContractVersion
from dashboard.lib.errors import ServiceError
from telemetry.models import HourRollup, MinuteRollup

from ..conftest import Cast
from .conftest import REPLY_V1, REPLY_V2, logged_in

HTMX = {"HX-Request": "true"}


def pulled(client: Client, cast: Cast) -> list[tuple[str, int]]:
    """Return (name, version) of each contract an SDK of project A pulls now."""
    answer = client.get("/api/v1/contracts", headers={"X-API-Key": cast.key_a})
    return [(c["name"], c["version"]) for c in answer.json()["contracts"]]


def lines_with_errors(html: str) -> dict[int, list[str]]:
    """Return, per listed source line, the texts of the error boxes placed under it."""
    out: dict[int, list[str]] = {}
    for number, inner in re.findall(r'<li id="line-(\d+)"[^>]*>(.*?)</li>', html, re.S):
        boxes = re.findall(r'<div class="lc-diag"[^>]*>(.*?)</div>', inner, re.S)
        if boxes:
            out[int(number)] = [re.sub(r"<[^>]+>", "", box) for box in boxes]
    return out


class TestContractList:
    def test_a_member_sees_each_contract_with_its_version_state_and_violation_rate(
        self, cast: Cast, viewer: Client, reply: list[ContractVersion]
    ) -> None:
        services.contract_version_create(
            project=cast.project_a, name="Quiet", source="contract Quiet {\n  ensure len(output) < 5\n}\n"
        )
        now = timezone.now().replace(second=0, microsecond=0)
        # Clause verdicts of an LLMCL contract count for the contract; older rollups do not.
        MinuteRollup.objects.create(
            project=cast.project_a,
            bucket=now - timedelta(minutes=5),
            contract="Reply.ensure[1]",
            count=30,
            violations=3,
        )
        MinuteRollup.objects.create(
            project=cast.project_a,
            bucket=now - timedelta(minutes=9),
            contract="Reply.ensure[2]",
            count=10,
            violations=1,
        )
        MinuteRollup.objects.create(
            project=cast.project_a,
            bucket=now - timedelta(hours=30),
            contract="Reply.ensure[1]",
            count=100,
            violations=100,
        )
        response = viewer.get("/p/alpha/contracts/")
        assert response.status_code == 200
        rows = {row.contract.name: row for row in response.context["rows"]}
        assert (rows["Reply"].version, rows["Reply"].count, rows["Reply"].violations) == (2, 40, 4)
        assert rows["Quiet"].violation_rate is None
        html = response.content.decode()
        assert "10.0&nbsp;%" in html and "v2 runs" in html
        assert re.search(r"Quiet.*?lc-badge off\">draft<", html, re.S)
        assert "New contract" not in html  # a viewer gets no edit buttons

    def test_an_outsider_gets_404_and_an_anonymous_visitor_is_sent_to_log_in(
        self, cast: Cast, outsider: Client, reply: list[ContractVersion]
    ) -> None:
        assert outsider.get("/p/alpha/contracts/").status_code == 404
        assert outsider.get("/p/alpha/contracts/Reply/").status_code == 404
        assert outsider.get("/p/alpha/contracts/new/").status_code == 404
        response = Client().get("/p/alpha/contracts/")
        assert response.status_code == 302 and "next=" in response["Location"]

    def test_htmx_gets_the_table_alone(self, owner: Client, reply: list[ContractVersion]) -> None:
        response = owner.get("/p/alpha/contracts/", headers=HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith("<table") and "<html" not in html and "Reply" in html


class TestContractDetail:
    def test_it_shows_the_history_and_the_diff_of_the_last_two_versions(
        self, owner: Client, reply: list[ContractVersion]
    ) -> None:
        response = owner.get("/p/alpha/contracts/Reply/")
        assert response.status_code == 200
        assert [v.version for v in response.context["versions"]] == [2, 1]
        diff = [(d.kind, d.old_no, d.new_no, d.text) for d in response.context["diff"]]
        assert ("delete", 2, None, "  ensure len(output) <= 200") in diff
        assert ("insert", None, 2, "  ensure len(output) <= 100") in diff
        assert ("insert", None, 3, "  ensure not pii(output)") in diff
        assert ("equal", 1, 1, "contract Reply {") in diff
        assert "Roll back to v1" in response.content.decode()

    def test_htmx_gets_the_diff_between_the_chosen_versions_escaped(
        self, cast: Cast, owner: Client, reply: list[ContractVersion]
    ) -> None:
        services.contract_version_create(
            project=cast.project_a,
            name="Reply",
            source='contract Reply {\n  ensure not contains(output, "<script>alert(1)</script>")\n}\n',
        )
        response = owner.get("/p/alpha/contracts/Reply/?a=1&b=3", headers=HTMX)
        html = response.content.decode()
        assert "<html" not in html and "v1 → v3" in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html

    def test_a_viewer_sees_no_buttons_and_cannot_post(
        self, viewer: Client, reply: list[ContractVersion]
    ) -> None:
        html = viewer.get("/p/alpha/contracts/Reply/").content.decode()
        assert "Roll back" not in html and "Deactivate" not in html and "Edit</a>" not in html
        assert viewer.post("/p/alpha/contracts/Reply/deactivate/").status_code == 403
        assert viewer.get("/p/alpha/contracts/Reply/versions/1/activate/").status_code == 403
        assert viewer.post("/p/alpha/contracts/Reply/versions/1/activate/").status_code == 403
        assert viewer.post("/p/alpha/contracts/Reply/edit/", {"source": REPLY_V1}).status_code == 403
        assert viewer.post("/p/alpha/contracts/validate/", {"source": REPLY_V1}).status_code == 403
        assert viewer.post("/p/alpha/contracts/try/", {"source": REPLY_V1}).status_code == 403
        assert Contract.objects.get(name="Reply").running_version == 2
        assert ContractVersion.objects.count() == 2

    def test_an_unknown_contract_is_404(self, owner: Client) -> None:
        assert owner.get("/p/alpha/contracts/Nope/").status_code == 404


class TestEditor:
    def test_the_editor_validates_as_the_user_types(self, owner: Client) -> None:
        html = owner.get("/p/alpha/contracts/new/").content.decode()
        assert 'hx-trigger="keyup changed delay:400ms"' in html
        assert 'hx-post="/p/alpha/contracts/validate/"' in html

    def test_the_validation_places_each_error_under_its_line_with_the_compilers_message(
        self, owner: Client
    ) -> None:
        source = "contract Reply {\n  ensure len(output) <= 200\n  ensure lenn(output) < 3\n}\n"
        response = owner.post("/p/alpha/contracts/validate/", {"source": source}, headers=HTMX)
        html = response.content.decode()
        assert response.status_code == 200 and "<html" not in html
        errors = lines_with_errors(html)
        assert list(errors) == [3]
        (box,) = errors[3]
        assert "3:10" in box and "unknown function &#x27;lenn&#x27;" in box and "did you mean" in box
        caret = re.search(r'<code class="caret">(.*?)</code>', html).group(1)  # type: ignore[union-attr]
        assert caret == " " * 9 + "^^^^"

    def test_a_syntax_error_lands_on_its_line_and_a_clean_source_compiles(self, owner: Client) -> None:
        broken = "contract Reply {\n  ensure len(output) <=\n  ensure len(output) < 9 severity loud\n}\n"
        errors = lines_with_errors(
            owner.post("/p/alpha/contracts/validate/", {"source": broken}, headers=HTMX).content.decode()
        )
        assert errors and all(number in (3, 4) for number in errors)
        html = owner.post("/p/alpha/contracts/validate/", {"source": REPLY_V1}, headers=HTMX).content.decode()
        assert "Compiles." in html and not lines_with_errors(html)

    def test_without_htmx_the_check_renders_the_whole_editor(self, owner: Client) -> None:
        response = owner.post("/p/alpha/contracts/validate/", {"source": "contract {"})
        html = response.content.decode()
        assert response.status_code == 200 and "<html" in html and lines_with_errors(html)

    def test_a_contract_cannot_read_the_servers_files(self, owner: Client) -> None:
        source = 'import "/etc/passwd"\ncontract Reply {\n  ensure json(output) conforms "/etc/hosts"\n}\n'
        html = owner.post("/p/alpha/contracts/validate/", {"source": source}, headers=HTMX).content.decode()
        errors = lines_with_errors(html)
        assert set(errors) == {1, 3}
        assert "imports are not available" in errors[1][0]
        assert "schema files are not available" in errors[3][0]
        assert "root:" not in html and "localhost" not in html


class TestTryIt:
    def test_it_shows_each_checks_verdict_on_the_pasted_input_and_output(self, owner: Client) -> None:
        source = (
            'contract Reply {\n  require not contains(input, "ignore previous")\n'
            "  ensure len(output) <= 20\n  ensure not pii(output) severity critical\n}\n"
        )
        response = owner.post(
            "/p/alpha/contracts/try/",
            {"source": source, "input": "Where is my parcel?", "output": "Mail bob@example.com <b>now</b>"},
            headers=HTMX,
        )
        html = response.content.decode()
        assert response.status_code == 200 and "<html" not in html
        verdicts = {v.check: v for v in response.context["result"].verdicts}
        assert list(verdicts) == ["Reply.require[1]", "Reply.ensure[1]", "Reply.ensure[2]"]
        assert verdicts["Reply.require[1]"].is_valid and verdicts["Reply.require[1]"].stage == "input"
        assert not verdicts["Reply.ensure[1]"].is_valid
        assert "more than the maximum of 20" in verdicts["Reply.ensure[1]"].message
        assert (verdicts["Reply.ensure[2]"].is_valid, verdicts["Reply.ensure[2]"].severity) == (
            False,
            "critical",
        )
        assert "Some checks failed." in html and "email address" in html

    def test_a_draft_that_does_not_compile_shows_its_errors_instead(self, owner: Client) -> None:
        response = owner.post(
            "/p/alpha/contracts/try/",
            {"source": "contract X {\n  ensure nope(output)\n}", "input": "", "output": ""},
            headers=HTMX,
        )
        assert "cannot run" in response.content.decode()
        assert response.context["result"].verdicts == []

    def test_without_htmx_try_it_renders_the_editor_with_the_verdicts(self, owner: Client) -> None:
        response = owner.post(
            "/p/alpha/contracts/try/", {"source": REPLY_V1, "input": "hi", "output": "fine"}
        )
        html = response.content.decode()
        assert "<html" in html and "Every check passed." in html and "fine</textarea>" in html


class TestSaveActivateRollback:
    def test_saving_a_new_contract_creates_version_1_named_by_the_source(
        self, cast: Cast, owner: Client
    ) -> None:
        response = owner.post("/p/alpha/contracts/new/", {"source": REPLY_V1})
        assert response.status_code == 302 and response["Location"] == "/p/alpha/contracts/Reply/"
        version = ContractVersion.objects.get(contract__project=cast.project_a, contract__name="Reply")
        assert (version.version, version.source, version.author) == (1, REPLY_V1, cast.owner)

    def test_saving_an_edit_adds_the_next_version(self, owner: Client, reply: list[ContractVersion]) -> None:
        source = REPLY_V2.replace("100", "50")
        assert owner.post("/p/alpha/contracts/Reply/edit/", {"source": source}).status_code == 302
        latest = Contract.objects.get(name="Reply").versions.first()
        assert (latest.version, latest.source) == (3, source)  # type: ignore[union-attr]

    def test_a_source_that_does_not_compile_is_not_saved_and_its_errors_are_shown(
        self, owner: Client, reply: list[ContractVersion]
    ) -> None:
        response = owner.post(
            "/p/alpha/contracts/Reply/edit/", {"source": "contract Reply {\n  ensure lenn(output)\n}"}
        )
        assert response.status_code == 422
        assert list(lines_with_errors(response.content.decode())) == [2]
        assert "the version was not saved" in response.content.decode()
        assert ContractVersion.objects.count() == 2

    def test_an_edit_must_keep_the_contracts_name(self, owner: Client, reply: list[ContractVersion]) -> None:
        response = owner.post(
            "/p/alpha/contracts/Reply/edit/", {"source": "contract Other {\n  ensure len(output) < 3\n}"}
        )
        assert response.status_code == 422
        assert "defines no contract named" in response.content.decode()
        assert ContractVersion.objects.count() == 2

    def test_rolling_back_asks_first_then_runs_the_old_version_and_logs_it(
        self, cast: Cast, owner: Client, client: Client, reply: list[ContractVersion]
    ) -> None:
        preview = owner.get("/p/alpha/contracts/Reply/versions/1/activate/")
        assert preview.status_code == 200 and "Roll back Reply v1?" in preview.content.decode()
        assert Contract.objects.get(name="Reply").running_version == 2  # a look changes nothing
        response = owner.post("/p/alpha/contracts/Reply/versions/1/activate/", {"expected_running": "2"})
        assert response.status_code == 302
        assert pulled(client, cast) == [("Reply", 1)]
        # History stays as it was: no version is written by a roll back.
        assert ContractVersion.objects.count() == 2
        entry = Contract.objects.get(name="Reply").audit_entries.first()
        assert (entry.action, entry.from_version, entry.to_version, entry.actor) == (
            "rollback",
            2,
            1,
            cast.owner,
        )
        assert owner.get("/p/alpha/contracts/Reply/versions/9/activate/").status_code == 404

    def test_deactivating_asks_first_and_stops_what_the_sdk_pulls(
        self, cast: Cast, owner: Client, client: Client, reply: list[ContractVersion]
    ) -> None:
        assert pulled(client, cast) == [("Reply", 2)]
        page = owner.get("/p/alpha/contracts/Reply/deactivate/")
        assert page.status_code == 200 and "Deactivate Reply?" in page.content.decode()
        assert pulled(client, cast) == [("Reply", 2)]
        assert (
            owner.post("/p/alpha/contracts/Reply/deactivate/", {"expected_running": "2"}).status_code == 302
        )
        assert pulled(client, cast) == []
        entry = Contract.objects.get(name="Reply").audit_entries.first()
        assert (entry.action, entry.from_version, entry.to_version) == ("deactivate", 2, None)
        # Activated again through the same confirmation, as a version.
        assert (
            owner.post("/p/alpha/contracts/Reply/versions/2/activate/", {"expected_running": ""}).status_code
            == 302
        )
        assert pulled(client, cast) == [("Reply", 2)]

    def test_an_editor_may_change_but_a_viewer_of_the_same_project_may_not(self, cast: Cast) -> None:
        account_services.membership_set(project=cast.project_a, user=cast.outsider, role="editor")
        assert (
            logged_in(cast.outsider).post("/p/alpha/contracts/new/", {"source": REPLY_V1}).status_code == 302
        )
        assert logged_in(cast.member).post("/p/alpha/contracts/new/", {"source": REPLY_V2}).status_code == 403

    def test_a_post_without_the_csrf_token_is_refused(self, cast: Cast, reply: list[ContractVersion]) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(cast.owner)
        assert client.post("/p/alpha/contracts/Reply/versions/1/activate/").status_code == 403
        assert Contract.objects.get(name="Reply").running_version == 2
        page = client.get("/p/alpha/contracts/Reply/versions/1/activate/")
        token = page.cookies["csrftoken"].value
        response = client.post(
            "/p/alpha/contracts/Reply/versions/1/activate/", {"csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302 and Contract.objects.get(name="Reply").running_version == 1


@pytest.mark.parametrize("path", ["/p/alpha/contracts/validate/", "/p/alpha/contracts/try/"])
def test_the_editor_endpoints_refuse_get(owner: Client, path: str) -> None:
    assert owner.get(path).status_code == 405


class TestDraftsAndDeploys:
    def test_a_new_contract_is_a_draft_that_no_sdk_pulls(
        self, cast: Cast, owner: Client, client: Client
    ) -> None:
        response = owner.post("/p/alpha/contracts/new/", {"source": REPLY_V1})
        assert response.status_code == 302
        assert pulled(client, cast) == []
        assert "draft" in owner.get("/p/alpha/contracts/Reply/").content.decode()

    def test_saving_an_edit_of_a_running_contract_leaves_the_running_version(
        self, cast: Cast, owner: Client, client: Client, reply: list[ContractVersion]
    ) -> None:
        assert (
            owner.post(
                "/p/alpha/contracts/Reply/edit/", {"source": REPLY_V1.replace("200", "50")}
            ).status_code
            == 302
        )
        assert Contract.objects.get(name="Reply").versions.first().version == 3  # type: ignore[union-attr]
        assert pulled(client, cast) == [("Reply", 2)]

    def test_the_activation_page_shows_the_diff_against_what_runs_and_the_calls_an_hour(
        self, cast: Cast, owner: Client, reply: list[ContractVersion]
    ) -> None:
        services.contract_version_create(
            project=cast.project_a, name="Reply", source=REPLY_V2.replace("100", "80")
        )
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        # Each call reports one verdict per clause: the busiest clause counts the calls.
        for contract, count in (("Reply.ensure[1]", 240), ("Reply.ensure[2]", 240), ("Other", 999)):
            HourRollup.objects.create(
                project=cast.project_a, bucket=hour - timedelta(hours=2), contract=contract, count=count
            )
        HourRollup.objects.create(
            project=cast.project_a, bucket=hour - timedelta(hours=30), contract="Reply.ensure[1]", count=9999
        )
        response = owner.get("/p/alpha/contracts/Reply/versions/3/activate/")
        assert response.status_code == 200
        preview = response.context["p"]
        assert preview.running.version == 2 and preview.calls_per_hour == 10.0
        diff = [(d.kind, d.text) for d in preview.diff]
        assert ("delete", "  ensure len(output) <= 100") in diff and (
            "insert",
            "  ensure len(output) <= 80",
        ) in diff
        html = response.content.decode()
        assert 'id="calls-per-hour">10.0<' in html and "Activate v3</button>" in html
        assert 'name="expected_running" value="2"' in html

    def test_a_confirmation_of_a_stale_preview_is_refused(
        self, cast: Cast, owner: Client, client: Client, reply: list[ContractVersion]
    ) -> None:
        # Someone rolled back to v1 after this person opened the preview of v2 -> v3.
        services.contract_version_create(
            project=cast.project_a, name="Reply", source=REPLY_V2.replace("100", "80")
        )
        services.contract_version_activate(contract_version=reply[0], actor=cast.member)
        response = owner.post("/p/alpha/contracts/Reply/versions/3/activate/", {"expected_running": "2"})
        assert response.status_code == 409
        assert "v1 runs now; review the change again" in response.content.decode()
        assert pulled(client, cast) == [("Reply", 1)]

    def test_every_deploy_side_change_is_in_the_log_with_who_and_how_many_calls(
        self, cast: Cast, owner: Client, reply: list[ContractVersion]
    ) -> None:
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        HourRollup.objects.create(
            project=cast.project_a, bucket=hour - timedelta(hours=1), contract="Reply.ensure[1]", count=48
        )
        owner.post("/p/alpha/contracts/Reply/versions/1/activate/", {"reason": "v2 refuses good answers"})
        owner.post("/p/alpha/contracts/Reply/deactivate/")
        entries = list(Contract.objects.get(name="Reply").audit_entries.order_by("at", "id"))
        assert [(e.action, e.from_version, e.to_version, e.actor_label) for e in entries] == [
            ("activate", None, 2, "alice"),
            ("rollback", 2, 1, "alice"),
            ("deactivate", 1, None, "alice"),
        ]
        assert entries[1].reason == "v2 refuses good answers" and entries[2].calls_per_hour == 2.0
        html = owner.get("/p/alpha/contracts/Reply/").content.decode()
        assert (
            "rolled back v2 → v1" in html and "deactivated v1" in html and "v2 refuses good answers" in html
        )

    def test_a_job_activates_a_version_through_the_same_service(
        self, cast: Cast, reply: list[ContractVersion]
    ) -> None:
        entry = services.contract_version_activate(
            contract_version=reply[0], actor_label="experiment shorter-replies"
        )
        assert (entry.actor, entry.actor_label, entry.action) == (
            None,
            "experiment shorter-replies",
            "rollback",
        )
        with pytest.raises(ServiceError, match="v1 runs already"):
            services.contract_version_activate(contract_version=reply[0], actor_label="again")

    def test_new_contract_with_a_taken_name_is_refused_with_a_link_to_it(
        self, cast: Cast, owner: Client, client: Client, reply: list[ContractVersion]
    ) -> None:
        response = owner.post("/p/alpha/contracts/new/", {"source": REPLY_V1.replace("200", "5")})
        assert response.status_code == 409
        html = response.content.decode()
        assert "a contract named Reply exists already" in html
        assert '<a href="/p/alpha/contracts/Reply/">Open Reply</a>' in html
        assert ContractVersion.objects.count() == 2 and pulled(client, cast) == [("Reply", 2)]

    def test_a_source_with_two_contracts_is_refused_with_the_reason(self, owner: Client) -> None:
        source = REPLY_V1 + "contract Other {\n  ensure len(output) < 3\n}\n"
        response = owner.post("/p/alpha/contracts/new/", {"source": source})
        assert response.status_code == 422
        assert "the source defines 2 contracts (Reply, Other)" in response.content.decode()
        assert not Contract.objects.exists()
