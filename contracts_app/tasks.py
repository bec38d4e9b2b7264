"""Celery tasks: thin wrappers that call one service each."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from contracts_app import partitions, profiling, services


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
    """Create the events table's day partitions ahead (Postgres); return those created."""
    return partitions.partitions_ensure()


@shared_task(name="contracts_app.alerts_evaluate")
def alerts_evaluate() -> int:
    """Evaluate alert rules and post changes to the webhooks."""
    return len(services.alerts_evaluate())


@shared_task(
    name="contracts_app.contract_profile",
    soft_time_limit=profiling.PROFILE_SOFT_LIMIT_S,
    time_limit=profiling.PROFILE_HARD_LIMIT_S,
    acks_late=False,
)
def contract_profile(profile_id: int) -> str | None:
    """Profile a saved contract version on the cases pasted on its page."""
    profile = profiling.profile_run(profile_id=profile_id)
    return None if profile is None else profile.status
