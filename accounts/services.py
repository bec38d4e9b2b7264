"""Writes of invitations: create one (owners), accept one (as a logged-in user or by registering)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation
from contracts_app import services as contract_services
from contracts_app.models import Membership, Project
from contracts_app.services import NotFound

logger = logging.getLogger(__name__)

INVITATION_DAYS = 7


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invitation_create(
    *, project: Project, email: str, role: str, invited_by: AbstractBaseUser | None
) -> tuple[Invitation, str]:
    """Invite ``email`` to ``project`` with ``role``; return the invitation and its link (shown once).

    The answer is the same whether or not the address belongs to a user, so inviting tells
    the inviter nothing about who has an account.
    """
    if role not in Membership.Role.values:
        raise contract_services.ServiceError(
            f"role must be one of {', '.join(Membership.Role.values)}", field="role"
        )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        project=project,
        email=email.strip(),
        role=role,
        token_hash=_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    link = settings.SITE_URL + reverse("accounts:invitation", kwargs={"token": token})
    # Without an email server (development) the link is in the log and on the inviter's page.
    logger.info("invitation to %s for project %s as %s: %s", invitation.email, project.slug, role, link)
    send_mail(
        subject=f"You are invited to {project.name} on llm-contracts",
        message=(
            f"You are invited to join the project {project.name} as {role}.\n\n"
            f"Open this link within {INVITATION_DAYS} days to accept:\n{link}\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
        fail_silently=True,
    )
    return invitation, link


def invitation_for_token(*, token: str) -> Invitation:
    """Return the open invitation of ``token``, or raise NotFound (unknown, used or expired alike)."""
    invitation = (
        Invitation.objects.select_related("project").filter(token_hash=_hash(token)).first()
        if token and len(token) <= 200
        else None
    )
    if invitation is None or not invitation.is_open():
        raise NotFound("this invitation is unknown, used or expired", field="invitation")
    return invitation


def invitation_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    """Make ``user`` a member with the invitation's role (a member keeps a higher role), once."""
    with transaction.atomic():
        invitation = invitation_for_token(token=token)
        # A conditional update: of two tabs accepting at once, one uses the invitation.
        used = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user
        )
        if not used:
            raise NotFound("this invitation is unknown, used or expired", field="invitation")
        rank = [Membership.Role.VIEWER, Membership.Role.EDITOR, Membership.Role.OWNER]
        current = Membership.objects.filter(project=invitation.project, user=user).first()
        if current is not None and rank.index(current.role) >= rank.index(invitation.role):
            return current
        return contract_services.membership_set(project=invitation.project, user=user, role=invitation.role)


def invitations_open(*, project: Project) -> list[Invitation]:
    """Return the project's invitations that can still be accepted, newest first."""
    return list(
        Invitation.objects.filter(project=project, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at")
    )
