"""Reads of accounts: a user's projects, a project's members and API keys."""

from __future__ import annotations

from typing import Any

from accounts.models import ApiKey, Membership, Project


def projects_of(*, user: Any) -> list[Project]:
    """Return the user's projects by name, for the header's project switcher."""
    return list(Project.objects.filter(memberships__user=user).order_by("name", "id").only("name", "slug"))


def first_project_slug(*, user: Any) -> str | None:
    """Return the slug of the user's first project by name, or None."""
    return (
        Project.objects.filter(memberships__user=user)
        .order_by("name", "id")
        .values_list("slug", flat=True)
        .first()
    )


def api_keys_of(*, project: Project) -> list[ApiKey]:
    """Return the project's API keys, newest first."""
    return list(ApiKey.objects.filter(project=project).select_related("created_by").order_by("-created_at"))


def members_of(*, project: Project) -> list[Membership]:
    """Return the project's members by user name."""
    return list(Membership.objects.filter(project=project).select_related("user").order_by("user__username"))
