"""What the header of every page needs: the time zone, the clock and the user's projects."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts import selectors


def header(request: HttpRequest) -> dict[str, Any]:
    """Give templates the active time zone and, read only if shown, the user's projects."""
    user = getattr(request, "user", None)
    return {
        "time_zone": getattr(request, "time_zone", "UTC"),
        "time_zone_source": getattr(request, "time_zone_source", "default"),
        "my_projects": SimpleLazyObject(
            lambda: selectors.projects_of(user=user) if user is not None and user.is_authenticated else []
        ),
    }
