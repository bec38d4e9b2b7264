"""Celery tasks of telemetry: thin wrappers that call one service each.

The task names are the ones these tasks had in contracts_app: beat schedules and messages
already queued name them.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from telemetry import partitions, services


@shared_task(name="contracts_app.rollups_aggregate")
def rollups_aggregate() -> dict[str, Any]:
    """Bring the health rollups up to date."""
    result = services.rollups_aggregate()
    return {
        "events": result.events,
        "minute_rows": result.minute_rows,
        "hour_rows": result.hour_rows,
        "busy_projects": result.busy_projects,
    }


@shared_task(name="contracts_app.events_expire")
def events_expire() -> int:
    """Delete raw events past their project's retention."""
    return services.events_expire()


@shared_task(name="contracts_app.partitions_ensure")
def partitions_ensure() -> list[str]:
    """Create the events and traces tables' partitions ahead (Postgres); return those created."""
    return partitions.partitions_ensure_all()


@shared_task(name="contracts_app.alerts_evaluate")
def alerts_evaluate() -> int:
    """Evaluate alert rules and post changes to the webhooks."""
    return len(services.alerts_evaluate())
