"""The Celery application: configured from Django settings (the ``CELERY_`` ones)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_process_init

from dashboard import otel

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect(weak=False)
@beat_init.connect(weak=False)
def _trace_process(**kwargs: Any) -> None:
    # Each pool process sets itself up after the fork, so the exporter's background thread
    # runs in the process that records the spans (a thread does not survive a fork).
    otel.setup()
