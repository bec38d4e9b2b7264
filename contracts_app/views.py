"""The contracts, trace and breakpoint pages: thin views over services and selectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Project
from contracts_app import charts, profiling, selectors, services
from contracts_app.models import Breakpoint, Contract
from dashboard.lib import hints
from dashboard.lib.access import project_for
from dashboard.lib.errors import ServiceError
from telemetry.models import ValidationEvent

NEW_CONTRACT_SOURCE = """contract MyContract {
  description "What every answer must meet"
  ensure len(output) <= 2000
  ensure not pii(output)
}
"""


# The LLMCL editor's helpers.


@dataclass
class SourceLine:
    number: int
    text: str
    errors: list[tuple[services.Diagnostic, str]] = field(default_factory=list)


def annotate_source(
    source: str, diagnostics: list[services.Diagnostic]
) -> tuple[list[SourceLine], list[Any]]:
    """Return the source's numbered lines with their errors (and carets), and the errors with no line."""
    # Lines as the compiler counts them: only "\n" ends one.
    lines = [SourceLine(i + 1, text.rstrip("\r")) for i, text in enumerate(source.split("\n"))]
    unplaced = []
    for d in diagnostics:
        if d.line is None or not 0 < d.line <= len(lines):
            unplaced.append(d)
            continue
        line = lines[d.line - 1]
        start = max((d.column or 1) - 1, 0)
        width = max(1, (d.end_column or 0) - (d.column or 0))
        # Tabs stay tabs so the caret lines up under the text.
        pad = "".join("\t" if ch == "\t" else " " for ch in line.text[:start])
        line.errors.append((d, pad + "^" * width))
    return lines, unplaced


def _editor_context(source: str, diagnostics: list[services.Diagnostic], **extra: Any) -> dict[str, Any]:
    lines, unplaced = annotate_source(source, diagnostics)
    return {
        "source": source,
        "diagnostics": diagnostics,
        "lines": lines,
        "unplaced": unplaced,
        "nav": "contracts",
        **extra,
    }


def _contract(project: Project, name: str) -> Contract:
    contract = selectors.contract_get(project=project, name=name)
    if contract is None:
        raise Http404("No such contract")
    return contract


# Contracts.


@login_required
@require_GET
def contract_list(request: HttpRequest, slug: str) -> HttpResponse:
    """List the project's contracts with their version, state and 24 h violation rate."""
    project = project_for(request, slug)
    rows = selectors.contracts_with_health(project=project, now=timezone.now())
    template = "contracts_app/_contract_table.html" if request.htmx else "contracts_app/contract_list.html"
    return render(request, template, {"project": project, "rows": rows, "nav": "contracts"})


@login_required
@require_GET
def contract_detail(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """Show a contract's versions and the diff between two of them (the diff alone for htmx)."""
    project = project_for(request, slug)
    contract = _contract(project, name)
    versions = list(contract.versions.all())
    by_number = {v.version: v for v in versions}
    new = by_number.get(_int(request.GET.get("b")) or 0) or (versions[0] if versions else None)
    old = by_number.get(_int(request.GET.get("a")) or 0) or (versions[1] if len(versions) > 1 else new)
    diff = selectors.source_diff(old.source, new.source) if old and new else []
    context = {
        "project": project,
        "contract": contract,
        "running": contract.running_version,
        "versions": versions,
        "old": old,
        "new": new,
        "diff": diff,
        "audit": [] if request.htmx else selectors.contract_audit(contract=contract),
        "nav": "contracts",
    }
    template = "contracts_app/_diff.html" if request.htmx else "contracts_app/contract_detail.html"
    return render(request, template, context)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def contract_edit(request: HttpRequest, slug: str, name: str | None = None) -> HttpResponse:
    """Edit a contract's LLMCL (a new contract without ``name``) and save it as its next version."""
    project = project_for(request, slug, write=True)
    contract = _contract(project, name) if name else None
    latest = contract.versions.first() if contract else None
    source = request.POST.get("source", latest.source if latest else NEW_CONTRACT_SOURCE)
    if request.method == "POST":
        try:
            version = services.contract_save(project=project, name=name, source=source, author=request.user)
        except services.ContractNameTaken as exc:
            context = _editor_context(
                source,
                [],
                project=project,
                contract=contract,
                failed=True,
                taken=exc.existing,
                refusal=exc.reason,
            )
            return render(request, "contracts_app/contract_edit.html", context, status=exc.status)
        except ServiceError as exc:
            diagnostics = services.contract_source_check(source=source)[1]
            context = _editor_context(
                source,
                diagnostics or [services.Diagnostic(exc.reason)],
                project=project,
                contract=contract,
                failed=True,
            )
            return render(request, "contracts_app/contract_edit.html", context, status=422)
        messages.success(
            request,
            f"Saved {version.contract.name} version {version.version} as a draft: "
            f"nothing changes for the SDKs until it is activated.",
        )
        return redirect("contracts_app:contract_detail", slug=project.slug, name=version.contract.name)
    context = _editor_context(source, [], project=project, contract=contract)
    return render(request, "contracts_app/contract_edit.html", context)


@login_required
@require_POST
def contract_validate(request: HttpRequest, slug: str) -> HttpResponse:
    """Compile the editor's source and show each error under its line (the listing alone for htmx)."""
    project = project_for(request, slug, write=True)
    source = request.POST.get("source", "")
    _, diagnostics = services.contract_source_check(source=source)
    context = _editor_context(source, diagnostics, project=project, checked=True)
    template = "contracts_app/_diagnostics.html" if request.htmx else "contracts_app/contract_edit.html"
    return render(request, template, context)


@login_required
@require_POST
def contract_try(request: HttpRequest, slug: str) -> HttpResponse:
    """Run the draft's contracts on a pasted input and output and show each check's verdict."""
    project = project_for(request, slug, write=True)
    source = request.POST.get("source", "")
    result = services.contract_try(
        source=source, input_text=request.POST.get("input", ""), output_text=request.POST.get("output", "")
    )
    context = _editor_context(
        source,
        result.diagnostics,
        project=project,
        result=result,
        tried=True,
        input=request.POST.get("input", ""),
        output=request.POST.get("output", ""),
    )
    template = "contracts_app/_verdicts.html" if request.htmx else "contracts_app/contract_edit.html"
    return render(request, template, context)


def _version(contract: Contract, number: int) -> Any:
    version = next((v for v in contract.versions.all() if v.version == number), None)
    if version is None:
        raise Http404("No such version")
    return version


def _expected_running(request: HttpRequest) -> Any:
    # The confirmation page sends the version it showed running ("" for none); a client
    # that never looked (a script) sends nothing and is not checked.
    if "expected_running" not in request.POST:
        return services.UNCHECKED
    return _int(request.POST["expected_running"])


@login_required
@require_http_methods(["GET", "POST"])
def contract_activate(request: HttpRequest, slug: str, name: str, version: int) -> HttpResponse:
    """Show what activating a version changes (GET); activate it once confirmed (POST)."""
    project = project_for(request, slug, write=True)
    contract = _contract(project, name)
    chosen = _version(contract, version)
    error = None
    if request.method == "POST":
        try:
            entry = services.contract_version_activate(
                contract_version=chosen,
                actor=request.user,
                reason=request.POST.get("reason", ""),
                expected_running=_expected_running(request),
            )
        except ServiceError as exc:
            error = exc.reason
        else:
            verb = "Rolled back to" if entry.action == "rollback" else "Activated"
            messages.success(
                request, f"{verb} {contract.name} v{chosen.version}: SDKs pick it up at their next pull."
            )
            return redirect("contracts_app:contract_detail", slug=project.slug, name=contract.name)
    preview = selectors.contract_activation_preview(contract=contract, version=chosen, now=timezone.now())
    context = {"project": project, "contract": contract, "p": preview, "error": error, "nav": "contracts"}
    return render(request, "contracts_app/contract_activate.html", context, status=409 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def contract_deactivate(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """Show what deactivating a contract stops (GET); deactivate it once confirmed (POST)."""
    project = project_for(request, slug, write=True)
    contract = _contract(project, name)
    error = None
    if request.method == "POST":
        try:
            services.contract_deactivate(
                contract=contract,
                actor=request.user,
                reason=request.POST.get("reason", ""),
                expected_running=_expected_running(request),
            )
        except ServiceError as exc:
            error = exc.reason
        else:
            messages.success(request, f"Deactivated {contract.name}: SDKs drop it at their next pull.")
            return redirect("contracts_app:contract_detail", slug=project.slug, name=contract.name)
    calls = selectors.contract_calls_per_hour(project_id=project.pk, name=contract.name, now=timezone.now())
    context = {
        "project": project,
        "contract": contract,
        "running": contract.running_version,
        "calls_per_hour": calls,
        "error": error,
        "nav": "contracts",
    }
    return render(request, "contracts_app/contract_deactivate.html", context, status=409 if error else 200)


# Traces.


@login_required
@require_GET
def trace_detail(request: HttpRequest, slug: str, trace_id: str) -> HttpResponse:
    """Show a stored trace step by step, with a timeline of where the time went."""
    project = project_for(request, slug)
    trace = selectors.trace_get(project=project, trace_id=trace_id, at=hints.at_parse(request.GET.get("at")))
    if trace is None:
        raise Http404("No such trace")
    steps = selectors.trace_steps(trace=trace)
    selectors.trace_steps_label(project=project, trace=trace, steps=steps)
    context = {
        "project": project,
        "trace": trace,
        "steps": steps,
        "event": selectors.trace_call_event(project=project, trace=trace),
        "nav": "violations",
        "timeline": charts.trace_timeline(steps),
    }
    return render(request, "contracts_app/trace_detail.html", context)


@login_required
@require_GET
def trace_compare(request: HttpRequest, slug: str) -> HttpResponse:
    """Show two traces side by side, step by step, marking the steps that differ."""
    project = project_for(request, slug)
    ids = [i for i in request.GET.getlist("t") if i][:3]
    if len(ids) != 2:
        context = {"project": project, "nav": "breakpoints", "error": "pick exactly two traces to compare"}
        return render(request, "contracts_app/trace_compare.html", context, status=400)
    pair = [selectors.trace_get(project=project, trace_id=trace_id) for trace_id in ids]
    if pair[0] is None or pair[1] is None:
        raise Http404("No such trace")
    context = {
        "project": project,
        "nav": "breakpoints",
        "left": pair[0],
        "right": pair[1],
        "rows": selectors.trace_comparison(left=pair[0], right=pair[1]),
    }
    return render(request, "contracts_app/trace_compare.html", context)


# Breakpoints.


class BreakpointForm(forms.Form):
    contract = forms.CharField(max_length=200)
    severity = forms.ChoiceField(
        choices=[("", "any severity"), *ValidationEvent.Severity.choices],
        required=False,
        help_text="a verdict failed with at least this severity",
    )
    model = forms.CharField(max_length=200, required=False)
    input_contains = forms.CharField(max_length=500, required=False, strip=False)
    output_contains = forms.CharField(max_length=500, required=False, strip=False)
    limit = forms.IntegerField(
        min_value=1,
        max_value=services.BREAKPOINT_MAX_LIMIT,
        required=False,
        help_text=f"captures before it disarms itself (empty: {services.BREAKPOINT_DEFAULT_LIMIT})",
    )
    rate_per_minute = forms.IntegerField(
        min_value=1,
        max_value=services.BREAKPOINT_MAX_RATE,
        required=False,
        help_text=f"captures a minute at most (empty: {services.BREAKPOINT_DEFAULT_RATE})",
    )


def _breakpoint(project: Project, pk: int) -> Breakpoint:
    breakpoint = selectors.breakpoint_get(project=project, pk=pk)
    if breakpoint is None:
        raise Http404("No such breakpoint")
    return breakpoint


def _save_breakpoint(request: HttpRequest, project: Project, breakpoint: Breakpoint | None) -> Any:
    form = BreakpointForm(request.POST)
    if form.is_valid():
        try:
            return services.breakpoint_save(project=project, breakpoint=breakpoint, **form.cleaned_data), form
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.reason)
    return None, form


def _breakpoint_page(request: HttpRequest, project: Project, **context: Any) -> dict[str, Any]:
    return {
        "project": project,
        "nav": "breakpoints",
        "contract_names": selectors.contract_names_seen(project=project, now=timezone.now()),
        **context,
    }


@login_required
@require_http_methods(["GET", "POST"])
def breakpoint_list(request: HttpRequest, slug: str) -> HttpResponse:
    """List the project's breakpoints with their hits; create one (POST)."""
    project = project_for(request, slug, write=request.method == "POST")
    form = BreakpointForm()
    if request.method == "POST":
        saved, form = _save_breakpoint(request, project, None)
        if saved is not None:
            messages.success(request, f"Breakpoint {saved.pk} is armed.")
            return redirect("contracts_app:breakpoint_list", slug=project.slug)
    breakpoints = selectors.breakpoints_list(project=project)
    if request.htmx and request.method == "GET":
        return render(
            request, "contracts_app/_breakpoint_table.html", {"project": project, "breakpoints": breakpoints}
        )
    context = _breakpoint_page(request, project, form=form, breakpoints=breakpoints)
    return render(request, "contracts_app/breakpoint_list.html", context, status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def breakpoint_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Show a breakpoint with the traces it captured, newest first; change it (POST)."""
    project = project_for(request, slug, write=request.method == "POST")
    breakpoint = _breakpoint(project, pk)
    form = BreakpointForm(initial={name: getattr(breakpoint, name) for name in BreakpointForm.base_fields})
    if request.method == "POST":
        saved, form = _save_breakpoint(request, project, breakpoint)
        if saved is not None:
            messages.success(request, f"Breakpoint {saved.pk} is saved.")
            return redirect("contracts_app:breakpoint_detail", slug=project.slug, pk=saved.pk)
    captures = selectors.breakpoint_traces(breakpoint=breakpoint, page=_int(request.GET.get("page")) or 1)
    template = (
        "contracts_app/_breakpoint_traces.html" if request.htmx else "contracts_app/breakpoint_detail.html"
    )
    context = _breakpoint_page(
        request, project, form=form, breakpoint=breakpoint, traces=captures.traces, captures=captures
    )
    return render(request, template, context, status=422 if form.errors else 200)


@login_required
@require_POST
def breakpoint_active(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Enable or disable a breakpoint (the table alone for htmx)."""
    project = project_for(request, slug, write=True)
    error = None
    try:
        services.breakpoint_set_active(
            breakpoint=_breakpoint(project, pk), active=request.POST.get("active") == "1"
        )
    except ServiceError as exc:
        error = exc.reason
    if request.htmx:
        context = {
            "project": project,
            "breakpoints": selectors.breakpoints_list(project=project),
            "error": error,
        }
        return render(request, "contracts_app/_breakpoint_table.html", context)
    if error:
        messages.error(request, error)
    if request.POST.get("next") == "detail":
        return redirect("contracts_app:breakpoint_detail", slug=project.slug, pk=pk)
    return redirect("contracts_app:breakpoint_list", slug=project.slug)


@login_required
@require_POST
def breakpoint_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Delete a breakpoint; the traces it captured stay."""
    project = project_for(request, slug, write=True)
    services.breakpoint_delete(breakpoint=_breakpoint(project, pk))
    messages.success(request, f"Breakpoint {pk} is deleted.")
    return redirect("contracts_app:breakpoint_list", slug=project.slug)


# Profiles of saved versions: what each check costs, measured in the background.

PROFILE_EXAMPLE = '{"output": "Your order ships on Monday.", "input": "When does my order ship?"}\n'


def _profile_page(
    request: HttpRequest, project: Project, contract: Contract, version: Any, **extra: Any
) -> dict[str, Any]:
    profiles = list(version.profiles.select_related("requested_by")[:10])
    for profile in profiles:
        if profile.pending and profile.created_at < timezone.now() - profiling.PROFILE_STALE_AFTER:
            profiling.profile_give_up(profile_id=profile.pk, reason="the worker running it stopped")
            profile.refresh_from_db()
    context = {
        "project": project,
        "contract": contract,
        "version": version,
        "profiles": profiles,
        "latest": profiles[0] if profiles else None,
        "max_cases": profiling.PROFILE_MAX_CASES,
        "max_runs": profiling.PROFILE_MAX_RUNS,
        "cases": PROFILE_EXAMPLE,
        "runs": 10,
        "nav": "contracts",
    }
    context.update(extra)
    return context


@login_required
@require_http_methods(["GET", "POST"])
def contract_profile(request: HttpRequest, slug: str, name: str, version: int) -> HttpResponse:
    """Show a version's profiles (the latest alone for htmx polling); queue a new one on POST."""
    project = project_for(request, slug, write=request.method == "POST")
    contract = _contract(project, name)
    saved = _version(contract, version)
    if request.method == "POST":
        cases = request.POST.get("cases", "")
        runs = _int(request.POST.get("runs"))
        try:
            profiling.profile_request(
                version=saved,
                cases_text=cases,
                runs=runs if runs is not None else 0,
                requested_by=request.user,
            )
        except profiling.ProfileRefused as exc:
            context = _profile_page(
                request,
                project,
                contract,
                saved,
                refusal=exc.reason,
                cases=cases,
                runs=request.POST.get("runs", ""),
            )
            return render(request, "contracts_app/contract_profile.html", context, status=exc.status)
        messages.success(request, f"Profiling {contract.name} v{saved.version}: the result appears below.")
        return redirect(
            "contracts_app:contract_profile", slug=project.slug, name=contract.name, version=version
        )
    context = _profile_page(request, project, contract, saved)
    template = "contracts_app/_profile_result.html" if request.htmx else "contracts_app/contract_profile.html"
    return render(request, template, context)
