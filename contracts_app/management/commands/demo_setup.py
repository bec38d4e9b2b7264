"""Create the demo admin, project and API key (idempotent), and print how to use them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from contracts_app import services
from contracts_app.models import AlertRule, Project

DEMO_USER = "admin"
DEMO_PASSWORD = "admin"


def demo_key_file() -> Path:
    """Return where the demo key is kept between runs (local state, never committed)."""
    return Path(settings.STATE_DIR) / "demo_api_key"


class Command(BaseCommand):
    help = "Create the demo admin user, a demo project and its API key; print the URL, login and key."

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = User.objects.create_superuser(DEMO_USER, "admin@example.org", DEMO_PASSWORD)
        project = Project.objects.filter(slug="demo").first()
        if project is None:
            project = services.project_create(name="Demo", slug="demo", owner=user)
            AlertRule.objects.create(
                project=project,
                contract="ticket_schema",
                metric="violation_rate",
                threshold=0.5,
                window_minutes=5,
                min_count=20,
            )
        # The raw key is stored hashed, so it cannot be shown again from the database; the
        # demo keeps it in the local state folder and reuses it while it still works.
        path = demo_key_file()
        raw = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        key = services.api_key_authenticate(raw_key=raw) if raw else None
        if key is None or key.project_id != project.pk:
            _, raw = services.api_key_create(project=project, name="demo", created_by=user)
            path.write_text(raw + "\n", encoding="utf-8")
            os.chmod(path, 0o600)
        self.stdout.write(
            f"control plane: {settings.SITE_URL}/admin/  (API docs: {settings.SITE_URL}/api/v1/docs)"
        )
        self.stdout.write(f"login:         {DEMO_USER} / {DEMO_PASSWORD}")
        self.stdout.write(f"API key:       {raw}")
