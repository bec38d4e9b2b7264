"""Contracts and their versions, audit and profiles, debugger traces and breakpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Project
from dashboard.lib.immutable import ImmutableModel
from telemetry.models import ValidationEvent


class Contract(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="contracts")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # A saved version is a draft: SDKs pull ``active_version`` and only while ``active``.
    active = models.BooleanField(default=False)
    active_version = models.ForeignKey(
        "ContractVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="contract_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def running_version(self) -> int | None:
        """Return the version number SDKs enforce now (None: nothing runs)."""
        return self.active_version.version if self.active and self.active_version else None


class ContractVersion(ImmutableModel):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    source = models.TextField()
    spec = models.JSONField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "version"], name="contractversion_unique")]
        ordering = ["contract", "-version"]


class ContractAuditEntry(models.Model):
    """One deploy-side change of a contract: an activation, a roll back, a deactivation."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="audit_entries")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Who acted, in words: a user name, or the job that did it (an experiment shipping a winner).
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=30)
    from_version = models.PositiveIntegerField(null=True, blank=True)
    to_version = models.PositiveIntegerField(null=True, blank=True)
    calls_per_hour = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["contract", "-at"], name="contractaudit_contract_time")]


class Trace(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="traces")
    trace_id = models.CharField(max_length=64)
    call_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    breakpoint = models.ForeignKey(
        "Breakpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="traces"
    )
    outcome = models.CharField(max_length=10, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    steps = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "trace_id"], name="trace_unique_trace_id")]
        indexes = [
            models.Index(fields=["project", "created_at"], name="trace_project_time"),
            # A breakpoint's captures, a page at a time, and its captures of the last minute.
            models.Index(fields=["breakpoint", "-received_at", "-id"], name="trace_breakpoint_time"),
        ]


class Breakpoint(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="breakpoints")
    contract = models.CharField(max_length=200)
    severity = models.CharField(
        max_length=10, choices=ValidationEvent.Severity.choices, null=True, blank=True
    )
    model = models.CharField(max_length=200, null=True, blank=True)
    input_contains = models.CharField(max_length=500, null=True, blank=True)
    output_contains = models.CharField(max_length=500, null=True, blank=True)
    active = models.BooleanField(default=True)
    hit_count = models.PositiveIntegerField(default=0)
    limit = models.PositiveIntegerField(null=True, blank=True)
    # Captures kept per minute at most; the SDKs pull it and hold back above it too.
    rate_per_minute = models.PositiveIntegerField(null=True, blank=True, default=10)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    @property
    def remaining(self) -> int | None:
        """Return how many more hits the limit allows (None: no limit)."""
        return None if self.limit is None else max(0, self.limit - self.hit_count)


class VersionProfile(models.Model):
    """What each check of a saved contract version costs, measured by a bounded background job.

    The pasted cases are kept only until the job has read them: a finished profile holds
    the measurements (``ProfileReport.to_dict()``), never the texts it was measured on.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="profiles")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    runs = models.PositiveSmallIntegerField()
    case_count = models.PositiveSmallIntegerField()
    cases = models.JSONField(default=list)
    result = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def seconds(self) -> float | None:
        """How long the job ran, once it has."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
