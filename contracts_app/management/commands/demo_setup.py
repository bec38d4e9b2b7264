"""Create the demo admin, project and API key (idempotent), and print how to use them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from accounts import services as account_services
from accounts.models import Project
from contracts_app import services
from telemetry.models import AlertRule

DEMO_USER = "admin"
DEMO_PASSWORD = "admin"


def demo_key_file() -> Path:
    """Return where the demo key is kept between runs (local state, never committed)."""
    return Path(settings.STATE_DIR) / "demo_api_key"


# A managed contract in two versions, and a rollout of the second one to the demo traffic.
REPLY_V1 = "contract reply_length {\n  ensure len(output) <= 300\n}\n"
REPLY_V2 = "contract reply_length {\n  ensure len(output) <= 200\n}\n"
DEMO_EXPERIMENT = "shorter-replies"
DEMO_RAMP = [
    {"coverage": 0.1, "hold": "minutes", "hold_value": 1, "min_calls": 20},
    {"coverage": 0.5, "hold": "minutes", "hold_value": 3, "min_calls": 50},
    {"coverage": 1.0, "hold": "approval"},
]


def _demo_experiment(project: Project, user: User) -> None:
    """Seed two versions of a managed contract and a running experiment with a ramp (once)."""
    from experiments import services as experiment_services
    from experiments.models import Experiment

    if Experiment.objects.filter(project=project, key=DEMO_EXPERIMENT).exists():
        return
    contract = project.contracts.filter(name="reply_length").first()
    versions = list(contract.versions.order_by("version")[:2]) if contract else []
    if len(versions) < 2:
        # v1 runs in production; v2 stays a draft that only the experiment's treatment gets.
        first = services.contract_save(project=project, source=REPLY_V1, author=user)
        services.contract_version_activate(contract_version=first, actor=user, reason="demo")
        versions = [
            first,
            services.contract_save(project=project, name="reply_length", source=REPLY_V2, author=user),
        ]
    actor = experiment_services.Actor.of_user(user)
    experiment = experiment_services.experiment_create(
        project=project,
        key=DEMO_EXPERIMENT,
        actor=actor,
        description="Demo: a stricter reply length, ramped 10% -> 50% -> 100% (the last step waits for you).",
        control=[versions[0].pk],
        treatment=[versions[1].pk],
        guardrail_min_calls=30,
        ramp=DEMO_RAMP,
    )
    experiment_services.experiment_start(experiment=experiment, actor=actor)


class Command(BaseCommand):
    help = "Create the demo admin user, a demo project and its API key; print the URL, login and key."

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = User.objects.create_superuser(DEMO_USER, "admin@example.org", DEMO_PASSWORD)
        project = Project.objects.filter(slug="demo").first()
        if project is None:
            project = account_services.project_create(name="Demo", slug="demo", owner=user)
            AlertRule.objects.create(
                project=project,
                contract="ticket_schema",
                metric="violation_rate",
                threshold=0.5,
                window_minutes=5,
                min_count=20,
            )
        _demo_experiment(project, user)
        # The raw key is stored hashed, so it cannot be shown again from the database; the
        # demo keeps it in the local state folder and reuses it while it still works.
        path = demo_key_file()
        raw = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        key = account_services.api_key_authenticate(raw_key=raw) if raw else None
        if key is None or key.project_id != project.pk:
            _, raw = account_services.api_key_create(project=project, name="demo", created_by=user)
            path.write_text(raw + "\n", encoding="utf-8")
            os.chmod(path, 0o600)
        self.stdout.write(
            f"control plane: {settings.SITE_URL}/admin/  (API docs: {settings.SITE_URL}/api/v1/docs)"
        )
        self.stdout.write(f"login:         {DEMO_USER} / {DEMO_PASSWORD}")
        self.stdout.write(f"API key:       {raw}")
