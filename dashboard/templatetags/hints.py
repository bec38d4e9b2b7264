"""The ``at`` query of a link to one call, event or trace page (see ``dashboard.lib.hints``)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from django import template

from dashboard.lib.hints import at_param

register = template.Library()


@register.filter
def at_query(moment: datetime | None) -> str:
    """Return ``?at=<moment>`` for a link's href, or nothing when there is no time."""
    if not isinstance(moment, datetime):
        return ""
    return f"?at={quote(at_param(moment), safe=':')}"
