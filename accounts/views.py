"""The invitation page: accept as the logged-in user, or register and join in one step."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import services
from dashboard.lib.errors import NotFound


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Show an invitation; a POST accepts it (logged in) or registers a user who then joins."""
    try:
        invite = services.invitation_for_token(token=token)
    except NotFound as exc:
        return render(request, "accounts/invitation_invalid.html", {"reason": exc.reason}, status=404)
    form = UserCreationForm()
    status = 200
    if request.method == "POST":
        if request.user.is_authenticated:
            services.invitation_accept(token=token, user=request.user)
            messages.success(request, f"You joined {invite.project.name}.")
            return redirect("dashboard:overview", slug=invite.project.slug)
        form = UserCreationForm(request.POST)
        if form.is_valid():
            with transaction.atomic():
                user = form.save(commit=False)
                user.email = invite.email
                user.save()
                services.invitation_accept(token=token, user=user)
            # Two backends are configured (django-axes first): name the one that checked nothing.
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome! You joined {invite.project.name}.")
            return redirect("dashboard:overview", slug=invite.project.slug)
        status = 400
    return render(request, "accounts/invitation.html", {"invitation": invite, "form": form}, status=status)
