"""The dashboard bench's seeding (bench/dashboard_bench.py): events laid out as production lays them out."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.db.models import Sum

from bench.dashboard_bench import DAYS, aggregate, generate
from telemetry import partitions
from telemetry.models import MinuteRollup, PendingEvent, ValidationEvent

from .conftest import Cast

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)

EVENTS = 3_000


def rows_by_partition() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text, count(*) FROM {partitions.EVENTS} GROUP BY 1")
        return dict(cursor.fetchall())


class TestSeeding:
    def test_every_day_of_the_seeded_month_has_its_own_partition(self, cast: Cast) -> None:
        # The migration only makes the days ingest accepts (a week back): without a
        # partition per day, most of the month would sit in the default partition and the
        # pages would be timed on a layout production never has.
        generate(cast.project_a.pk, EVENTS)
        by_partition = rows_by_partition()
        assert partitions.DEFAULT not in by_partition
        assert sum(by_partition.values()) == EVENTS
        # 30 days after "now minus 30 days" span 30 or 31 UTC days.
        assert len(by_partition) in (DAYS, DAYS + 1)

    def test_the_aggregation_counts_every_seeded_event_and_leaves_the_planner_settings_as_they_were(
        self, transactional_db: None, cast: Cast
    ) -> None:
        generate(cast.project_a.pk, EVENTS)
        aggregate()
        assert not PendingEvent.objects.exists()
        counted = MinuteRollup.objects.filter(project=cast.project_a).aggregate(n=Sum("count"))["n"]
        assert counted == ValidationEvent.objects.filter(project=cast.project_a).count() == EVENTS
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_hashjoin'), current_setting('jit')")
            assert cursor.fetchone() == ("on", "on")
