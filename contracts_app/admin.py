"""Admin pages: enough to manage contracts, traces and breakpoints."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from contracts_app.models import Breakpoint, Contract, ContractVersion, Trace


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


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    list_display = ["trace_id", "project", "created_at", "outcome", "model", "breakpoint"]


@admin.register(Breakpoint)
class BreakpointAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "contract", "active", "hit_count", "limit"]
