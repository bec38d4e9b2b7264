"""Celery tasks of experiments: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task

from experiments import services


@shared_task(name="experiments.rollout_evaluate_all")
def rollout_evaluate_all() -> int:
    """Advance, hold, pause or roll back every running experiment; return how many decisions were taken."""
    return len(services.rollout_evaluate_all())
