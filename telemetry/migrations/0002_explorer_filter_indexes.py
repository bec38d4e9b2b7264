"""Indexes that let the violations explorer's model filter and message search stop early.

Without them, a model or a word that matches almost no violation made the explorer read
every violation of the project (seconds at ten million events): the explorer walks the
violation index newest first and checks each row.

- ``event_violation_model``: violations by (project, model, newest first). A model
  filter walks only that model's violations, in page order; a model no violation has is
  one index probe per day partition.
- ``event_message_fts`` (Postgres only): a GIN index over the same expression the search
  uses, ``to_tsvector('english', message)``, on violations only (the explorer searches
  nothing else). A word found nowhere is one probe per day partition. The index knows
  words, not time: a frequent word's matches over a month are many, so the explorer
  searches in widening time windows (``dashboard.selectors._scan_rows``).

Both are created on the partitioned events table, so Postgres creates them on every day
partition, and on each day partition created or attached later. The index that 0002 of
contracts_app made for the search went with the plain table when 0009 partitioned it.
Creating them takes the events table's write lock while every partition is indexed
(seconds per million violations; ingest waits meanwhile).
"""

from typing import Any

from django.db import migrations, models

EVENTS = "contracts_app_validationevent"
FTS_INDEX = "event_message_fts"


def fts_create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {FTS_INDEX} ON {EVENTS} "
            "USING GIN (to_tsvector('english', message)) WHERE NOT is_valid"
        )


def fts_drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {FTS_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0001_events_rollups_alerts_from_contracts_app"),
        # The events table is partitioned by then: the indexes go on every partition.
        ("contracts_app", "0012_merge_series_index_and_app_split"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="validationevent",
            index=models.Index(
                condition=models.Q(("is_valid", False)),
                fields=["project", "model", "-timestamp", "-id"],
                name="event_violation_model",
            ),
        ),
        migrations.RunPython(fts_create, fts_drop),
    ]
