"""Celery tasks: thin wrappers that call one service each."""

from __future__ import annotations

from celery import shared_task

from contracts_app import profiling


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
