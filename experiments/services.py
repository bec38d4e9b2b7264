"""Writes and rules of experiments: every change writes an audit entry in the same transaction."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import ApiKey, Project
from contracts_app import services as contract_services
from contracts_app.models import ContractVersion
from dashboard.lib.errors import NotFound, ServiceError
from dashboard.lib.webhooks import webhook_enqueue
from experiments import selectors
from experiments.models import (
    ARMS,
    CONTROL,
    TREATMENT,
    AuditEntry,
    Decision,
    Experiment,
    Exposure,
    RampStep,
    Variation,
)

logger = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
Status = Experiment.Status


class Conflict(ServiceError):
    """A change the experiment's current status does not allow."""

    status = 409


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user, an API key, or the rollout job."""

    label: str
    user: AbstractBaseUser | None = None

    @classmethod
    def of_user(cls, user: Any) -> Actor:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def of_key(cls, key: ApiKey) -> Actor:
        return cls(label=f"API key {key.name} ({key.prefix}…)", user=None)


ROLLOUT_JOB = Actor(label="rollout job")


# Audit.


def _snapshot(experiment: Experiment) -> dict[str, Any]:
    arms = selectors.arm_versions(experiment=experiment) if experiment.pk else {a: [] for a in ARMS}
    return {
        "status": experiment.status,
        "description": experiment.description,
        "seed": experiment.seed,
        "coverage": experiment.coverage,
        "weights": list(experiment.weights),
        "sticky": experiment.sticky,
        "alpha": experiment.alpha,
        "max_p95_latency_regression": experiment.max_p95_latency_regression,
        "max_fix_failure_regression": experiment.max_fix_failure_regression,
        "max_cost_regression": experiment.max_cost_regression,
        "guardrail_min_calls": experiment.guardrail_min_calls,
        "current_step": experiment.current_step,
        **{arm: [f"{v.contract.name}@{v.version}" for v in arms[arm]] for arm in ARMS},
        "ramp": [s.as_dict() for s in selectors.ramp_steps(experiment=experiment)] if experiment.pk else [],
    }


def _audit(
    experiment: Experiment, actor: Actor, action: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> AuditEntry | None:
    # Only what changed: an entry reads as "coverage 0.1 -> 0.5", not as two whole snapshots.
    changed = [k for k in after if before.get(k) != after[k]]
    if not changed and action == "update":
        return None
    return AuditEntry.objects.create(
        experiment=experiment,
        actor=actor.user,
        actor_label=actor.label[:150],
        action=action,
        before={k: before.get(k) for k in changed},
        after={k: after[k] for k in changed},
    )


def _locked(experiment: Experiment) -> Experiment:
    # Every write re-reads the row under a lock, so a page, the API and the rollout job
    # never act on a status another of them has just changed.
    return Experiment.objects.select_for_update().get(pk=experiment.pk)


def _touch(experiment: Experiment, *fields: str) -> None:
    experiment.updated_at = timezone.now()
    experiment.save(update_fields=[*fields, "updated_at"])


# Validation: each error names the field.


def _fraction(value: Any, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ServiceError(f"{field} must be a number between 0 and 1", field=field) from None
    if not math.isfinite(number) or not 0 <= number <= 1:
        raise ServiceError(f"{field} must be between 0 and 1, got {value!r}", field=field)
    return number


def _weights(value: Any) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ServiceError("weights must be two numbers: control, treatment", field="weights")
    weights = [_fraction(w, "weights") for w in value]
    if not math.isclose(sum(weights), 1.0, abs_tol=1e-6) or min(weights) <= 0:
        raise ServiceError("weights must be two positive numbers that sum to 1", field="weights")
    return weights


def _non_negative(value: Any, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ServiceError(f"{field} must be a number", field=field) from None
    if not math.isfinite(number) or number < 0:
        raise ServiceError(f"{field} must be zero or more, got {value!r}", field=field)
    return number


def _versions(project: Project, refs: Iterable[Any], field: str) -> list[ContractVersion]:
    """Resolve version ids, or {"name", "version"} references, to the project's contract versions."""
    ids: set[int] = set()
    found: list[ContractVersion] = []
    in_project = ContractVersion.objects.filter(contract__project=project).select_related("contract")
    for ref in refs:
        if isinstance(ref, Mapping):
            version = in_project.filter(contract__name=ref.get("name"), version=ref.get("version")).first()
            if version is None:
                raise ServiceError(
                    f"{field}: no version {ref.get('version')} of contract {ref.get('name')!r} "
                    "in this project",
                    field=field,
                )
            found.append(version)
            continue
        try:
            ids.add(int(ref))
        except (TypeError, ValueError):
            raise ServiceError(f"{field} must list contract versions", field=field) from None
    by_id = list(in_project.filter(pk__in=ids))
    missing = ids - {v.pk for v in by_id}
    if missing:
        raise ServiceError(
            f"{field}: no contract version {', '.join(map(str, sorted(missing)))} in this project",
            field=field,
        )
    found = list({v.pk: v for v in [*found, *by_id]}.values())
    names = [v.contract.name for v in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ServiceError(
            f"{field}: one version per contract, got several of {', '.join(twice)}", field=field
        )
    return found


def _steps(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        raise ServiceError("ramp must be a list of steps", field="ramp")
    steps: list[dict[str, Any]] = []
    for i, raw in enumerate(value):
        where = f"ramp.{i}"
        if not isinstance(raw, Mapping):
            raise ServiceError(f"{where} must be an object with coverage, hold and hold_value", field=where)
        coverage = _fraction(raw.get("coverage"), f"{where}.coverage")
        hold = raw.get("hold", RampStep.Hold.MINUTES)
        if hold not in RampStep.Hold.values:
            raise ServiceError(
                f"{where}.hold must be one of {', '.join(RampStep.Hold.values)}", field=f"{where}.hold"
            )
        hold_value = raw.get("hold_value", 0)
        if isinstance(hold_value, bool) or not str(hold_value).isdigit():
            raise ServiceError(f"{where}.hold_value must be a whole number", field=f"{where}.hold_value")
        if hold != RampStep.Hold.APPROVAL and int(hold_value) < 1:
            raise ServiceError(f"{where}.hold_value must be at least 1", field=f"{where}.hold_value")
        if steps and coverage <= steps[-1]["coverage"]:
            raise ServiceError(f"{where}.coverage must be above the step before", field=f"{where}.coverage")
        min_calls = raw.get("min_calls", 100)
        if isinstance(min_calls, bool) or not str(min_calls).isdigit() or int(min_calls) < 1:
            raise ServiceError(
                f"{where}.min_calls must be a whole number of at least 1", field=f"{where}.min_calls"
            )
        steps.append(
            {"coverage": coverage, "hold": hold, "hold_value": int(hold_value), "min_calls": int(min_calls)}
        )
    return steps


_SETTINGS: dict[str, Any] = {
    "description": str,
    "seed": str,
    "sticky": bool,
    "alpha": None,
    "max_p95_latency_regression": None,
    "max_fix_failure_regression": None,
    "max_cost_regression": None,
    "guardrail_min_calls": None,
}
# What may change only before the experiment starts: the analysis assumes them fixed.
_DRAFT_ONLY = ("seed", "weights", CONTROL, TREATMENT)


def _apply(experiment: Experiment, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``changes`` and set the plain fields; return the arm and ramp changes to write."""
    allowed = {*_SETTINGS, "weights", "coverage", "ramp", CONTROL, TREATMENT}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ServiceError(f"unknown fields: {', '.join(unknown)}", field=unknown[0])
    if experiment.pk and experiment.status != Status.DRAFT:
        for name in _DRAFT_ONLY:
            if name in changes:
                raise Conflict(f"{name} can only change while the experiment is a draft", field=name)
    if experiment.is_terminal:
        raise Conflict(
            f"the experiment is {experiment.get_status_display()}: it cannot change", field="status"
        )
    later: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("description", "seed"):
            if not isinstance(value, str) or (name == "seed" and len(value) > 100):
                raise ServiceError(f"{name} must be text", field=name)
            setattr(experiment, name, value)
        elif name == "sticky":
            setattr(experiment, name, bool(value))
        elif name == "alpha":
            alpha = _fraction(value, "alpha")
            if not 0 < alpha <= 0.2:
                raise ServiceError("alpha must be above 0 and at most 0.2", field="alpha")
            experiment.alpha = alpha
        elif name == "guardrail_min_calls":
            experiment.guardrail_min_calls = int(_non_negative(value, name))
        elif name.startswith("max_"):
            setattr(experiment, name, _non_negative(value, name))
        elif name == "weights":
            experiment.weights = _weights(value)
        elif name == "coverage":
            experiment.coverage = _fraction(value, "coverage")
        elif name == "ramp":
            later["ramp"] = _steps(value)
        else:
            later[name] = _versions(experiment.project, value or [], name)
    return later


def _write_arms_and_ramp(experiment: Experiment, later: Mapping[str, Any]) -> None:
    for arm in ARMS:
        if arm in later:
            variation, _ = Variation.objects.get_or_create(experiment=experiment, key=arm)
            variation.contract_versions.set(later[arm])
    if "ramp" in later:
        experiment.ramp_steps.all().delete()
        RampStep.objects.bulk_create(
            RampStep(experiment=experiment, position=i, **step) for i, step in enumerate(later["ramp"])
        )
        if experiment.current_step is not None and experiment.current_step >= len(later["ramp"]):
            # The step the experiment was on is gone: the slider takes over.
            experiment.current_step = None
            experiment.save(update_fields=["current_step"])


# Experiments.


def experiment_create(*, project: Project, key: str, actor: Actor, **fields: Any) -> Experiment:
    """Create a draft experiment with its two arms (contract version ids) and ramp schedule."""
    # "new" is the address of the create page.
    if not isinstance(key, str) or not _KEY.match(key) or key == "new":
        raise ServiceError(
            "key must be 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit",
            field="key",
        )
    fields.setdefault("weights", [0.5, 0.5])
    with transaction.atomic():
        if Experiment.objects.filter(project=project, key=key).exists():
            raise Conflict(f"an experiment with the key {key!r} exists in this project", field="key")
        experiment = Experiment(project=project, key=key, created_by=actor.user)
        later = _apply(experiment, fields)
        experiment.save()
        for arm in ARMS:
            Variation.objects.create(experiment=experiment, key=arm)
        _write_arms_and_ramp(experiment, later)
        _audit(experiment, actor, "create", {}, _snapshot(experiment))
    return experiment


def experiment_update(*, experiment: Experiment, actor: Actor, **changes: Any) -> Experiment:
    """Change an experiment's settings, arms (drafts only) or ramp schedule."""
    with transaction.atomic():
        experiment = _locked(experiment)
        before = _snapshot(experiment)
        later = _apply(experiment, changes)
        _touch(experiment, *[k for k in changes if k not in ("ramp", CONTROL, TREATMENT)])
        _write_arms_and_ramp(experiment, later)
        _audit(experiment, actor, "update", before, _snapshot(experiment))
    return experiment


def _transition(
    experiment: Experiment, actor: Actor, action: str, allowed: Sequence[str], change: Any
) -> Experiment:
    with transaction.atomic():
        experiment = _locked(experiment)
        if experiment.status not in allowed:
            raise Conflict(
                f"cannot {action} an experiment that is {experiment.get_status_display()}", field="status"
            )
        before = _snapshot(experiment)
        change(experiment)
        experiment.updated_at = timezone.now()
        experiment.save()
        _audit(experiment, actor, action, before, _snapshot(experiment))
    return experiment


def _refuse_overlap(experiment: Experiment, names: set[str]) -> None:
    """Refuse to run two experiments on the same contract: a user would get both variants."""
    # The project's row lock makes two concurrent starts take turns here.
    Project.objects.select_for_update().filter(pk=experiment.project_id).first()
    others = (
        Experiment.objects.filter(
            project_id=experiment.project_id, status__in=(Status.RUNNING, Status.PAUSED)
        )
        .exclude(pk=experiment.pk)
        .order_by("key")
    )
    for other in others:
        shared = names & {
            v.contract.name
            for versions in selectors.arm_versions(experiment=other).values()
            for v in versions
        }
        if shared:
            raise Conflict(
                f"experiment {other.key!r} is {other.status} on the same contract "
                f"({', '.join(sorted(shared))}); experiments on one contract are mutually exclusive: "
                f"complete or roll back {other.key!r} first",
                field="status",
            )


def experiment_start(*, experiment: Experiment, actor: Actor, now: datetime | None = None) -> Experiment:
    """Start a draft (on the first ramp step, if there is a schedule) or resume a paused experiment."""
    now = now or timezone.now()

    def start(e: Experiment) -> None:
        arms = selectors.arm_versions(experiment=e)
        if [v.pk for v in arms[CONTROL]] == [v.pk for v in arms[TREATMENT]]:
            raise ServiceError("the treatment must differ from the control", field=TREATMENT)
        _refuse_overlap(e, {v.contract.name for versions in arms.values() for v in versions})
        steps = selectors.ramp_steps(experiment=e)
        if e.status == Status.DRAFT and steps:
            e.current_step, e.coverage = 0, steps[0].coverage
            if steps[0].hold == RampStep.Hold.APPROVAL and steps[0].approved_at is None:
                # Starting is the person's approval of the first step.
                steps[0].approved_at, steps[0].approved_by = now, actor.user
                steps[0].save(update_fields=["approved_at", "approved_by"])
        if e.coverage <= 0:
            raise ServiceError("coverage must be above 0 to start, or add a ramp schedule", field="coverage")
        e.status = Status.RUNNING
        e.started_at = e.started_at or now
        # A resumed experiment holds its step again from now, and is not judged
        # "without traffic" for the time it was paused.
        e.step_started_at = now

    return _transition(experiment, actor, "start", (Status.DRAFT, Status.PAUSED), start)


def experiment_pause(*, experiment: Experiment, actor: Actor) -> Experiment:
    """Pause a running experiment: everybody gets control until it is resumed."""

    def pause(e: Experiment) -> None:
        e.status = Status.PAUSED

    return _transition(experiment, actor, "pause", (Status.RUNNING,), pause)


def experiment_rollback(*, experiment: Experiment, actor: Actor, now: datetime | None = None) -> Experiment:
    """End the experiment for good and send all traffic to control."""

    def rollback(e: Experiment) -> None:
        e.status, e.coverage, e.ended_at = Status.ROLLED_BACK, 0.0, now or timezone.now()

    return _transition(experiment, actor, "rollback", (Status.RUNNING, Status.PAUSED), rollback)


def _activate(version: ContractVersion, actor: Actor, *, experiment_key: str) -> ContractVersion:
    """Make ``version`` the one the project's SDKs enforce, through the contracts' audited deploy."""
    contract = type(version.contract).objects.get(pk=version.contract_id)
    if contract.running_version != version.version:
        contract_services.contract_version_activate(
            contract_version=version,
            actor=actor.user,
            actor_label=f"{actor.label} (experiment {experiment_key})",
            reason=f"shipped by experiment {experiment_key}",
        )
    return version


def experiment_ship(
    *, experiment: Experiment, actor: Actor, arm: str, now: datetime | None = None
) -> Experiment:
    """Finish the experiment by shipping one arm: its contract versions become the active ones for all."""
    if arm not in ARMS:
        raise ServiceError(f"arm must be {CONTROL!r} or {TREATMENT!r}, got {arm!r}", field="arm")
    now = now or timezone.now()
    with transaction.atomic():
        experiment = _locked(experiment)
        if experiment.status not in (Status.RUNNING, Status.PAUSED):
            raise Conflict(
                f"cannot finish an experiment that is {experiment.get_status_display()}", field="status"
            )
        before = _snapshot(experiment)
        shipped = [
            _activate(v, actor, experiment_key=experiment.key)
            for v in selectors.arm_versions(experiment=experiment)[arm]
        ]
        experiment.status, experiment.ended_at, experiment.shipped = Status.COMPLETED, now, arm
        # Nobody is split any more: everybody gets the shipped versions from the project's contracts.
        experiment.coverage = 0.0
        experiment.updated_at = now
        experiment.save()
        after = _snapshot(experiment) | {
            "shipped": arm,
            "in_production": [f"{v.contract.name}@{v.version}" for v in shipped],
        }
        _audit(experiment, actor, "ship", before, after)
    return experiment


def experiment_set_coverage(*, experiment: Experiment, actor: Actor, coverage: Any) -> Experiment:
    """Set the share of users in the experiment (the slider); growing it only adds users."""
    value = _fraction(coverage, "coverage")
    current = Experiment.objects.filter(pk=experiment.pk).values_list("coverage", "status").first()
    if current is not None and current[0] == value and current[1] != Status.ROLLED_BACK:
        # A slider released where it was writes nothing (and logs nothing).
        experiment.refresh_from_db()
        return experiment

    def set_coverage(e: Experiment) -> None:
        e.coverage = value

    return _transition(
        experiment, actor, "set_coverage", (Status.DRAFT, Status.RUNNING, Status.PAUSED), set_coverage
    )


def _advance(experiment: Experiment, step: RampStep, now: datetime) -> None:
    experiment.current_step, experiment.coverage, experiment.step_started_at = (
        step.position,
        step.coverage,
        now,
    )


def experiment_ramp(*, experiment: Experiment, actor: Actor, now: datetime | None = None) -> Experiment:
    """Move a running experiment to its next ramp step now, whatever the hold condition."""
    now = now or timezone.now()

    def ramp(e: Experiment) -> None:
        step = selectors.next_step(experiment=e)
        if step is None:
            raise Conflict("there is no further ramp step", field="ramp")
        _advance(e, step, now)

    return _transition(experiment, actor, "ramp", (Status.RUNNING,), ramp)


def experiment_approve_step(
    *, experiment: Experiment, actor: Actor, now: datetime | None = None
) -> Experiment:
    """Approve the next ramp step, which waits for a person; the job moves on once this step is done."""
    now = now or timezone.now()
    with transaction.atomic():
        experiment = _locked(experiment)
        step = selectors.next_step(experiment=experiment)
        if experiment.status != Status.RUNNING or step is None or step.hold != RampStep.Hold.APPROVAL:
            raise Conflict("the next step does not wait for an approval", field="ramp")
        if step.approved_at is None:
            step.approved_at, step.approved_by = now, actor.user
            step.save(update_fields=["approved_at", "approved_by"])
            _audit(
                experiment,
                actor,
                "approve_step",
                {"approved_step": None},
                {"approved_step": f"step {step.position + 1} ({step.coverage:.0%})"},
            )
    return experiment


def experiment_for_project(*, project: Project, key: str) -> Experiment:
    """Return the project's experiment ``key`` or raise :class:`NotFound`."""
    experiment = selectors.experiment_get(project=project, key=key)
    if experiment is None:
        raise NotFound(f"no experiment {key!r} in this project", field="key")
    return experiment


# Exposures: one row per call in an experiment, written at ingest.

_EXPOSURE_UPSERT = """
INSERT INTO {t} (project_id, experiment, variant, call_id, at, violated, fix_attempted, fix_failed,
                 llm_latency_ms, tokens)
{values}
ON CONFLICT (project_id, experiment, call_id) DO UPDATE SET
    at = CASE WHEN EXCLUDED.at < {t}.at THEN EXCLUDED.at ELSE {t}.at END,
    violated = {t}.violated OR EXCLUDED.violated,
    fix_attempted = {t}.fix_attempted OR EXCLUDED.fix_attempted,
    fix_failed = {t}.fix_failed OR EXCLUDED.fix_failed,
    llm_latency_ms = CASE WHEN {t}.llm_latency_ms IS NULL OR EXCLUDED.llm_latency_ms > {t}.llm_latency_ms
                          THEN EXCLUDED.llm_latency_ms ELSE {t}.llm_latency_ms END,
    tokens = CASE WHEN {t}.tokens IS NULL OR EXCLUDED.tokens > {t}.tokens
                  THEN EXCLUDED.tokens ELSE {t}.tokens END
"""


def exposures_record(*, project: Project, events: Iterable[Mapping[str, Any]], now: datetime) -> int:
    """Record the calls of newly stored events that ran in an experiment; return how many rows were written.

    A call reports one event per contract; each repeats the call's experiment, variant,
    tokens and LLM latency. The call is the unit: it violated when any of its events
    did, its fix failed when any attempted fix failed. A call's events may come in
    several batches, so a row is merged with the one already stored (an upsert); the
    merge is idempotent, so a resent event changes nothing.
    """
    calls: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        experiment, variant, call_id = event.get("experiment"), event.get("variant"), event.get("call_id")
        if not experiment or not variant or not call_id:
            continue
        row = calls.setdefault(
            (experiment, call_id),
            {
                "variant": variant,
                "violated": False,
                "fix_attempted": False,
                "fix_failed": False,
                "latency": None,
                "tokens": None,
            },
        )
        row["violated"] |= event.get("is_valid") is False
        attempted = bool(event.get("auto_fix_attempted"))
        row["fix_attempted"] |= attempted
        row["fix_failed"] |= attempted and not event.get("auto_fix_succeeded")
        latency = event.get("llm_latency_ms")
        if latency is not None and (row["latency"] is None or latency > row["latency"]):
            row["latency"] = latency
        if event.get("prompt_tokens") is not None or event.get("completion_tokens") is not None:
            tokens = (event.get("prompt_tokens") or 0) + (event.get("completion_tokens") or 0)
            row["tokens"] = max(tokens, row["tokens"] or 0)
    if not calls:
        return 0
    table = Exposure._meta.db_table
    if connection.vendor == "postgresql":
        # All the calls of a batch in one statement, as one JSON document the server reads
        # into rows: a statement per call cost a round trip each, a VALUES list as many
        # client-quoted parameters, and ten bound arrays a Python loop per element in the
        # driver (json.dumps is C). Each call's key appears once (``calls`` is keyed by it),
        # as one statement's upsert needs.
        document = json.dumps(
            [
                {
                    "experiment": experiment,
                    "call_id": call_id,
                    "variant": row["variant"],
                    "violated": row["violated"],
                    "fix_attempted": row["fix_attempted"],
                    "fix_failed": row["fix_failed"],
                    "llm_latency_ms": row["latency"],
                    "tokens": row["tokens"],
                }
                for (experiment, call_id), row in calls.items()
            ]
        )
        values = (
            "SELECT %s::int8, experiment, variant, call_id, %s::timestamptz, violated, fix_attempted, "
            "fix_failed, llm_latency_ms, tokens FROM json_to_recordset(%s::json) AS x(experiment text, "
            "variant text, call_id text, violated bool, fix_attempted bool, fix_failed bool, "
            "llm_latency_ms float8, tokens int8)"
        )
        with connection.cursor() as cursor:
            cursor.execute(_EXPOSURE_UPSERT.format(t=table, values=values), [project.pk, now, document])
        return len(calls)
    params = [
        (
            project.pk,
            experiment,
            row["variant"],
            call_id,
            now,
            row["violated"],
            row["fix_attempted"],
            row["fix_failed"],
            row["latency"],
            row["tokens"],
        )
        for (experiment, call_id), row in calls.items()
    ]
    values = "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    with connection.cursor() as cursor:
        cursor.executemany(_EXPOSURE_UPSERT.format(t=table, values=values), params)
    return len(params)


# The rollout job.


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _gate(
    experiment: Experiment,
    analysis: selectors.Analysis,
    step: RampStep,
    following: RampStep | None,
    now: datetime,
) -> tuple[str | None, str, dict[str, Any]]:
    """Return why the ramp must hold at ``step`` (None: it may move on), a sentence, and the numbers."""
    since = experiment.step_started_at or now
    calls = selectors.calls_since(experiment=experiment, since=since, until=now)
    minutes = (now - since).total_seconds() / 60
    numbers: dict[str, Any] = {
        "step": step.position,
        "condition": step.describe(),
        "minutes_held": round(minutes, 2),
        "step_calls": calls,
        "needed_calls": step.needed_calls,
    }
    here = f"Holding at {experiment.coverage:.0%} (step {step.position + 1})"
    if step.hold == RampStep.Hold.MINUTES and minutes < step.hold_value:
        return (
            "time",
            f"{here}: the step holds {step.hold_value} minutes; {minutes:.0f} have passed.",
            numbers,
        )
    if step.hold == RampStep.Hold.APPROVAL and step.approved_at is None:
        return "approval", f"{here}: waiting for a person to approve this step.", numbers
    if min(calls.values()) < step.needed_calls:
        return (
            "calls",
            f"{here}: each arm needs {step.needed_calls} calls at this step; control has {calls[CONTROL]}, "
            f"treatment {calls[TREATMENT]}.",
            numbers,
        )
    insufficient = [g.label for g in analysis.guardrails if g.status == "insufficient"]
    if insufficient:
        c, t = analysis.arms[CONTROL].calls, analysis.arms[TREATMENT].calls
        return (
            "insufficient",
            f"{here}: guardrails cannot be judged yet ({', '.join(insufficient)}): they need "
            f"{experiment.guardrail_min_calls} calls per arm; control has {c}, treatment {t}.",
            numbers,
        )
    if analysis.regressed:
        parts = [f"{g.label} {_change(g)} (tolerated {_tolerance(g)})" for g in analysis.regressed]
        return "regressed", f"{here}: guardrail regressed past its tolerance: {'; '.join(parts)}.", numbers
    if following is not None and following.hold == RampStep.Hold.APPROVAL and following.approved_at is None:
        return (
            "approval",
            f"{here}: this step is done; going to {following.coverage:.0%} waits for a person's approval.",
            numbers,
        )
    return None, "", numbers


def _change(g: selectors.Guardrail) -> str:
    if g.change is None:
        return "unchanged"
    if g.name == "fix_failure_rate":
        return f"{g.change * 100:+.1f} points"
    return "+∞%" if math.isinf(g.change) else f"{g.change:+.0%}"


def _tolerance(g: selectors.Guardrail) -> str:
    return f"+{g.tolerance * 100:.1f} points" if g.name == "fix_failure_rate" else f"+{g.tolerance:.0%}"


def _signed(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "+∞%" if math.isinf(value) else f"{value:+.0%}"


def _figure(g: selectors.Guardrail, value: float | None) -> str:
    if value is None:
        return "–"
    if g.name == "fix_failure_rate":
        return f"{value:.1%}"
    return f"{value:.0f} ms" if g.name == "p95_latency" else f"{value:.0f} tokens"


def _comparison(analysis: selectors.Analysis) -> str:
    """Return the primary metric's comparison in words."""
    c, t = analysis.arms[CONTROL], analysis.arms[TREATMENT]
    verdict = (
        "significantly worse"
        if analysis.treatment_worse
        else "significantly better"
        if analysis.treatment_better
        else "no significant difference yet"
    )
    return (
        f"violation rate control {_pct(c.violation_rate)} of {c.calls} calls, treatment "
        f"{_pct(t.violation_rate)} of {t.calls} calls ({verdict})"
    )


def _decide(
    experiment: Experiment,
    action: str,
    reason: str,
    numbers: dict[str, Any],
    now: datetime,
    *,
    why: str | None = None,
) -> Decision | None:
    if action == Decision.Action.HOLD:
        # A hold is logged when it starts (or its cause changes), not again every few
        # minutes while it lasts: its numbers would differ but the decision does not.
        last = experiment.decisions.first()
        if (
            last
            and last.action == action
            and last.step == experiment.current_step
            and last.numbers.get("why") == why
        ):
            return None
        numbers = numbers | {"why": why}
    return Decision.objects.create(
        experiment=experiment,
        at=now,
        action=action,
        reason=reason,
        step=experiment.current_step,
        numbers=numbers,
    )


def _evaluate(experiment: Experiment, now: datetime) -> Decision | None:
    """Decide on one running, locked experiment; write the change, its audit entry and the decision."""
    analysis = selectors.experiment_analysis(experiment=experiment, until=now)
    numbers = analysis.numbers()
    experiment.last_evaluation, experiment.last_evaluated_at = numbers, now
    experiment.save(update_fields=["last_evaluation", "last_evaluated_at"])
    before = _snapshot(experiment)

    def act(action: Any, reason: str, change: Any, audit_action: str) -> Decision | None:
        change()
        experiment.updated_at = now
        experiment.save()
        _audit(experiment, ROLLOUT_JOB, audit_action, before, _snapshot(experiment) | {"reason": reason})
        return _decide(experiment, action, reason, numbers, now)

    def pause() -> None:
        experiment.status = Status.PAUSED

    def rollback() -> None:
        experiment.status, experiment.coverage, experiment.ended_at = Status.ROLLED_BACK, 0.0, now

    # Rolling back protects users; it comes before the checks that only pause.
    if analysis.treatment_worse:
        reason = (
            f"Rolled back: the treatment's violation rate is significantly higher; {_comparison(analysis)}; "
            f"relative change {_signed(analysis.relative)}, always-valid interval "
            f"{_signed(analysis.seq_low)} to {_signed(analysis.seq_high)}."
        )
        return act(Decision.Action.ROLLBACK, reason, rollback, "rollback")
    if analysis.worse:
        parts = [
            f"{g.label} control {_figure(g, g.control)}, treatment {_figure(g, g.treatment)} "
            f"({_change(g)}, tolerated {_tolerance(g)})"
            for g in analysis.worse
        ]
        reason = f"Rolled back: guardrail significantly worse: {'; '.join(parts)}."
        return act(Decision.Action.ROLLBACK, reason, rollback, "rollback")
    if analysis.srm_mismatch:
        c, t = analysis.arms[CONTROL].calls, analysis.arms[TREATMENT].calls
        reason = (
            f"Paused: sample ratio mismatch: control {c} and treatment {t} calls do not fit the planned "
            f"split {experiment.weights[0]:.0%} / {experiment.weights[1]:.0%} (p = {analysis.srm_p:.1e}, "
            f"below {selectors.SRM_P_VALUE})."
        )
        return act(Decision.Action.PAUSE, reason, pause, "pause")
    window = selectors.no_traffic_window()
    if experiment.step_started_at is not None and now - experiment.step_started_at >= window:
        numbers["recent_calls"], idle = selectors.idle_arms(
            experiment=experiment, since=now - window, until=now
        )
        if idle:
            reason = (
                f"Paused: no traffic in {' and '.join(idle)} for {int(window.total_seconds() // 60)} minutes."
            )
            return act(Decision.Action.PAUSE, reason, pause, "pause")

    steps = selectors.ramp_steps(experiment=experiment)
    step = selectors.current_step(experiment=experiment, steps=steps)
    if step is None or experiment.ramp_finished_at is not None:
        return None
    following = selectors.next_step(experiment=experiment, steps=steps)
    why, sentence, numbers["hold"] = _gate(experiment, analysis, step, following, now)
    if why is not None:
        return _decide(experiment, Decision.Action.HOLD, sentence, numbers, now, why=why)
    calls = numbers["hold"]["step_calls"]
    done = (
        f"step {step.position + 1} is done ({step.describe()}: control {calls[CONTROL]}, "
        f"treatment {calls[TREATMENT]} calls at this step); {_comparison(analysis)}; no guardrail regressed"
    )
    if following is None:

        def finish() -> None:
            experiment.ramp_finished_at = now

        return act(
            Decision.Action.RAMP_FINISHED,
            f"Ramp finished at {experiment.coverage:.0%}: {done}.",
            finish,
            "ramp_finished",
        )
    reason = f"Advanced from {experiment.coverage:.0%} to {following.coverage:.0%}: {done}."
    return act(Decision.Action.ADVANCE, reason, lambda: _advance(experiment, following, now), "ramp")


def _claim(experiment_id: int) -> Experiment | None:
    """Lock one running experiment for this worker, or return None if another worker has it."""
    qs = Experiment.objects.filter(pk=experiment_id, status=Status.RUNNING)
    if connection.vendor == "postgresql":
        # A second worker skips the row instead of queueing behind it; when it gets there
        # after the first committed, it re-reads the new status and the new step.
        return qs.select_for_update(skip_locked=True, of=("self",)).select_related("project").first()
    # SQLite has no row locks: a write as the first statement takes the database's write
    # lock, so a second worker waits here and then sees the first one's changes.
    if not qs.update(updated_at=timezone.now()):
        return None
    return qs.select_related("project").first()


def _notify(experiment: Experiment, decision: Decision) -> None:
    """Queue the project's webhook message for a rollback (checked against SSRF when sent)."""
    url = experiment.project.alert_webhook_url
    if not url:
        return
    payload = {
        "event": "experiment.rolled_back",
        "project": experiment.project.slug,
        "experiment": experiment.key,
        "reason": decision.reason,
        "numbers": decision.numbers,
        "at": decision.at.isoformat(),
    }
    webhook_enqueue(url=url, payload=payload, what=f"experiment {experiment.key} webhook")


def rollout_evaluate_all(*, now: datetime | None = None) -> list[Decision]:
    """Check every running experiment: advance, hold, pause or roll back; return the decisions taken."""
    now = now or timezone.now()
    taken: list[Decision] = []
    for experiment_id in Experiment.objects.running().values_list("pk", flat=True):
        # One transaction per experiment: a failure in one leaves the others decided.
        try:
            with transaction.atomic():
                experiment = _claim(experiment_id)
                if experiment is None:
                    continue
                decision = _evaluate(experiment, now)
                if decision is not None and decision.action == Decision.Action.ROLLBACK:
                    # Its own task once this transaction commits: a slow or dead
                    # receiver holds nothing up and cannot undo the rollback.
                    _notify(experiment, decision)
        except Exception:
            logger.exception("rollout evaluation of experiment %s failed", experiment_id)
            continue
        if decision is not None:
            taken.append(decision)
    return taken
