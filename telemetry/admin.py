"""Admin pages: events (read only), SDK instances and alert rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from telemetry.models import AlertRule, SdkInstance, ValidationEvent


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


@admin.register(SdkInstance)
class SdkInstanceAdmin(admin.ModelAdmin):
    list_display = ["instance_id", "project", "version", "last_seen", "events_received"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["project", "contract", "metric", "threshold", "window_minutes", "firing"]
