"""Admin pages: enough to manage projects, members, keys, contracts and breakpoints."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from contracts_app import services
from contracts_app.models import (
    AlertRule,
    ApiKey,
    Breakpoint,
    Contract,
    ContractVersion,
    Membership,
    Project,
    SdkInstance,
    Trace,
    ValidationEvent,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "retention_days", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
    fields = ["project", "name", "expires_at", "prefix", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "revoked_at", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = services.api_key_create(
            project=obj.project, name=obj.name, expires_at=obj.expires_at, created_by=request.user
        )  # type: ignore[arg-type]
        obj.pk = key.pk
        # The raw key exists only now: it is shown once and never stored.
        messages.warning(request, f"The new API key (copy it now, it is not shown again): {raw}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            services.api_key_revoke(api_key=key)


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
