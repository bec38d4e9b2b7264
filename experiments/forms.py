"""The forms of the experiment pages: they parse; the services validate and decide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from accounts.models import Project
from contracts_app.models import ContractVersion
from experiments.models import CONTROL, TREATMENT, Experiment, RampStep

RAMP_ROWS_EXTRA = 3


class VersionChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: ContractVersion) -> str:
        return f"{obj.contract.name} v{obj.version}"


class ExperimentForm(forms.Form):
    key = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    control = VersionChoice(queryset=ContractVersion.objects.none(), required=False)
    treatment = VersionChoice(queryset=ContractVersion.objects.none(), required=False)
    treatment_weight = forms.FloatField(
        min_value=0.01, max_value=0.99, initial=0.5, help_text="Share of covered users on the treatment"
    )
    sticky = forms.BooleanField(required=False)
    alpha = forms.FloatField(initial=0.05)
    max_p95_latency_regression = forms.FloatField(initial=0.2, label="Tolerated p95 latency increase")
    max_fix_failure_regression = forms.FloatField(initial=0.05, label="Tolerated auto-fix failure increase")
    max_cost_regression = forms.FloatField(initial=0.1, label="Tolerated cost-per-call increase")
    guardrail_min_calls = forms.IntegerField(min_value=0, initial=200)

    def __init__(self, *args: Any, project: Project, experiment: Experiment | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        versions = ContractVersion.objects.filter(contract__project=project).select_related("contract")
        for arm in (CONTROL, TREATMENT):
            self.fields[arm].queryset = versions.order_by("contract__name", "-version")  # type: ignore[attr-defined]
        if experiment is not None:
            # The key names the experiment in events and in the SDK: it never changes.
            del self.fields["key"]
            if experiment.status != Experiment.Status.DRAFT:
                for name in (CONTROL, TREATMENT, "treatment_weight"):
                    del self.fields[name]

    def changes(self) -> dict[str, Any]:
        """Return the cleaned data as the services take it."""
        data = dict(self.cleaned_data)
        data.pop("key", None)
        if "treatment_weight" in data:
            weight = data.pop("treatment_weight")
            data["weights"] = [round(1 - weight, 6), weight]
        for arm in (CONTROL, TREATMENT):
            if arm in data:
                data[arm] = [v.pk for v in data[arm]]
        return data


def initial_of(experiment: Experiment, arms: Mapping[str, list[Any]]) -> dict[str, Any]:
    """Return an experiment's values for the edit form."""
    return {
        "description": experiment.description,
        CONTROL: arms[CONTROL],
        TREATMENT: arms[TREATMENT],
        "treatment_weight": experiment.weights[1] if experiment.weights else 0.5,
        "sticky": experiment.sticky,
        "alpha": experiment.alpha,
        "max_p95_latency_regression": experiment.max_p95_latency_regression,
        "max_fix_failure_regression": experiment.max_fix_failure_regression,
        "max_cost_regression": experiment.max_cost_regression,
        "guardrail_min_calls": experiment.guardrail_min_calls,
    }


def ramp_rows(post: Mapping[str, Any] | None, steps: list[RampStep]) -> list[dict[str, Any]]:
    """Return the ramp editor's rows: the posted ones, or the saved steps and a few blank rows."""
    if post is None:
        rows = [
            {"coverage": round(s.coverage * 100, 4), "hold": s.hold, "hold_value": s.hold_value}
            for s in steps
        ]
        return rows + [{"coverage": "", "hold": "minutes", "hold_value": ""}] * RAMP_ROWS_EXTRA
    try:
        count = int(post.get("rows", 0) or 0)
    except (TypeError, ValueError):
        # A tampered or broken row count: read the rows that were posted instead.
        count = sum(1 for name in post if str(name).startswith("coverage_"))
    return [
        {
            "coverage": post.get(f"coverage_{i}", ""),
            "hold": post.get(f"hold_{i}", "minutes"),
            "hold_value": post.get(f"hold_value_{i}", ""),
        }
        for i in range(min(count, 50))
    ]


def ramp_steps_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn the filled rows (coverage in percent) into the steps the service takes; blank rows are dropped."""
    steps = []
    for row in rows:
        if str(row["coverage"]).strip() == "":
            continue
        try:
            coverage: Any = float(row["coverage"]) / 100
        except ValueError:
            coverage = row["coverage"]
        hold_value = str(row["hold_value"]).strip() or "0"
        steps.append({"coverage": coverage, "hold": row["hold"], "hold_value": hold_value})
    return steps
