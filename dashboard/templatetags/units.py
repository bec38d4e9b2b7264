"""Template filters that give every measure one unit: rates in percent."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(fraction: float | None, digits: int = 1) -> str:
    """Return a fraction (0.025) as a percentage ("2.5%"); a dash when there is none."""
    if fraction is None or fraction == "":
        return "–"
    value = round(float(fraction) * 100, digits)
    return f"{value:g}%"
