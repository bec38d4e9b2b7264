"""Reads of experiments: what the SDK pulls, per-arm figures from the exposures, the analysis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, FloatField, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncHour, TruncMinute

from accounts.models import Project
from contracts_app.models import Contract
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
from llm_contracts.experiments.stats import (
    chance_to_beat,
    diff_in_rates,
    no_traffic,
    rate_difference_cs,
    sequential_test,
    srm_check,
)
from telemetry.models import LATENCY_BUCKETS_MS
from telemetry.selectors import percentile

# p < this on the chi-square test of the split is a sample ratio mismatch.
SRM_P_VALUE = 0.001


def experiments_for_project(*, project: Project) -> QuerySet[Experiment]:
    """Return the project's experiments, newest first, with their arms and steps."""
    return Experiment.objects.filter(project=project).prefetch_related(
        "ramp_steps", Prefetch("variations", queryset=Variation.objects.order_by("key"))
    )


def experiment_get(*, project: Project, key: str) -> Experiment | None:
    """Return the project's experiment ``key``, or None."""
    return experiments_for_project(project=project).filter(key=key).first()


def arm_versions(*, experiment: Experiment) -> dict[str, list[Any]]:
    """Return the contract versions of each arm, ordered by contract name."""
    out: dict[str, list[Any]] = {arm: [] for arm in ARMS}
    for variation in experiment.variations.all():
        out[variation.key] = sorted(
            variation.contract_versions.select_related("contract"), key=lambda v: v.contract.name
        )
    return out


def experiments_for_sdk(*, project: Project) -> list[dict[str, Any]]:
    """Return the running experiments in the shape the SDK pulls (docs/protocol.md)."""
    out = []
    for experiment in experiments_for_project(project=project).filter(status=Experiment.Status.RUNNING):
        arms = arm_versions(experiment=experiment)
        out.append(
            {
                "key": experiment.key,
                "seed": experiment.hash_seed,
                "status": experiment.status,
                "coverage": experiment.coverage,
                "weights": list(experiment.weights),
                "variations": [
                    {
                        "key": arm,
                        "contracts": [
                            {"name": v.contract.name, "version": v.version, "spec": v.spec} for v in arms[arm]
                        ],
                    }
                    for arm in ARMS
                ],
                "sticky": experiment.sticky,
            }
        )
    return sorted(out, key=lambda e: e["key"])


def audit_entries(*, experiment: Experiment, limit: int = 50) -> list[AuditEntry]:
    """Return the newest audit entries of an experiment."""
    return list(experiment.audit_entries.select_related("actor")[:limit])


def decisions(*, experiment: Experiment, limit: int = 50) -> list[Decision]:
    """Return the newest decisions of the rollout job on an experiment."""
    return list(experiment.decisions.all()[:limit])


def ramp_steps(*, experiment: Experiment) -> list[RampStep]:
    """Return the ramp schedule in order."""
    return sorted(experiment.ramp_steps.all(), key=lambda s: s.position)


# Figures per arm: counted over the exposures, one row per call.


@dataclass
class ArmFigures:
    """One arm's calls and what happened in them; every figure counts calls, never contract verdicts."""

    calls: int = 0
    violating_calls: int = 0
    # Calls with an attempted auto-fix, and those among them whose fix failed.
    fixes_attempted: int = 0
    fix_failures: int = 0
    tokens: int = 0
    token_calls: int = 0
    latency_sum_ms: float = 0.0
    histogram: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_MS))

    @property
    def violation_rate(self) -> float | None:
        return None if self.calls == 0 else self.violating_calls / self.calls

    @property
    def fix_rate(self) -> float | None:
        """Return the share of calls that needed an auto-fix."""
        return None if self.calls == 0 else self.fixes_attempted / self.calls

    @property
    def fix_failure_rate(self) -> float | None:
        return None if self.fixes_attempted == 0 else self.fix_failures / self.fixes_attempted

    @property
    def failed_fix_share(self) -> float | None:
        """Return the share of calls whose auto-fix failed."""
        return None if self.calls == 0 else self.fix_failures / self.calls

    @property
    def cost_per_call(self) -> float | None:
        """Return the mean tokens (prompt + completion) of a call that reported them."""
        return None if self.token_calls == 0 else self.tokens / self.token_calls

    @property
    def latency_per_call_ms(self) -> float | None:
        """Return the mean LLM latency of a call."""
        timed = sum(self.histogram)
        return None if timed == 0 else self.latency_sum_ms / timed

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.histogram, 0.95)

    def share_above(self, threshold_ms: float) -> int:
        """Return how many calls fall in the histogram buckets at or above ``threshold_ms``."""
        lowers = (0.0, *LATENCY_BUCKETS_MS[:-1])
        return sum(n for n, lower in zip(self.histogram, lowers, strict=True) if lower >= threshold_ms)


def _latency_buckets() -> dict[str, Count]:
    out: dict[str, Count] = {}
    lower = -math.inf
    for i, upper in enumerate(LATENCY_BUCKETS_MS):
        cond = Q(llm_latency_ms__isnull=False)
        if lower != -math.inf:
            cond &= Q(llm_latency_ms__gte=lower)
        if upper != math.inf:
            cond &= Q(llm_latency_ms__lt=upper)
        out[f"h{i}"] = Count("id", filter=cond)
        lower = upper
    return out


def _exposures(experiment: Experiment, since: datetime | None, until: datetime | None) -> QuerySet[Exposure]:
    qs = Exposure.objects.filter(
        project_id=experiment.project_id, experiment=experiment.key, variant__in=ARMS
    )
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs


def arm_figures(
    *, experiment: Experiment, since: datetime | None = None, until: datetime | None = None
) -> dict[str, ArmFigures]:
    """Count each arm's calls over ``[since, until)`` from the exposures: exact, one row per call."""
    rows = (
        _exposures(experiment, since, until)
        .values("variant")
        .annotate(
            n=Count("id"),
            violating=Count("id", filter=Q(violated=True)),
            fixes=Count("id", filter=Q(fix_attempted=True)),
            failed=Count("id", filter=Q(fix_failed=True)),
            token_sum=Coalesce(Sum("tokens"), 0),
            token_calls=Count("tokens"),
            latency_sum=Coalesce(Sum("llm_latency_ms"), 0.0, output_field=FloatField()),
            **_latency_buckets(),
        )
        .order_by()
    )
    out = {arm: ArmFigures() for arm in ARMS}
    for row in rows:
        out[row["variant"]] = ArmFigures(
            calls=row["n"],
            violating_calls=row["violating"],
            fixes_attempted=row["fixes"],
            fix_failures=row["failed"],
            tokens=row["token_sum"],
            token_calls=row["token_calls"],
            latency_sum_ms=row["latency_sum"],
            histogram=[row[f"h{i}"] for i in range(len(LATENCY_BUCKETS_MS))],
        )
    return out


def arm_series(*, experiment: Experiment, until: datetime) -> dict[str, list[tuple[datetime, float, int]]]:
    """Return each arm's violation rate over time: (bucket, rate, calls) per minute, hourly past six hours."""
    since = experiment.started_at or experiment.created_at
    trunc = TruncHour if until - since > timedelta(hours=6) else TruncMinute
    rows = (
        _exposures(experiment, since, until)
        .annotate(bucket=trunc("at"))
        .values("bucket", "variant")
        .annotate(n=Count("id"), v=Count("id", filter=Q(violated=True)))
        .order_by("bucket")
    )
    out: dict[str, list[tuple[datetime, float, int]]] = {arm: [] for arm in ARMS}
    for row in rows:
        out[row["variant"]].append((row["bucket"], row["v"] / row["n"], row["n"]))
    return out


# The analysis the results page shows and the rollout job decides on.


@dataclass
class Guardrail:
    name: str
    label: str
    control: float | None
    treatment: float | None
    # Relative change for latency and cost, absolute points for the auto-fix failure rate.
    change: float | None
    tolerance: float
    # ok, regressed (beyond the tolerance: the ramp holds), worse (significantly beyond
    # it: roll back), insufficient (too few calls to judge: the ramp holds), or no data
    # (enough calls, but neither arm reports this figure: nothing to compare).
    status: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Analysis:
    arms: dict[str, ArmFigures]
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    seq_low: float | None = None
    seq_high: float | None = None
    seq_significant: bool = False
    # The observed relative change of the violation rate; seq_low/seq_high bound it.
    relative: float | None = None
    e_value: float | None = None
    treatment_worse: bool = False
    treatment_better: bool = False
    chance_to_win: float | None = None
    srm_p: float | None = None
    srm_mismatch: bool = False
    guardrails: list[Guardrail] = field(default_factory=list)

    @property
    def regressed(self) -> list[Guardrail]:
        return [g for g in self.guardrails if g.status in ("regressed", "worse")]

    @property
    def worse(self) -> list[Guardrail]:
        return [g for g in self.guardrails if g.status == "worse"]

    def numbers(self) -> dict[str, Any]:
        """Return the figures as JSON, as decisions record them."""
        return _finite(
            {
                "control": _arm_numbers(self.arms[CONTROL]),
                "treatment": _arm_numbers(self.arms[TREATMENT]),
                "violation_rate_diff": self.diff,
                "diff_ci": [self.ci_low, self.ci_high],
                "p_value": self.p_value,
                "relative_change": self.relative,
                "relative_change_ci": [self.seq_low, self.seq_high],
                "e_value": self.e_value,
                "sequential_significant": self.seq_significant,
                "chance_to_win": self.chance_to_win,
                "srm_p_value": self.srm_p,
                "srm_mismatch": self.srm_mismatch,
                "guardrails": {
                    g.name: {k: v for k, v in asdict(g).items() if k != "name"} for g in self.guardrails
                },
            }
        )


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity; a value the statistics cannot give is null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _arm_numbers(arm: ArmFigures) -> dict[str, Any]:
    return {
        "calls": arm.calls,
        "violating_calls": arm.violating_calls,
        "violation_rate": arm.violation_rate,
        "fixes_attempted": arm.fixes_attempted,
        "fix_failures": arm.fix_failures,
        "fix_failure_rate": arm.fix_failure_rate,
        "cost_per_call": arm.cost_per_call,
        "latency_per_call_ms": arm.latency_per_call_ms,
        "p95_ms": arm.p95_ms,
    }


def _relative(control: float | None, treatment: float | None) -> float | None:
    if control is None or treatment is None:
        return None
    if control == 0:
        return 0.0 if treatment == 0 else math.inf
    return treatment / control - 1


def _latency_guardrail(experiment: Experiment, c: ArmFigures, t: ArmFigures, enough: bool) -> Guardrail:
    tolerance = experiment.max_p95_latency_regression
    change = _relative(c.p95_ms, t.p95_ms)
    status, detail = "insufficient", {}
    if enough and c.p95_ms is None and t.p95_ms is None:
        status = "no data"
    elif enough and c.p95_ms is not None and t.p95_ms is not None:
        status = "regressed" if change is not None and change > tolerance else "ok"
        # Significance from the histograms: the share of calls slower than control's p95
        # plus the tolerance (at a bucket edge); a heavier treatment tail beyond it,
        # significant on the sequential test, is a significant regression of the p95.
        threshold = next(b for b in (0.0, *LATENCY_BUCKETS_MS) if b >= c.p95_ms * (1 + tolerance))
        c_slow, t_slow = c.share_above(threshold), t.share_above(threshold)
        c_n, t_n = sum(c.histogram), sum(t.histogram)
        if math.isfinite(threshold) and c_n and t_n:
            slow_low, slow_high = rate_difference_cs(c_n, c_slow, t_n, t_slow, alpha=experiment.alpha)
            detail = {"threshold_ms": threshold, "slow_share_ci": [slow_low, slow_high]}
            if status == "regressed" and slow_low > 0:
                status = "worse"
    return Guardrail("p95_latency", "p95 latency (ms)", c.p95_ms, t.p95_ms, change, tolerance, status, detail)


def _fix_guardrail(experiment: Experiment, c: ArmFigures, t: ArmFigures, enough: bool) -> Guardrail:
    # Per call, like every figure of an experiment: the share of calls whose auto-fix
    # failed, so an arm that needs no fixes is not "insufficient" for ever.
    tolerance = experiment.max_fix_failure_regression
    cr, tr = c.failed_fix_share, t.failed_fix_share
    change = None if cr is None or tr is None else tr - cr
    status, detail = "insufficient", {}
    if enough and change is not None:
        status = "regressed" if change > tolerance else "ok"
        low, high = rate_difference_cs(
            c.calls, c.fix_failures, t.calls, t.fix_failures, alpha=experiment.alpha
        )
        detail = {"diff_ci": [low, high]}
        # Worse beyond doubt: the whole always-valid interval of the difference lies past the tolerance.
        if low > tolerance:
            status = "worse"
    label = "calls with a failed auto-fix"
    return Guardrail("fix_failure_rate", label, cr, tr, change, tolerance, status, detail)


def _cost_guardrail(experiment: Experiment, c: ArmFigures, t: ArmFigures, enough: bool) -> Guardrail:
    tolerance = experiment.max_cost_regression
    change = _relative(c.cost_per_call, t.cost_per_call)
    status = "insufficient"
    if enough and c.cost_per_call is None and t.cost_per_call is None:
        status = "no data"
    elif enough and change is not None:
        # A call's tokens barely vary for a given prompt, so the mean over
        # guardrail_min_calls calls per arm is taken as settled, and a change past the
        # tolerance is a regression to roll back.
        status = "worse" if change > tolerance else "ok"
    return Guardrail(
        "cost_per_call", "cost per call (tokens)", c.cost_per_call, t.cost_per_call, change, tolerance, status
    )


def experiment_analysis(*, experiment: Experiment, until: datetime | None = None) -> Analysis:
    """Compare the arms since the experiment started: the difference, SRM, chance to win, guardrails."""
    arms = arm_figures(experiment=experiment, since=experiment.started_at, until=until)
    c, t = arms[CONTROL], arms[TREATMENT]
    analysis = Analysis(arms=arms)
    if c.calls and t.calls:
        counts = (c.calls, c.violating_calls, t.calls, t.violating_calls)
        fixed = diff_in_rates(*counts, alpha=experiment.alpha)
        analysis.diff, analysis.ci_low, analysis.ci_high, analysis.p_value = (
            fixed.diff,
            fixed.low,
            fixed.high,
            fixed.p_value,
        )
        weight = experiment.weights[1] if experiment.weights else 0.5
        seq = sequential_test(*counts, alpha=experiment.alpha, weight=weight)
        analysis.seq_low, analysis.seq_high, analysis.seq_significant = seq.low, seq.high, seq.significant
        analysis.relative, analysis.e_value = seq.relative, seq.e_value
        # A violation rate is better lower: the treatment is worse when the whole
        # confidence sequence of (treatment - control) lies above zero.
        analysis.treatment_worse = seq.direction == "increase"
        analysis.treatment_better = seq.direction == "decrease"
        analysis.chance_to_win = chance_to_beat(*counts, lower_is_better=True)
    weights = list(experiment.weights) or [0.5, 0.5]
    total = c.calls + t.calls
    # The chi-square approximation needs a few expected calls in each arm.
    if total and min(weights) * total >= 5:
        srm = srm_check([c.calls, t.calls], weights, threshold=SRM_P_VALUE)
        analysis.srm_p, analysis.srm_mismatch = srm.p_value, srm.mismatch
    enough = min(c.calls, t.calls) >= experiment.guardrail_min_calls
    analysis.guardrails = [
        _latency_guardrail(experiment, c, t, enough),
        _fix_guardrail(experiment, c, t, enough),
        _cost_guardrail(experiment, c, t, enough),
    ]
    return analysis


def idle_arms(
    *, experiment: Experiment, since: datetime, until: datetime
) -> tuple[dict[str, int], list[str]]:
    """Return each arm's calls in a window and the arms that got none."""
    calls = calls_since(experiment=experiment, since=since, until=until)
    check = no_traffic([calls[arm] for arm in ARMS], list(experiment.weights) or None)
    idle = list(ARMS) if check.no_traffic else [ARMS[i] for i in check.starved_arms]
    return calls, idle


def calls_since(*, experiment: Experiment, since: datetime, until: datetime | None = None) -> dict[str, int]:
    """Return the calls of each arm since ``since``."""
    return {arm: f.calls for arm, f in arm_figures(experiment=experiment, since=since, until=until).items()}


def no_traffic_window() -> timedelta:
    """Return how long an arm may see no call before a running experiment pauses."""
    return timedelta(minutes=settings.EXPERIMENT_NO_TRAFFIC_MINUTES)


def next_step(*, experiment: Experiment, steps: Sequence[RampStep] | None = None) -> RampStep | None:
    """Return the first step after the current one that raises the coverage, or None."""
    steps = list(steps) if steps is not None else ramp_steps(experiment=experiment)
    start = -1 if experiment.current_step is None else experiment.current_step
    for step in steps[start + 1 :]:
        if step.coverage > experiment.coverage:
            return step
    return None


def current_step(*, experiment: Experiment, steps: Sequence[RampStep] | None = None) -> RampStep | None:
    """Return the ramp step the experiment is on, or None."""
    steps = list(steps) if steps is not None else ramp_steps(experiment=experiment)
    if experiment.current_step is None or experiment.current_step >= len(steps):
        return None
    return steps[experiment.current_step]


@dataclass
class Served:
    """What the project's SDKs enforce now for one contract of the experiment."""

    name: str
    version: int | None
    active: bool
    # The arm whose version has the same source, or "" when neither has.
    arm: str


def in_production(*, experiment: Experiment, arms: dict[str, list[Any]] | None = None) -> list[Served]:
    """Return, per contract of the experiment, the version everybody outside the experiment gets."""
    arms = arms if arms is not None else arm_versions(experiment=experiment)
    names = sorted({v.contract.name for versions in arms.values() for v in versions})
    out = []
    contracts = Contract.objects.filter(project_id=experiment.project_id, name__in=names)
    for contract in contracts.select_related("active_version").order_by("name"):
        # What SDKs outside the experiment enforce: the activated version (drafts never run).
        served = contract.active_version
        arm = ""
        if served is not None:
            arm = next(
                (
                    a
                    for a in ARMS
                    for v in arms[a]
                    if v.contract_id == contract.pk and v.source == served.source
                ),
                "",
            )
        out.append(Served(contract.name, served.version if served else None, contract.active, arm))
    return out


@dataclass
class Results:
    experiment: Experiment
    analysis: Analysis
    series: dict[str, list[tuple[datetime, float, int]]]
    arms: dict[str, list[Any]]
    steps: list[RampStep]
    current: RampStep | None
    next: RampStep | None
    decisions: list[Decision]
    audit: list[AuditEntry]
    production: list[Served]


def experiment_results(*, experiment: Experiment, now: datetime) -> Results:
    """Return everything the results page shows: the comparison, the ramp, the logs."""
    steps = ramp_steps(experiment=experiment)
    arms = arm_versions(experiment=experiment)
    return Results(
        experiment=experiment,
        analysis=experiment_analysis(experiment=experiment, until=now),
        series=arm_series(experiment=experiment, until=now),
        arms=arms,
        steps=steps,
        current=current_step(experiment=experiment, steps=steps),
        next=next_step(experiment=experiment, steps=steps),
        decisions=decisions(experiment=experiment, limit=20),
        audit=audit_entries(experiment=experiment, limit=20),
        production=in_production(experiment=experiment, arms=arms),
    )
