"""Project access for the pages: every page finds its project through :func:`project_for`."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404, HttpRequest

from accounts.models import Membership, Project


def project_for(request: HttpRequest, slug: str, *, write: bool = False) -> Project:
    """Return the project ``slug`` of the request's user; 404 for outsiders, 403 for a viewer writing.

    The project carries the user's role as ``project.role`` and ``project.can_edit``,
    so templates can hide the forms a viewer may not use.
    """
    user = request.user
    # An outsider learns nothing, not even that the project exists: 404, never 403.
    if not user.is_authenticated:
        raise Http404("No such project")
    project = (
        Project.objects.filter(slug=slug, memberships__user=user)
        .annotate(role=F("memberships__role"))
        .first()
    )
    if project is None:
        raise Http404("No such project")
    project.can_edit = project.role in (Membership.Role.OWNER, Membership.Role.EDITOR)  # type: ignore[attr-defined]
    project.is_owner = project.role == Membership.Role.OWNER  # type: ignore[attr-defined]
    if write and not project.can_edit:  # type: ignore[attr-defined]
        raise PermissionDenied("Viewers cannot change this project")
    return project


def project_owned(request: HttpRequest, slug: str) -> Project:
    """Return the project ``slug`` if the user owns it; 404 for outsiders, 403 for other members."""
    project = project_for(request, slug)
    if not project.is_owner:  # type: ignore[attr-defined]
        raise PermissionDenied("Only an owner can manage members")
    return project
