"""The experiment pages: list, create and edit, the traffic slider, the ramp editor, the results."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Project
from dashboard.lib.access import project_for
from dashboard.lib.errors import ServiceError
from experiments import charts, forms, selectors, services
from experiments.models import Experiment

# The buttons of the results page: each posts to one service.
ACTIONS: dict[str, Any] = {
    "start": services.experiment_start,
    "pause": services.experiment_pause,
    "rollback": services.experiment_rollback,
    "ramp": services.experiment_ramp,
    "approve": services.experiment_approve_step,
    "ship": services.experiment_ship,
}


def _experiment(project: Project, key: str) -> Experiment:
    experiment = selectors.experiment_get(project=project, key=key)
    if experiment is None:
        raise Http404("No such experiment")
    return experiment


def _signed(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "+∞%" if math.isinf(value) else f"{value:+.0%}"


def _change_in_percent(analysis: selectors.Analysis) -> dict[str, str]:
    """Return the relative change of the violation rate and its always-valid interval, in percent."""
    return {
        "relative": _signed(analysis.relative),
        "low": _signed(analysis.seq_low),
        "high": _signed(analysis.seq_high),
    }


def _guardrail_row(g: selectors.Guardrail) -> dict[str, str]:
    """Return a guardrail's figures in the units a person reads: ms, tokens, percent."""

    def figure(value: float | None) -> str:
        if value is None:
            return "–"
        if g.name == "fix_failure_rate":
            return f"{value:.1%}"
        return f"{value:.0f} ms" if g.name == "p95_latency" else f"{value:.0f}"

    points = g.name == "fix_failure_rate"
    change = "–" if g.change is None else f"{g.change * 100:+.1f} points" if points else _signed(g.change)
    tolerance = f"+{g.tolerance * 100:g} points" if points else f"+{g.tolerance:.0%}"
    return {
        "label": g.label,
        "control": figure(g.control),
        "treatment": figure(g.treatment),
        "change": change,
        "tolerance": tolerance,
        "status": g.status,
    }


def _form_error(form: Any, exc: ServiceError) -> None:
    # Service errors name their field; a field the form does not show goes on top.
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.reason)


@login_required
@require_GET
def experiment_list(request: HttpRequest, slug: str) -> HttpResponse:
    """List the project's experiments with their status and coverage."""
    project = project_for(request, slug)
    experiments = selectors.experiments_for_project(project=project)
    return render(
        request,
        "experiments/list.html",
        {"project": project, "nav": "experiments", "experiments": experiments},
    )


@login_required
@require_http_methods(["GET", "POST"])
def experiment_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Create a draft experiment, choosing the contract versions of each arm."""
    project = project_for(request, slug, write=request.method == "POST")
    form = forms.ExperimentForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            experiment = services.experiment_create(
                project=project,
                key=form.cleaned_data["key"],
                actor=services.Actor.of_user(request.user),
                **form.changes(),
            )
        except ServiceError as exc:
            _form_error(form, exc)
        else:
            return redirect("experiments:schedule", slug=project.slug, key=experiment.key)
    context = {"project": project, "nav": "experiments", "form": form, "experiment": None}
    return render(request, "experiments/form.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def experiment_edit(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """Edit an experiment's settings; the arms and split only while it is a draft."""
    project = project_for(request, slug, write=request.method == "POST")
    experiment = _experiment(project, key)
    initial = forms.initial_of(experiment, selectors.arm_versions(experiment=experiment))
    form = forms.ExperimentForm(request.POST or None, project=project, experiment=experiment, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.experiment_update(
                experiment=experiment, actor=services.Actor.of_user(request.user), **form.changes()
            )
        except ServiceError as exc:
            _form_error(form, exc)
        else:
            return redirect("experiments:detail", slug=project.slug, key=experiment.key)
    context = {"project": project, "nav": "experiments", "form": form, "experiment": experiment}
    return render(request, "experiments/form.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def experiment_ramp_edit(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """Edit the ramp schedule: a coverage and a hold condition per step."""
    project = project_for(request, slug, write=request.method == "POST")
    experiment = _experiment(project, key)
    rows = forms.ramp_rows(
        request.POST if request.method == "POST" else None, selectors.ramp_steps(experiment=experiment)
    )
    error = None
    if request.method == "POST":
        try:
            services.experiment_update(
                experiment=experiment,
                actor=services.Actor.of_user(request.user),
                ramp=forms.ramp_steps_of(rows),
            )
        except ServiceError as exc:
            error = exc
        else:
            return redirect("experiments:detail", slug=project.slug, key=experiment.key)
    context = {
        "project": project,
        "nav": "experiments",
        "experiment": experiment,
        "rows": rows,
        "error": error,
    }
    return render(request, "experiments/ramp.html", context, status=400 if error else 200)


@login_required
@require_GET
def experiment_detail(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """Show the results: the arms over time, the difference, guardrails, SRM, the ramp and the logs."""
    project = project_for(request, slug)
    experiment = _experiment(project, key)
    results = selectors.experiment_results(experiment=experiment, now=timezone.now())
    figures = {
        "rates": charts.violation_rate_figure(results.series),
        "traffic": charts.traffic_figure(results.series),
    }
    context = {
        "project": project,
        "nav": "experiments",
        "experiment": experiment,
        "r": results,
        "charts": figures,
        "pct": _change_in_percent(results.analysis),
        "guardrails": [_guardrail_row(g) for g in results.analysis.guardrails],
        "evidence_needed": 1 / experiment.alpha,
    }
    # The live block refreshes itself; it alone is rendered for that request.
    if request.htmx and request.htmx.target == "results":  # type: ignore[attr-defined]
        return render(request, "experiments/_results.html", context)
    return render(request, "experiments/detail.html", context)


@login_required
@require_POST
def experiment_coverage(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """Set the coverage from the traffic slider (percent); answer the slider and its audit entry."""
    project = project_for(request, slug, write=True)
    experiment = _experiment(project, key)
    error = None
    try:
        raw = request.POST.get("coverage", "")
        coverage = float(raw) / 100 if raw.strip() else raw
        experiment = services.experiment_set_coverage(
            experiment=experiment, actor=services.Actor.of_user(request.user), coverage=coverage
        )
    except (ServiceError, ValueError) as exc:
        error = getattr(exc, "reason", "coverage must be a number of percent")
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            messages.error(request, error)
        return redirect("experiments:detail", slug=project.slug, key=experiment.key)
    context = {
        "project": project,
        "experiment": experiment,
        "error": error,
        "audit": selectors.audit_entries(experiment=experiment, limit=5),
    }
    return render(request, "experiments/_traffic.html", context, status=400 if error else 200)


@login_required
@require_POST
def experiment_action(request: HttpRequest, slug: str, key: str, action: str) -> HttpResponse:
    """Start, pause, roll back, ramp, approve or ship an experiment, then show its page."""
    project = project_for(request, slug, write=True)
    experiment = _experiment(project, key)
    if action not in ACTIONS:
        raise Http404("No such action")
    # Shipping names the arm whose contract versions become the active ones.
    kwargs = {"arm": request.POST.get("arm", "")} if action == "ship" else {}
    try:
        ACTIONS[action](experiment=experiment, actor=services.Actor.of_user(request.user), **kwargs)
    except ServiceError as exc:
        messages.error(request, exc.reason)
    return redirect("experiments:detail", slug=project.slug, key=experiment.key)
