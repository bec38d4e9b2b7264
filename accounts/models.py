"""Who may use a project: projects and their settings, members, API keys, invitations."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    retention_days = models.PositiveIntegerField(default=30)
    alert_webhook_url = models.URLField(blank=True, default="")
    # The share (0-1) of violated calls whose trace the SDKs upload; they pull it with
    # the breakpoints.
    trace_sample_rate = models.FloatField(default=1.0)

    class Meta:
        # Kept from when projects lived in contracts_app: moving the model moved no data.
        db_table = "contracts_app_project"

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        EDITOR = "editor"
        VIEWER = "viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        db_table = "contracts_app_membership"
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_unique_user_project")
        ]

    def can_edit(self) -> bool:
        """Return whether the role may change the project's contracts and breakpoints."""
        return self.role in (self.Role.OWNER, self.Role.EDITOR)


class ApiKey(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The first characters of the key, shown in lists so a key can be recognised.
    prefix = models.CharField(max_length=16)
    # sha256 of the whole key: the key is 256 random bits, not a password, so a fast
    # hash cannot be brute-forced and keeps the per-request lookup cheap.
    hashed_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Comma-separated: "ingest" and "read" for SDKs; "write" lets a deployment pipeline
    # change experiments.
    scopes = models.CharField(max_length=100, default="ingest,read")

    class Meta:
        db_table = "contracts_app_apikey"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: Any = None) -> bool:
        """Return whether the key is neither revoked nor expired."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Invitation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.VIEWER)
    # sha256 of the link's token: the token is 256 random bits, shown once to the inviter.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.email} → {self.project} ({self.role})"

    def is_open(self, now: Any = None) -> bool:
        """Return whether the invitation can still be accepted."""
        return self.accepted_at is None and self.expires_at > (now or timezone.now())
