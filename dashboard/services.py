"""Writes of the dashboard: members, retention, webhook, alert rules, projects, time zones.

Invitations live in the accounts app.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.text import slugify

from contracts_app import services
from contracts_app.models import AlertRule, ApiKey, Membership, Project
from contracts_app.services import NotFound, ServiceError
from dashboard.lib.tz import zone_or_none
from dashboard.models import UserPreference


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
        return services.membership_set(project=project, user=membership.user, role=role)


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


def api_key_revoke(*, project: Project, key_id: int) -> ApiKey:
    """Revoke one of the project's API keys."""
    key = ApiKey.objects.filter(project=project, pk=key_id).first()
    if key is None:
        raise NotFound("no such API key", field="key")
    return services.api_key_revoke(api_key=key)


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


def alert_rule_create(*, project: Project, **fields: Any) -> AlertRule:
    """Create an alert rule on the project."""
    return AlertRule.objects.create(project=project, **fields)


def alert_rule_delete(*, project: Project, rule_id: int) -> None:
    """Delete one of the project's alert rules."""
    deleted, _ = AlertRule.objects.filter(project=project, pk=rule_id).delete()
    if not deleted:
        raise NotFound("no such alert rule", field="rule")


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
    return services.project_create(name=name, owner=user, slug=slug)


def time_zone_set(*, user: Any, time_zone: str) -> UserPreference:
    """Save ``user``'s time zone: an IANA name, or blank for the browser's."""
    if time_zone and zone_or_none(time_zone) is None:
        raise ServiceError(f"{time_zone!r} is not a time zone this server knows", field="time_zone")
    preference, _ = UserPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return preference
