"""Writes of accounts: projects and their settings, members, API keys, invitations."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import ApiKey, Invitation, Membership, Project
from dashboard.lib.errors import NotFound, ServiceError

logger = logging.getLogger(__name__)

KEY_PREFIX = "lck_"
# last_used_at is a hint for humans: write it at most once a minute per key, not per request.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


# Projects.


def project_create(*, name: str, owner: AbstractBaseUser | None = None, slug: str | None = None) -> Project:
    """Create a project, with ``owner`` as its first owner."""
    with transaction.atomic():
        project = Project.objects.create(
            name=name,
            slug=slug or slugify(name)[:100] or secrets.token_hex(4),
            retention_days=settings.EVENT_RETENTION_DAYS,
        )
        if owner is not None:
            Membership.objects.create(project=project, user=owner, role=Membership.Role.OWNER)
    return project


def project_create_for(*, user: Any, name: str) -> Project:
    """Create a project named ``name`` owned by ``user``, under a slug no other project has."""
    name = name.strip()
    if not name:
        raise ServiceError("a project needs a name", field="name")
    base = slugify(name)[:90] or "project"
    slug, n = base, 1
    # Two projects may share a name, never a slug: the slug is the project's URL.
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return project_create(name=name, owner=user, slug=slug)


def project_settings_update(
    *,
    project: Project,
    retention_days: int,
    alert_webhook_url: str,
    trace_sample_rate: float | None = None,
) -> Project:
    """Set the project's retention, alert webhook and trace sample rate (a fraction; None keeps it)."""
    rate = project.trace_sample_rate if trace_sample_rate is None else trace_sample_rate
    if not 0.0 <= rate <= 1.0:
        raise ServiceError("the trace sample rate must be between 0 and 100 %", field="trace_sample_rate")
    Project.objects.filter(pk=project.pk).update(
        retention_days=retention_days, alert_webhook_url=alert_webhook_url, trace_sample_rate=rate
    )
    project.retention_days = retention_days
    project.alert_webhook_url = alert_webhook_url
    project.trace_sample_rate = rate
    return project


# Members.


def membership_set(*, project: Project, user: AbstractBaseUser, role: str) -> Membership:
    """Give ``user`` the ``role`` in ``project`` (owner, editor or viewer)."""
    if role not in Membership.Role.values:
        raise ServiceError(f"role must be one of {', '.join(Membership.Role.values)}", field="role")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return membership


def _other_owners(project: Project, membership: Membership) -> bool:
    return (
        Membership.objects.filter(project=project, role=Membership.Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


def member_role_change(*, project: Project, membership_id: int, role: str) -> Membership:
    """Change a member's role; the last owner cannot stop being one."""
    with transaction.atomic():
        # Lock the owners so two owners demoting each other at once cannot leave none.
        list(Membership.objects.select_for_update().filter(project=project, role=Membership.Role.OWNER))
        membership = Membership.objects.filter(project=project, pk=membership_id).first()
        if membership is None:
            raise NotFound("no such member", field="member")
        demoted = membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER
        if demoted and not _other_owners(project, membership):
            raise ServiceError("the project must keep at least one owner", field="role")
        return membership_set(project=project, user=membership.user, role=role)


def member_remove(*, project: Project, membership_id: int) -> None:
    """Remove a member; the last owner cannot be removed."""
    with transaction.atomic():
        list(Membership.objects.select_for_update().filter(project=project, role=Membership.Role.OWNER))
        membership = Membership.objects.filter(project=project, pk=membership_id).first()
        if membership is None:
            raise NotFound("no such member", field="member")
        if membership.role == Membership.Role.OWNER and not _other_owners(project, membership):
            raise ServiceError("the project must keep at least one owner", field="member")
        membership.delete()


# Keys.


def hash_key(raw_key: str) -> str:
    """Return the stored form of an API key."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


# What a key may do: send events and traces, pull contracts/breakpoints/experiments, change experiments.
API_KEY_SCOPES = ("ingest", "read", "write")


def api_key_create(
    *,
    project: Project,
    name: str,
    created_by: AbstractBaseUser | None = None,
    expires_at: datetime | None = None,
    scopes: Sequence[str] = ("ingest", "read"),
) -> tuple[ApiKey, str]:
    """Create a key and return it with its raw value, which is never stored and shown only now."""
    unknown = set(scopes) - set(API_KEY_SCOPES)
    if unknown or not scopes:
        raise ServiceError(f"scopes must be among {', '.join(API_KEY_SCOPES)}", field="scopes")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        project=project,
        name=name,
        prefix=raw[:12],
        hashed_key=hash_key(raw),
        created_by=created_by,
        expires_at=expires_at,
        scopes=",".join(s for s in API_KEY_SCOPES if s in scopes),
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey, now: datetime | None = None) -> ApiKey:
    """Revoke a key; requests with it are refused from now on."""
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, raw_key: str, now: datetime | None = None) -> ApiKey | None:
    """Return the usable key matching ``raw_key``, or None for a missing, unknown, revoked or expired one."""
    if not raw_key or not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    now = now or timezone.now()
    key = ApiKey.objects.select_related("project").filter(hashed_key=hash_key(raw_key)).first()
    if key is None or not key.is_usable(now):
        return None
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def project_api_key_revoke(*, project: Project, key_id: int) -> ApiKey:
    """Revoke one of the project's API keys."""
    key = ApiKey.objects.filter(project=project, pk=key_id).first()
    if key is None:
        raise NotFound("no such API key", field="key")
    return api_key_revoke(api_key=key)


# Invitations: how a person joins a project, by a link sent to their email address.

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
        raise ServiceError(f"role must be one of {', '.join(Membership.Role.values)}", field="role")
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
        return membership_set(project=invitation.project, user=user, role=invitation.role)


def invitations_open(*, project: Project) -> list[Invitation]:
    """Return the project's invitations that can still be accepted, newest first."""
    return list(
        Invitation.objects.filter(project=project, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at")
    )
