"""Owners add members by email invitation: a link that works without an email server, accepted
by a logged-in user or by registering, telling the inviter nothing about who has an account."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import Invitation, Membership

from .conftest import Cast


def invite(client: Client, cast: Cast, email: str, role: str = "editor") -> Any:
    return client.post(f"/p/{cast.project_a.slug}/settings/invitations/", {"email": email, "role": role})


def link_path(response: Any) -> str:
    found = re.search(r"https?://[^/\s<]+(/invitations/[\w-]+/)", response.content.decode())
    assert found, "the page shows no invitation link"
    return found.group(1)


@pytest.fixture
def owner(client: Client, cast: Cast) -> Client:
    client.force_login(cast.owner)
    return client


class TestInviting:
    def test_the_link_is_shown_to_the_inviter_logged_and_mailed(
        self, owner: Client, cast: Cast, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="accounts.services"):
            response = invite(owner, cast, "dana@example.org")
        assert response.status_code == 201
        path = link_path(response)
        assert path in caplog.text
        assert [m.to for m in mail.outbox] == [["dana@example.org"]] and path in mail.outbox[0].body
        assert "no-store" in response["Cache-Control"]
        # Shown once: the page does not show it again.
        assert path not in owner.get(f"/p/{cast.project_a.slug}/settings/").content.decode()

    def test_the_answer_says_nothing_about_whether_the_address_has_an_account(
        self, owner: Client, cast: Cast
    ) -> None:
        def page(email: str) -> str:
            Invitation.objects.all().delete()  # each page lists only its own invitation
            body = invite(owner, cast, email).content.decode()
            body = re.sub(r"/invitations/[\w-]+/", "/invitations/T/", body)
            return re.sub(r"\b[A-Za-z0-9]{64}\b", "CSRF", body).replace(email, "E")

        # charlie@example.org belongs to a user; nobody@example.org to nobody.
        assert page("charlie@example.org").replace("charlie", "x") == page("nobody@example.org").replace(
            "charlie", "x"
        )

    def test_only_owners_invite(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.member)  # a viewer
        assert invite(client, cast, "x@example.org").status_code == 403
        client.force_login(cast.outsider)
        assert invite(client, cast, "x@example.org").status_code == 404
        assert not Invitation.objects.exists()

    def test_no_user_can_be_added_by_user_name_any_more(self, owner: Client, cast: Cast) -> None:
        response = owner.post(
            f"/p/{cast.project_a.slug}/settings/members/", {"username": "charlie", "role": "owner"}
        )
        assert response.status_code in (404, 405)
        assert not Membership.objects.filter(project=cast.project_a, user=cast.outsider).exists()


class TestAccepting:
    def test_a_logged_in_user_accepts_and_gets_the_role_once(self, owner: Client, cast: Cast) -> None:
        path = link_path(invite(owner, cast, "someone@example.org", role="editor"))
        charlie = Client()
        charlie.force_login(cast.outsider)
        page = charlie.get(path)
        assert page.status_code == 200 and b"Join Alpha" in page.content
        response = charlie.post(path)
        assert response.status_code == 302 and response["Location"] == f"/p/{cast.project_a.slug}/"
        assert Membership.objects.get(project=cast.project_a, user=cast.outsider).role == "editor"
        # Used once: a second visit, by anybody, is refused.
        assert charlie.get(path).status_code == 404
        assert Client().get(path).status_code == 404

    def test_a_new_person_registers_and_joins_in_one_step(self, owner: Client, cast: Cast) -> None:
        path = link_path(invite(owner, cast, "erin@example.org", role="viewer"))
        visitor = Client()
        assert b"Create account and join" in visitor.get(path).content
        response = visitor.post(
            path, {"username": "erin", "password1": "a-long-phrase-42", "password2": "a-long-phrase-42"}
        )
        assert response.status_code == 302
        erin = User.objects.get(username="erin")
        assert erin.email == "erin@example.org"
        assert Membership.objects.get(project=cast.project_a, user=erin).role == "viewer"
        assert visitor.get(f"/p/{cast.project_a.slug}/").status_code == 200

    def test_a_bad_registration_names_the_field_and_joins_nobody(self, owner: Client, cast: Cast) -> None:
        path = link_path(invite(owner, cast, "erin@example.org"))
        response = Client().post(path, {"username": "erin", "password1": "x", "password2": "y"})
        assert response.status_code == 400 and b"password" in response.content
        assert not User.objects.filter(username="erin").exists()
        assert Invitation.objects.get().accepted_at is None

    def test_an_expired_or_unknown_invitation_is_refused(self, owner: Client, cast: Cast) -> None:
        path = link_path(invite(owner, cast, "late@example.org"))
        Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        charlie = Client()
        charlie.force_login(cast.outsider)
        assert charlie.post(path).status_code == 404
        assert charlie.get("/invitations/not-a-token/").status_code == 404
        assert not Membership.objects.filter(project=cast.project_a, user=cast.outsider).exists()

    def test_a_member_accepting_a_lower_role_keeps_their_own(self, owner: Client, cast: Cast) -> None:
        path = link_path(invite(owner, cast, "alice@example.org", role="viewer"))
        assert owner.post(path).status_code == 302
        assert Membership.objects.get(project=cast.project_a, user=cast.owner).role == "owner"
