"""Writes of the dashboard: alert rules and time zones.

Projects, their settings, members, API keys and invitations live in the accounts app.
"""

from __future__ import annotations

from typing import Any

from accounts.models import Project
from contracts_app.models import AlertRule
from dashboard.lib.errors import NotFound, ServiceError
from dashboard.lib.tz import zone_or_none
from dashboard.models import UserPreference


def alert_rule_create(*, project: Project, **fields: Any) -> AlertRule:
    """Create an alert rule on the project."""
    return AlertRule.objects.create(project=project, **fields)


def alert_rule_delete(*, project: Project, rule_id: int) -> None:
    """Delete one of the project's alert rules."""
    deleted, _ = AlertRule.objects.filter(project=project, pk=rule_id).delete()
    if not deleted:
        raise NotFound("no such alert rule", field="rule")


def time_zone_set(*, user: Any, time_zone: str) -> UserPreference:
    """Save ``user``'s time zone: an IANA name, or blank for the browser's."""
    if time_zone and zone_or_none(time_zone) is None:
        raise ServiceError(f"{time_zone!r} is not a time zone this server knows", field="time_zone")
    preference, _ = UserPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return preference
