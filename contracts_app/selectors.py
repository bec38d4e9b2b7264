"""Reads of the control plane: specs for the SDK, breakpoints, health figures from the rollups."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Max, Q, QuerySet, Sum

from accounts.models import Project
from contracts_app.models import Breakpoint, Contract, ContractAuditEntry, ContractVersion, Trace
from dashboard.lib import hints
from telemetry.models import HourRollup, MinuteRollup, ValidationEvent


def etag_of(data: Any) -> str:
    """Return a strong ETag for JSON-serialisable data."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def contracts_active_specs(*, project: Project) -> list[dict[str, Any]]:
    """Return the activated version of each active contract of the project, as the SDK pulls them."""
    running = (
        Contract.objects.filter(project=project, active=True, active_version__isnull=False)
        .select_related("active_version")
        .order_by("name")
    )
    return [
        {
            "name": contract.name,
            "version": contract.active_version.version,
            "spec": contract.active_version.spec,
            "source": contract.active_version.source,
        }
        for contract in running
        if contract.active_version is not None
    ]


def contract_calls_per_hour(*, project_id: int, name: str, now: datetime, hours: int = 24) -> float:
    """Return how many calls an hour contract ``name`` checked over the last ``hours``, from rollups."""
    # An LLMCL contract reports one verdict per clause ("Reply.ensure[1]") and a call runs
    # every clause, so the busiest clause counts the calls.
    per_name = (
        HourRollup.objects.filter(
            project_id=project_id, bucket__gte=now - timedelta(hours=hours), bucket__lt=now
        )
        .filter(Q(contract=name) | Q(contract__startswith=name + "."))
        .values("contract")
        .annotate(n=Sum("count"))
        .order_by()
    )
    busiest = max((row["n"] or 0 for row in per_name), default=0)
    return busiest / hours


@dataclass
class ActivationPreview:
    """What activating a version changes: the diff against what runs now, and the traffic it meets."""

    contract: Contract
    version: ContractVersion
    running: ContractVersion | None
    diff: list[DiffLine]
    calls_per_hour: float

    @property
    def action(self) -> str:
        if self.running is not None and self.version.version < self.running.version:
            return "rollback"
        return "activate"


def contract_activation_preview(
    *, contract: Contract, version: ContractVersion, now: datetime
) -> ActivationPreview:
    """Return the diff from the running version to ``version`` and the calls an hour it affects."""
    running = contract.active_version if contract.active else None
    return ActivationPreview(
        contract=contract,
        version=version,
        running=running,
        diff=source_diff(running.source if running is not None else "", version.source),
        calls_per_hour=contract_calls_per_hour(project_id=contract.project_id, name=contract.name, now=now),
    )


def contract_audit(*, contract: Contract, limit: int = 50) -> list[ContractAuditEntry]:
    """Return the contract's deploy-side changes, newest first."""
    return list(contract.audit_entries.select_related("actor")[:limit])


@dataclass(frozen=True)
class Clause:
    """An LLMCL clause as written: its contract, version, source line and text."""

    contract: str
    version: int
    line: int | None
    text: str


def clauses_of(*, project: Project, keys: Sequence[tuple[str, int | None]]) -> dict[tuple[str, int], Clause]:
    """Return the source text and line of each reported (check name, version) that is an LLMCL clause."""
    wanted: dict[str, set[int]] = {}
    for name, version in keys:
        if version and "." in name:
            wanted.setdefault(name.split(".", 1)[0], set()).add(version)
    if not wanted:
        return {}
    q = Q()
    for contract, versions in wanted.items():
        q |= Q(contract__name=contract, version__in=versions)
    out: dict[tuple[str, int], Clause] = {}
    # One query for every version on the page; the specs hold each clause's text and place.
    for cv in ContractVersion.objects.filter(contract__project=project).filter(q).select_related("contract"):
        for declared in cv.spec.get("contracts", []) if isinstance(cv.spec, dict) else []:
            for clause in declared.get("clauses", []) if isinstance(declared, dict) else []:
                if not isinstance(clause, dict) or not clause.get("name"):
                    continue
                position = clause.get("position") or {}
                out[(str(clause["name"]), cv.version)] = Clause(
                    contract=cv.contract.name,
                    version=cv.version,
                    line=position.get("line") if isinstance(position, dict) else None,
                    text=str(clause.get("text") or ""),
                )
    return out


def breakpoints_active(*, project: Project) -> list[Breakpoint]:
    """Return the project's active breakpoints that still have hits left."""
    return [
        bp
        for bp in Breakpoint.objects.filter(project=project, active=True).order_by("id")
        if bp.remaining is None or bp.remaining > 0
    ]


def database_ok() -> bool:
    """Return whether the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means "not healthy"; the health answer says so
        return False
    return True


# Pages: contracts, traces and breakpoints.


@dataclass
class ContractRow:
    """A contract with its latest version and its health over the last day."""

    contract: Contract
    version: int | None
    count: int = 0
    violations: int = 0

    @property
    def violation_rate(self) -> float | None:
        return None if self.count == 0 else self.violations / self.count

    @property
    def violation_pct(self) -> float | None:
        rate = self.violation_rate
        return None if rate is None else 100 * rate


def contract_owner(name: str, names: set[str]) -> str | None:
    """Return which of ``names`` a reported contract belongs to: itself, or an LLMCL clause's contract."""
    if name in names:
        return name
    # An LLMCL contract reports one verdict per clause, named "<contract>.<clause>".
    head = name.split(".", 1)[0]
    return head if head in names else None


def contracts_with_health(*, project: Project, now: datetime) -> list[ContractRow]:
    """Return the project's contracts with their latest version and 24 h rollup figures."""
    contracts = list(
        Contract.objects.filter(project=project)
        .select_related("active_version")
        .annotate(latest=Max("versions__version"))
        .order_by("name")
    )
    rows = {c.name: ContractRow(contract=c, version=c.latest) for c in contracts}  # type: ignore[attr-defined]
    sums = (
        MinuteRollup.objects.filter(project=project, bucket__gte=now - timedelta(hours=24), bucket__lt=now)
        .values("contract")
        .annotate(n=Sum("count"), v=Sum("violations"))
        .order_by()
    )
    for item in sums:
        owner = contract_owner(item["contract"], set(rows))
        if owner is not None:
            rows[owner].count += item["n"] or 0
            rows[owner].violations += item["v"] or 0
    return list(rows.values())


def contract_get(*, project: Project, name: str) -> Contract | None:
    """Return the project's contract ``name`` with its versions prefetched, newest first."""
    return (
        Contract.objects.filter(project=project, name=name)
        .select_related("active_version")
        .prefetch_related("versions__author")
        .first()
    )


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff: ``kind`` is hunk, equal, delete or insert."""

    kind: str
    old_no: int | None
    new_no: int | None
    text: str


def source_diff(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """Return the unified diff of two sources, with the line numbers of both sides."""
    a, b = old.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        lines.append(
            DiffLine(
                "hunk",
                None,
                None,
                f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@",
            )
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("equal", i + 1, j1 + k + 1, a[i]) for k, i in enumerate(range(i1, i2))]
                continue
            if tag in ("replace", "delete"):
                lines += [DiffLine("delete", i + 1, None, a[i]) for i in range(i1, i2)]
            if tag in ("replace", "insert"):
                lines += [DiffLine("insert", None, j + 1, b[j]) for j in range(j1, j2)]
    return lines


def trace_get(*, project: Project, trace_id: str, at: datetime | None = None) -> Trace | None:
    """Return the project's stored trace ``trace_id`` (with its breakpoint).

    ``at`` (the trace's time, or its call's, from the link) makes it read the partition
    around that time first (``dashboard.lib.hints``); when the trace is not there, it
    looks in every partition.
    """
    qs = Trace.objects.select_related("breakpoint").filter(project=project, trace_id=trace_id)
    return hints.first_near(qs, at, hints.TRACE_WINDOW, "created_at")


def _call_events(*, project: Project, trace: Trace) -> list[QuerySet[ValidationEvent]]:
    """The trace's call's events: first around the trace's time (one partition), then anywhere.

    The SDK stamps a call's events with the call's end and its trace with the call's start,
    so they are minutes apart at most; the second query runs only when the first finds none.
    """
    qs = ValidationEvent.objects.filter(project=project, call_id=trace.call_id)
    span = hints.window(trace.created_at, hints.TRACE_WINDOW)
    if span is None:
        return [qs]
    return [qs.filter(timestamp__gte=span[0], timestamp__lt=span[1]), qs]


def trace_call_event(*, project: Project, trace: Trace) -> ValidationEvent | None:
    """Return one event of the trace's call (its conversation and experiment arm), or None."""
    if not trace.call_id:
        return None
    for qs in _call_events(project=project, trace=trace):
        event = (
            qs.only("id", "call_id", "timestamp", "session_id", "turn", "experiment", "variant")
            .order_by("id")
            .first()
        )
        if event is not None:
            return event
    return None


def trace_steps_label(*, project: Project, trace: Trace, steps: list[dict[str, Any]]) -> None:
    """Attach to each verdict step its LLMCL clause (``clause``: source text and line), when it is one."""
    if not trace.call_id:
        return
    # The call's events say which version of each contract judged it.
    versions: dict[str, int | None] = {}
    for qs in _call_events(project=project, trace=trace):
        versions = dict(qs.values_list("contract", "contract_version").order_by().distinct())
        if versions:
            break
    clauses = clauses_of(project=project, keys=list(versions.items()))
    for step in steps:
        name = str(step.get("name") or "")
        step["clause"] = clauses.get((name, versions.get(name) or 0))


def breakpoints_list(*, project: Project) -> list[Breakpoint]:
    """Return every breakpoint of the project, newest first."""
    return list(Breakpoint.objects.filter(project=project).order_by("-created_at", "-id"))


def breakpoint_get(*, project: Project, pk: int) -> Breakpoint | None:
    """Return the project's breakpoint ``pk``."""
    return Breakpoint.objects.filter(project=project, pk=pk).first()


@dataclass
class CapturePage:
    traces: list[Trace]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def breakpoint_traces(*, breakpoint: Breakpoint, page: int = 1, size: int = 25) -> CapturePage:
    """Return one page of the traces ``breakpoint`` captured, newest first (steps left out)."""
    # OFFSET is fine here: a breakpoint captures at most its limit (10,000 at most).
    page = max(1, page)
    start = (page - 1) * size
    traces = list(
        Trace.objects.filter(breakpoint=breakpoint)
        .defer("steps")
        .order_by("-received_at", "-id")[start : start + size + 1]
    )
    return CapturePage(traces=traces[:size], page=page, has_next=len(traces) > size)


@dataclass
class ComparedStep:
    """Step ``index`` of two traces; ``same`` when kind, name, verdict and text agree."""

    index: int
    left: dict[str, Any] | None
    right: dict[str, Any] | None

    @property
    def same(self) -> bool:
        return _step_key(self.left) == _step_key(self.right)


def _step_key(step: dict[str, Any] | None) -> tuple[Any, ...] | None:
    if step is None:
        return None
    data = step["data"]
    return (
        step.get("kind"),
        step.get("name"),
        data.get("is_valid"),
        data.get("message"),
        data.get("output"),
        data.get("outcome"),
    )


def trace_comparison(*, left: Trace, right: Trace) -> list[ComparedStep]:
    """Pair the steps of two traces by position, for a side-by-side view."""
    a, b = trace_steps(trace=left), trace_steps(trace=right)
    return [
        ComparedStep(i + 1, a[i] if i < len(a) else None, b[i] if i < len(b) else None)
        for i in range(max(len(a), len(b)))
    ]


def contract_names_seen(*, project: Project, now: datetime, days: int = 7) -> list[str]:
    """Return the contract names the project defined or reported lately (for form suggestions)."""
    reported = (
        HourRollup.objects.filter(project=project, bucket__gte=now - timedelta(days=days))
        .values_list("contract", flat=True)
        .distinct()
        .order_by()
    )
    defined = Contract.objects.filter(project=project).values_list("name", flat=True)
    return sorted({*reported, *defined})


STEP_LABELS = {
    "request": "Request",
    "input_contract": "Input contract",
    "model_call": "Model call",
    "output_contract": "Output contract",
    "reask": "Re-ask",
    "outcome": "Outcome",
}


def trace_steps(*, trace: Trace) -> list[dict[str, Any]]:
    """Return a trace's steps in the order they ran, with their data laid out for reading."""
    out = []
    for index, step in enumerate(trace.steps if isinstance(trace.steps, list) else []):
        if not isinstance(step, dict):
            continue
        raw = step.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        out.append(
            {
                **step,
                "index": index + 1,
                "label": STEP_LABELS.get(str(step.get("kind")), str(step.get("kind"))),
                "data": data,
                "body_json": json.dumps(data.get("body"), indent=2, ensure_ascii=False, default=str)
                if data.get("body")
                else "",
                "details_json": json.dumps(data.get("details"), indent=2, ensure_ascii=False, default=str)
                if data.get("details")
                else "",
            }
        )
    return out
