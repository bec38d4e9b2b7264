"""Admin pages: projects with their members, and API keys (a new key is shown once)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from accounts import services
from accounts.models import ApiKey, Membership, Project


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
