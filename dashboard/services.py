"""Writes of the dashboard: time zones.

Projects, their settings, members, API keys and invitations live in the accounts app;
alert rules in the telemetry app.
"""

from __future__ import annotations

from typing import Any

from dashboard.lib.errors import ServiceError
from dashboard.lib.tz import zone_or_none
from dashboard.models import UserPreference


def time_zone_set(*, user: Any, time_zone: str) -> UserPreference:
    """Save ``user``'s time zone: an IANA name, or blank for the browser's."""
    if time_zone and zone_or_none(time_zone) is None:
        raise ServiceError(f"{time_zone!r} is not a time zone this server knows", field="time_zone")
    preference, _ = UserPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return preference
