"""Celery tasks of experiments: thin wrappers that call one service."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from experiments import services


@shared_task(name="experiments.rollout_evaluate_all")
def rollout_evaluate_all(now: str | None = None) -> int:
    """Advance, hold, pause or roll back every running experiment; return how many decisions were taken.

    ``now`` (ISO 8601) replays the job at another time, for simulations; beat leaves it unset.
    """
    return len(services.rollout_evaluate_all(now=datetime.fromisoformat(now) if now else None))
