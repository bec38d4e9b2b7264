"""The dashboard's pages: overview, violations explorer, event, health, settings, projects, time zone."""

from __future__ import annotations

import csv
import functools
import gzip
from pathlib import Path
from typing import Any

import plotly
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Membership
from dashboard import charts, selectors, services
from dashboard.forms import (
    AlertRuleForm,
    ApiKeyForm,
    MemberInviteForm,
    MemberRoleForm,
    ProjectCreateForm,
    ProjectSettingsForm,
    TimeZoneForm,
    ViolationFilterForm,
)
from dashboard.lib import hints
from dashboard.lib.access import project_for, project_owned
from dashboard.lib.errors import ServiceError
from dashboard.lib.webhooks import webhook_url_masked
from llm_contracts.llmcl import LLMCLError, format_source
from telemetry import services as telemetry_services

# The session key under which a new project's first API key waits for its onboarding snippet.
ONBOARDING_KEY = "onboarding_keys"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _is_fragment(request: HttpRequest, target: str) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and htmx.target == target  # type: ignore[union-attr]


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their first project, or say they have none."""
    slug = account_selectors.first_project_slug(user=request.user)
    if slug is None:
        return render(request, "dashboard/no_projects.html")
    return redirect("dashboard:overview", slug=slug)


@functools.cache
def _plotly_gzip() -> bytes:
    # Compressed once per process (4.8 MB -> about 1.4 MB); mtime=0 keeps the bytes, and so
    # the ETag, the same in every process.
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=9, mtime=0)


@require_GET
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def plotly_js(request: HttpRequest) -> HttpResponse:
    """Serve the plotly.js bundle that the plotly package ships (no CDN), gzipped when accepted."""
    # The URL names plotly's version, so a year of caching can never serve a stale bundle.
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        response: HttpResponse = FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript")
    else:
        response = HttpResponse(_plotly_gzip(), content_type="text/javascript")
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    response["ETag"] = f'"plotly-{plotly.__version__}"'
    return response


@require_GET
@login_required
def overview(request: HttpRequest, slug: str) -> HttpResponse:
    """Show a project's violation rate, volume, latency and top failures over a time range."""
    project = project_for(request, slug)
    try:
        time_range = selectors.time_range_parse(request.GET, now=timezone.now())
    except selectors.BadQuery as exc:
        return render(
            request, "dashboard/bad_query.html", {"project": project, "error": str(exc)}, status=400
        )
    data = selectors.overview_for(project=project, time_range=time_range)
    if request.GET.get("format") == "csv":
        return _csv_response(request.GET.get("chart", "violation_rate"), data, project.slug)
    context = {
        "project": project,
        "nav": "overview",
        "o": data,
        "ranges": list(selectors.RANGES),
        "charts": charts.overview_figures(data),
        "numbers": charts.overview_numbers(data),
        # Each row links to the explorer filtered by it (the third item names the filter).
        "tops": [
            ("Failing contracts", charts.top_table(data.by_contract), "contract"),
            ("Models", charts.top_table(data.by_model), "model"),
            ("Severities", charts.top_table(data.by_severity), "severity"),
        ],
        "query": request.GET.urlencode(),
        "onboarding": _onboarding(request, project) if data.count == 0 else None,
    }
    template = (
        "dashboard/_overview_live.html"
        if _is_fragment(request, "overview-live")
        else "dashboard/overview.html"
    )
    return render(request, template, context)


def _onboarding(request: HttpRequest, project: Any) -> dict[str, str] | None:
    # Only a project that never heard from an SDK gets the first-event snippet; the raw key
    # exists only in the session of whoever created the project (keys are stored hashed).
    if not selectors.project_is_empty(project=project):
        return None
    return {
        "url": request.build_absolute_uri("/").rstrip("/"),
        "key": request.session.get(ONBOARDING_KEY, {}).get(project.slug, ""),
    }


def _csv_response(chart: str, data: selectors.Overview, slug: str) -> HttpResponse:
    table = charts.CSV_TABLES.get(chart)
    if table is None:
        raise Http404(f"chart must be one of {', '.join(charts.CSV_TABLES)}")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-{chart}.csv"'
    writer = csv.writer(response)
    for row in table(data):
        writer.writerow([charts.csv_safe(v) for v in row])
    return response


@require_GET
@login_required
def violations(request: HttpRequest, slug: str) -> HttpResponse:
    """List a project's violations, filtered and searched, a page at a time."""
    project = project_for(request, slug)
    form = ViolationFilterForm(request.GET)
    page = None
    status = 200
    if form.is_valid():
        try:
            page = selectors.violations_page(
                project=project, filters=form.filters(now=timezone.now()), cursor=form.cleaned_data["cursor"]
            )
        except selectors.BadQuery as exc:
            form.add_error("cursor", str(exc))
        else:
            selectors.verdicts_label(project=project, verdicts=[v for c in page.calls for v in c.verdicts])
    if page is None:
        status = 400
    context = {
        "project": project,
        "nav": "violations",
        "form": form,
        "page": page,
        "query": _without_cursor(request),
    }
    fragment = _is_fragment(request, "violations-table")
    template = "dashboard/_violations_table.html" if fragment else "dashboard/violations.html"
    return render(request, template, context, status=status)


def _without_cursor(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("cursor", None)
    return params.urlencode()


@require_GET
@login_required
def event_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Show one validation event with its redacted excerpts."""
    project = project_for(request, slug)
    event = selectors.event_for(project=project, pk=pk, at=hints.at_parse(request.GET.get("at")))
    if event is None:
        raise Http404("No such event")
    selectors.verdicts_label(project=project, verdicts=[event])
    return render(request, "dashboard/event.html", {"project": project, "nav": "violations", "event": event})


@require_GET
@login_required
def call_detail(request: HttpRequest, slug: str, call_id: str) -> HttpResponse:
    """Show one call: every verdict it got, its trace, conversation and experiment arm."""
    project = project_for(request, slug)
    call = selectors.call_verdicts(project=project, call_id=call_id, at=hints.at_parse(request.GET.get("at")))
    if call is None:
        raise Http404("No such call")
    selectors.verdicts_label(project=project, verdicts=call.verdicts)
    return render(request, "dashboard/call.html", {"project": project, "nav": "violations", "call": call})


@require_GET
@login_required
def health(request: HttpRequest, slug: str) -> HttpResponse:
    """Show the project's SDK fleet and how far behind the rollups are."""
    project = project_for(request, slug)
    fleet = selectors.fleet_for(project=project, now=timezone.now())
    template = (
        "dashboard/_health_fleet.html" if _is_fragment(request, "health-fleet") else "dashboard/health.html"
    )
    return render(request, template, {"project": project, "nav": "health", "fleet": fleet})


# Settings: one page, one small view per form. Writes redirect back to the page.


def _settings_context(project: Any, **extra: Any) -> dict[str, Any]:
    return {
        "project": project,
        "nav": "settings",
        "settings": selectors.settings_for(project=project),
        "key_form": ApiKeyForm(),
        "member_form": MemberInviteForm(),
        "invitations": account_services.invitations_open(project=project) if project.is_owner else [],
        "project_form": ProjectSettingsForm(instance=project),
        "alert_form": AlertRuleForm(),
        "roles": Membership.Role.choices,
        # Viewers see where alerts go, not the receiver's secret path.
        "webhook_masked": webhook_url_masked(project.alert_webhook_url) if project.alert_webhook_url else "",
        **extra,
    }


@require_GET
@login_required
def settings_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Show API keys, members, retention and alert settings."""
    project = project_for(request, slug)
    template = "dashboard/_api_keys.html" if _is_fragment(request, "api-keys") else "dashboard/settings.html"
    return render(request, template, _settings_context(project))


@require_POST
@login_required
def api_key_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Create an API key and show it this once."""
    project = project_for(request, slug, write=True)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _form_error(request, project, form)
    _, raw = account_services.api_key_create(
        project=project,
        name=form.cleaned_data["name"],
        created_by=request.user,
        scopes=form.cleaned_data["scopes"],
    )
    template = "dashboard/_api_keys.html" if _is_fragment(request, "api-keys") else "dashboard/settings.html"
    return render(request, template, _settings_context(project, new_key=raw), status=201)


@require_POST
@login_required
def api_key_revoke(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Revoke an API key."""
    project = project_for(request, slug, write=True)
    return _run(request, project, "API key revoked.", account_services.project_api_key_revoke, key_id=key_id)


@require_POST
@login_required
def member_invite(request: HttpRequest, slug: str) -> HttpResponse:
    """Invite someone by email and show the invitation link this once (owners only)."""
    project = project_owned(request, slug)
    form = MemberInviteForm(request.POST)
    if not form.is_valid():
        return _form_error(request, project, form)
    invitation, link = account_services.invitation_create(
        project=project,
        email=form.cleaned_data["email"],
        role=form.cleaned_data["role"],
        invited_by=request.user,
    )
    context = _settings_context(project, new_invitation=invitation, new_invitation_link=link)
    return render(request, "dashboard/settings.html", context, status=201)


@require_POST
@login_required
def member_update(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    """Change a member's role, or remove them with ``remove`` (owners only)."""
    project = project_owned(request, slug)
    if "remove" in request.POST:
        return _run(
            request,
            project,
            "Member removed.",
            account_services.member_remove,
            membership_id=membership_id,
        )
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return _form_error(request, project, form)
    return _run(
        request,
        project,
        "Role changed.",
        account_services.member_role_change,
        membership_id=membership_id,
        role=form.cleaned_data["role"],
    )


@require_POST
@login_required
def project_settings_save(request: HttpRequest, slug: str) -> HttpResponse:
    """Set retention and the alert webhook."""
    project = project_for(request, slug, write=True)
    form = ProjectSettingsForm(request.POST, instance=project)
    if not form.is_valid():
        return _form_error(request, project, form)
    return _run(
        request,
        project,
        "Settings saved.",
        account_services.project_settings_update,
        **form.cleaned_data,
    )


@require_POST
@login_required
def alert_rule_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Add an alert threshold."""
    project = project_for(request, slug, write=True)
    form = AlertRuleForm(request.POST)
    if not form.is_valid():
        return _form_error(request, project, form)
    return _run(
        request,
        project,
        "Alert rule added.",
        telemetry_services.alert_rule_create,
        **form.cleaned_data,
    )


@require_POST
@login_required
def alert_rule_delete(request: HttpRequest, slug: str, rule_id: int) -> HttpResponse:
    """Delete an alert threshold."""
    project = project_for(request, slug, write=True)
    return _run(
        request, project, "Alert rule deleted.", telemetry_services.alert_rule_delete, rule_id=rule_id
    )


def _run(request: HttpRequest, project: Any, done: str, service: Any, /, **kwargs: Any) -> HttpResponse:
    try:
        service(project=project, **kwargs)
    except ServiceError as exc:
        messages.error(request, f"{exc.field}: {exc.reason}")
        return render(request, "dashboard/settings.html", _settings_context(project), status=exc.status)
    messages.success(request, done)
    return redirect("dashboard:settings", slug=project.slug)


# The settings page's context name of each form, so a refused form comes back as typed.
_FORM_NAMES = {
    ApiKeyForm: "key_form",
    MemberInviteForm: "member_form",
    ProjectSettingsForm: "project_form",
    AlertRuleForm: "alert_form",
}


def _form_error(request: HttpRequest, project: Any, form: Any) -> HttpResponse:
    for name, errors in form.errors.items():
        for error in errors:
            messages.error(request, f"{name}: {error}" if name != "__all__" else error)
    extra = {_FORM_NAMES[type(form)]: form} if type(form) in _FORM_NAMES else {}
    return render(request, "dashboard/settings.html", _settings_context(project, **extra), status=400)


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    """Create a project owned by the user, with a first API key for its onboarding snippet."""
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = account_services.project_create_for(user=request.user, name=form.cleaned_data["name"])
        except ServiceError as exc:
            form.add_error("name", exc.reason)
        else:
            _, raw = account_services.api_key_create(
                project=project, name="first key", created_by=request.user
            )
            request.session[ONBOARDING_KEY] = {**request.session.get(ONBOARDING_KEY, {}), project.slug: raw}
            messages.success(request, f"Project {project.name} created.")
            return redirect("dashboard:overview", slug=project.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/project_new.html", {"form": form}, status=status)


@login_required
def time_zone_page(request: HttpRequest) -> HttpResponse:
    """Choose the time zone of every page: a named zone, or the browser's."""
    saved = getattr(getattr(request.user, "preference", None), "time_zone", "")
    form = TimeZoneForm(request.POST or None, initial={"time_zone": saved})
    if request.method == "POST" and form.is_valid():
        services.time_zone_set(user=request.user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, "Time zone saved.")
        return redirect(form.cleaned_data["next"] or "home")
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/time_zone.html", {"form": form}, status=status)


@require_POST
@login_required
def llmcl_format(request: HttpRequest, slug: str) -> JsonResponse:
    """Return the posted LLMCL source in canonical layout, or why it cannot be formatted."""
    project_for(request, slug)
    try:
        formatted = format_source(request.POST.get("source", ""))
    except LLMCLError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"source": formatted})
