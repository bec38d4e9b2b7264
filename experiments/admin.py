"""Admin pages of experiments: read-mostly; changes go through the pages or the API, which audit them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from experiments.models import AuditEntry, Decision, Experiment, RampStep, Variation


class VariationInline(admin.TabularInline):
    model = Variation
    extra = 0
    filter_horizontal = ["contract_versions"]


class RampStepInline(admin.TabularInline):
    model = RampStep
    extra = 0


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["key", "project", "status", "coverage", "current_step", "created_at"]
    list_filter = ["status"]
    search_fields = ["key", "description"]
    inlines = [VariationInline, RampStepInline]
    # Status and traffic change only through the services, so every change is audited.
    readonly_fields = [
        "status",
        "coverage",
        "current_step",
        "step_started_at",
        "ramp_finished_at",
        "started_at",
        "ended_at",
        "last_evaluation",
        "last_evaluated_at",
    ]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["experiment", "at", "actor_label", "action"]
    list_filter = ["action"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["experiment", "at", "action", "step", "reason"]
    list_filter = ["action"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
