"""Forms of the dashboard pages: they parse query strings and posts, and name what was wrong."""

from __future__ import annotations

from django import forms

from accounts.models import Membership, Project
from dashboard.lib.tz import zone_names
from dashboard.lib.webhooks import WebhookRefused, webhook_url_check
from dashboard.selectors import RANGES, ViolationFilters
from telemetry.models import AlertRule, ValidationEvent


class ViolationFilterForm(forms.Form):
    contract = forms.CharField(required=False, max_length=200)
    version = forms.IntegerField(required=False, min_value=0)
    severity = forms.ChoiceField(required=False, choices=[("", "any"), *ValidationEvent.Severity.choices])
    model = forms.CharField(required=False, max_length=200)
    session = forms.CharField(required=False, max_length=200)
    experiment = forms.CharField(required=False, max_length=200)
    variant = forms.CharField(required=False, max_length=200)
    call = forms.CharField(required=False, max_length=64)
    q = forms.CharField(required=False, max_length=200, label="Search messages")
    range = forms.ChoiceField(
        required=False, choices=[("", "all time"), *((k, k) for k in RANGES), ("custom", "custom")]
    )
    start = forms.DateTimeField(required=False)
    end = forms.DateTimeField(required=False)
    cursor = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("range") == "custom" and not data.get("start"):
            self.add_error("start", "A custom range needs a start.")
        return data

    def filters(self, *, now: object) -> ViolationFilters:
        """Return the filters of a valid form."""
        data = self.cleaned_data
        since = until = None
        if data.get("range") in RANGES:
            until = now
            since = now - RANGES[data["range"]]  # type: ignore[operator]
        elif data.get("range") == "custom":
            since, until = data.get("start"), data.get("end")
        return ViolationFilters(
            contract=data.get("contract") or "",
            contract_version=data.get("version"),
            severity=data.get("severity") or "",
            model=data.get("model") or "",
            session_id=data.get("session") or "",
            experiment=data.get("experiment") or "",
            variant=data.get("variant") or "",
            call_id=data.get("call") or "",
            q=(data.get("q") or "").strip(),
            since=since,  # type: ignore[arg-type]
            until=until,  # type: ignore[arg-type]
        )


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(
        choices=[
            ("ingest", "ingest: send events and traces"),
            ("read", "read: pull contracts, breakpoints and experiments"),
            ("write", "write: change experiments"),
        ],
        initial=["ingest", "read"],
        widget=forms.CheckboxSelectMultiple,
        help_text="An SDK needs ingest and read; a deployment pipeline changing experiments needs write.",
    )


class MemberInviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class ProjectSettingsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["retention_days", "alert_webhook_url"]
        labels = {"retention_days": "Retention (days)", "alert_webhook_url": "Alert webhook URL"}

    alert_webhook_url = forms.URLField(required=False, assume_scheme="https", label="Alert webhook URL")
    # Shown and typed in percent; stored as a fraction. Empty keeps the current value.
    trace_sample_percent = forms.FloatField(
        required=False,
        min_value=0,
        max_value=100,
        label="Upload the traces of this % of violated calls",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["trace_sample_percent"].initial = round(self.instance.trace_sample_rate * 100, 4)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        percent = data.pop("trace_sample_percent", None)
        if percent is not None:
            data["trace_sample_rate"] = float(percent) / 100  # type: ignore[arg-type]
        return data

    def clean_alert_webhook_url(self) -> str:
        url: str = self.cleaned_data["alert_webhook_url"]
        if url:
            try:
                webhook_url_check(url)
            except WebhookRefused as exc:
                raise forms.ValidationError(str(exc)) from None
        return url

    def clean_retention_days(self) -> int:
        days: int = self.cleaned_data["retention_days"]
        if not 1 <= days <= 3650:
            raise forms.ValidationError("Retention must be between 1 and 3650 days.")
        return days


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = ["contract", "metric", "threshold", "window_minutes", "min_count"]
        labels = {"threshold": "Threshold (% or ms)"}
        help_texts = {"threshold": "a violation rate in percent (5 means 5%), a p95 latency in ms"}

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        threshold = data.get("threshold")
        metric = data.get("metric")
        if threshold is not None and threshold < 0:  # type: ignore[operator]
            self.add_error("threshold", "The threshold cannot be negative.")
        elif metric == AlertRule.Metric.VIOLATION_RATE and threshold is not None:
            if threshold > 100:  # type: ignore[operator]
                self.add_error("threshold", "A violation rate threshold is a percentage between 0 and 100.")
            else:
                # Rates are shown and typed in percent everywhere; rules store the fraction.
                data["threshold"] = threshold / 100  # type: ignore[operator]
        if data.get("window_minutes") == 0:
            self.add_error("window_minutes", "The window must be at least one minute.")
        return data


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200, label="Project name")


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(required=False, label="Time zone")
    # Where to go back to; only a path on this site (see clean_next).
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["time_zone"].choices = [("", "my browser's time zone"), *((n, n) for n in zone_names())]

    def clean_next(self) -> str:
        target: str = self.cleaned_data.get("next") or ""
        # An open redirect would send users anywhere: keep local paths only.
        return target if target.startswith("/") and not target.startswith("//") else ""
