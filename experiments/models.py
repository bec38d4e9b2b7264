"""Experiments: two arms of contract versions, their traffic, ramp schedule, audit log and decisions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Project
from contracts_app.models import ContractVersion

CONTROL = "control"
TREATMENT = "treatment"
ARMS: tuple[str, str] = (CONTROL, TREATMENT)


class ExperimentQuerySet(models.QuerySet["Experiment"]):
    def running(self) -> ExperimentQuerySet:
        """Return the experiments whose traffic is being split now."""
        return self.filter(status=Experiment.Status.RUNNING)


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        PAUSED = "paused"
        ROLLED_BACK = "rolled_back", "rolled back"
        COMPLETED = "completed"

    class Metric(models.TextChoices):
        VIOLATION_RATE = "violation_rate", "violation rate"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="experiments")
    key = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    # The hash seed; empty means the key, as in GrowthBook.
    seed = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    # The share of users in the experiment (0-1); everybody else gets control.
    coverage = models.FloatField(default=0.0)
    # The split between control and treatment among the covered users; sums to 1.
    weights = models.JSONField(default=list)
    sticky = models.BooleanField(default=False)
    primary_metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.VIOLATION_RATE)
    alpha = models.FloatField(default=0.05)
    # Guardrails: how much worse the treatment may be before the ramp stops. Latency and
    # cost are relative (0.2 = 20% higher), the auto-fix failure rate is in absolute points.
    max_p95_latency_regression = models.FloatField(default=0.2)
    max_fix_failure_regression = models.FloatField(default=0.05)
    max_cost_regression = models.FloatField(default=0.1)
    # Guardrails are judged only once each arm has this many calls.
    guardrail_min_calls = models.PositiveIntegerField(default=200)
    # Index into the ramp steps; None before the schedule applies.
    current_step = models.PositiveIntegerField(null=True, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    ramp_finished_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The arm whose contract versions were made the active ones when the experiment finished.
    shipped = models.CharField(max_length=20, blank=True, default="", choices=[(a, a) for a in ARMS])
    # The numbers of the rollout job's latest pass, shown on the results page.
    last_evaluation = models.JSONField(default=dict, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="experiment_unique_key")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.key

    @property
    def hash_seed(self) -> str:
        """Return the seed the bucketing hashes with."""
        return self.seed or self.key

    @property
    def is_terminal(self) -> bool:
        """Return whether the experiment has ended for good."""
        return self.status in (self.Status.ROLLED_BACK, self.Status.COMPLETED)


class Variation(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variations")
    key = models.CharField(max_length=20, choices=[(a, a) for a in ARMS])
    contract_versions = models.ManyToManyField(ContractVersion, blank=True, related_name="variations")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "key"], name="variation_unique_key")]

    def __str__(self) -> str:
        return f"{self.experiment_id}:{self.key}"


class RampStep(models.Model):
    class Hold(models.TextChoices):
        MINUTES = "minutes", "a minimum time (minutes)"
        SAMPLE = "sample", "a minimum sample (calls per arm)"
        APPROVAL = "approval", "manual approval"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="ramp_steps")
    position = models.PositiveIntegerField()
    coverage = models.FloatField()
    hold = models.CharField(max_length=10, choices=Hold.choices, default=Hold.MINUTES)
    # Minutes or calls per arm; unused for manual approval.
    hold_value = models.PositiveIntegerField(default=0)
    # Calls each arm needs at this step before the ramp may move on, whatever the hold.
    min_calls = models.PositiveIntegerField(default=100)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "position"], name="rampstep_unique_position")
        ]
        ordering = ["experiment", "position"]

    @property
    def needed_calls(self) -> int:
        """Return the calls each arm needs at this step before the ramp moves on."""
        return max(self.min_calls, self.hold_value if self.hold == self.Hold.SAMPLE else 0)

    def describe(self) -> str:
        """Return the step's conditions in words."""
        calls = f"at least {self.needed_calls} calls per arm"
        if self.hold == self.Hold.MINUTES:
            return f"hold {self.hold_value} min and {calls}"
        if self.hold == self.Hold.SAMPLE:
            return f"hold until {calls}"
        return f"starts only when a person approves; then {calls}"

    def as_dict(self) -> dict[str, Any]:
        """Return the step as the audit log records it."""
        return {
            "coverage": self.coverage,
            "hold": self.hold,
            "hold_value": self.hold_value,
            "min_calls": self.min_calls,
        }


class AuditEntry(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="audit_entries")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Who acted, in words: a user name, an API key, or the rollout job.
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=30)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["experiment", "-at"], name="auditentry_experiment_time")]

    def changes(self) -> list[tuple[str, Any, Any]]:
        """Return (field, from, to) for each field the entry changed."""
        return [(name, self.before.get(name), value) for name, value in self.after.items()]

    @property
    def what(self) -> str:
        """Return the action in words."""
        return _ACTIONS.get(self.action, self.action.replace("_", " "))

    def sentences(self) -> list[str]:
        """Return each change as a sentence a person reads: "Coverage: 10% → 50%."."""
        out = []
        for name, old, new in self.changes():
            label = _LABELS.get(name, name.replace("_", " ").capitalize())
            if name == "reason":
                out.append(f"{new}")
            elif name in ("description", "seed") or self.action == "create":
                out.append(f"{label}: {_words(name, new)}.")
            else:
                out.append(f"{label}: {_words(name, old)} → {_words(name, new)}.")
        return out


_ACTIONS = {
    "create": "created the experiment",
    "update": "changed the settings",
    "start": "started it",
    "pause": "paused it",
    "rollback": "rolled it back",
    "set_coverage": "moved the traffic slider",
    "ramp": "moved to the next ramp step",
    "approve_step": "approved a ramp step",
    "ramp_finished": "finished the ramp",
    "ship": "shipped an arm",
}
_LABELS = {
    "coverage": "Coverage",
    "weights": "Split (control / treatment)",
    "current_step": "Ramp step",
    "max_p95_latency_regression": "Tolerated p95 latency increase",
    "max_fix_failure_regression": "Tolerated failed auto-fix increase",
    "max_cost_regression": "Tolerated cost increase",
    "guardrail_min_calls": "Calls per arm before guardrails are judged",
    "approved_step": "Approved",
    "in_production": "In production now",
    "shipped": "Shipped",
    "alpha": "Significance level",
}


def _words(name: str, value: Any) -> str:
    """Return a stored value in words: percent for shares, steps as their conditions."""
    if value is None or value == [] or value == "":
        return "none"
    if name in ("coverage", "alpha", "max_p95_latency_regression", "max_cost_regression"):
        return f"{float(value):.0%}" if name != "alpha" else f"{float(value):g}"
    if name == "max_fix_failure_regression":
        return f"{float(value) * 100:g} points"
    if name == "weights":
        return " / ".join(f"{float(w):.0%}" for w in value)
    if name == "current_step":
        return f"step {int(value) + 1}"
    if name == "ramp":
        steps = []
        for step in value:
            hold = {
                "minutes": f"hold {step.get('hold_value')} min",
                "sample": f"hold until {step.get('hold_value')} calls per arm",
                "approval": "waits for approval",
            }.get(step.get("hold"), str(step.get("hold")))
            steps.append(f"{float(step.get('coverage', 0)):.0%} {hold}")
        return "; ".join(steps)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v).replace("@", " v") for v in value)
    return str(value).replace("_", " ")


class Decision(models.Model):
    class Action(models.TextChoices):
        ADVANCE = "advance"
        RAMP_FINISHED = "ramp_finished", "ramp finished"
        HOLD = "hold"
        PAUSE = "pause"
        ROLLBACK = "rollback"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="decisions")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=15, choices=Action.choices)
    reason = models.TextField()
    step = models.PositiveIntegerField(null=True, blank=True)
    # The figures the decision was taken on: counts, rates, intervals, p-values.
    numbers = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["experiment", "-at"], name="decision_experiment_time")]


class Exposure(models.Model):
    """One call in one experiment's arm: the unit the arms are compared on, written at ingest."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # The experiment's key and the arm, as the call's events carry them.
    experiment = models.CharField(max_length=200)
    variant = models.CharField(max_length=200)
    call_id = models.CharField(max_length=64)
    # When the control plane received the call's first event (its clock, as the rollout job's).
    at = models.DateTimeField()
    violated = models.BooleanField(default=False)
    fix_attempted = models.BooleanField(default=False)
    fix_failed = models.BooleanField(default=False)
    llm_latency_ms = models.FloatField(null=True, blank=True)
    tokens = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "experiment", "call_id"], name="exposure_unique_call")
        ]
        indexes = [models.Index(fields=["project", "experiment", "at"], name="exposure_experiment_time")]
