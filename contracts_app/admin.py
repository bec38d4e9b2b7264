"""Admin pages: enough to manage contracts, events, traces, breakpoints and alert rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from contracts_app.models import (
    AlertRule,
    Breakpoint,
    Contract,
    ContractVersion,
    SdkInstance,
    Trace,
    ValidationEvent,
)


class ContractVersionInline(admin.TabularInline):
    model = ContractVersion
    extra = 0
    fields = ["version", "author", "created_at", "source"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "active", "created_at"]
    list_filter = ["project", "active"]
    inlines = [ContractVersionInline]


@admin.register(ValidationEvent)
class ValidationEventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "project", "contract", "is_valid", "severity", "outcome", "model"]
    list_filter = ["project", "is_valid", "severity", "outcome"]
    search_fields = ["event_id", "call_id", "contract"]
    date_hierarchy = "timestamp"

    # Events are immutable records.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    list_display = ["trace_id", "project", "created_at", "outcome", "model", "breakpoint"]


@admin.register(Breakpoint)
class BreakpointAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "contract", "active", "hit_count", "limit"]


@admin.register(SdkInstance)
class SdkInstanceAdmin(admin.ModelAdmin):
    list_display = ["instance_id", "project", "version", "last_seen", "events_received"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["project", "contract", "metric", "threshold", "window_minutes", "firing"]
