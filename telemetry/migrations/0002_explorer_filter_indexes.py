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
On Postgres they are built online (``telemetry.partitions.index_create_online``): declared on
the table under a short lock, built on each partition ``CONCURRENTLY`` while ingest goes on,
then attached; the migration is not atomic for that reason, and running it again after it
died half way finishes the build. A plain ``CREATE INDEX`` would hold every insert until all
partitions were indexed (seconds per million violations). Elsewhere (SQLite) they are plain
indexes of the plain table.
"""

from typing import Any

from django.db import migrations, models

EVENTS = "contracts_app_validationevent"
MODEL_INDEX = "event_violation_model"
FTS_INDEX = "event_message_fts"
MODEL_DEFINITION = '(project_id, model, "timestamp" DESC, id DESC) WHERE NOT is_valid'
FTS_DEFINITION = "USING GIN (to_tsvector('english', message)) WHERE NOT is_valid"


def _partitioned(schema_editor: Any) -> bool:
    from telemetry.partitions import EVENT_TABLE, is_partitioned

    return schema_editor.connection.vendor == "postgresql" and is_partitioned(EVENT_TABLE)


def create(apps: Any, schema_editor: Any) -> None:
    if _partitioned(schema_editor):
        from telemetry.partitions import EVENT_TABLE, index_create_online

        index_create_online(MODEL_INDEX, EVENT_TABLE, MODEL_DEFINITION)
        index_create_online(FTS_INDEX, EVENT_TABLE, FTS_DEFINITION)
    elif schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {MODEL_INDEX} ON {EVENTS} {MODEL_DEFINITION}")
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {FTS_INDEX} ON {EVENTS} {FTS_DEFINITION}")
    else:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {MODEL_INDEX} ON {EVENTS} {MODEL_DEFINITION}")


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP INDEX IF EXISTS {MODEL_INDEX}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {FTS_INDEX}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction.
    atomic = False

    dependencies = [
        ("telemetry", "0001_events_rollups_alerts_from_contracts_app"),
        # The events table is partitioned by then: the indexes go on every partition.
        ("contracts_app", "0012_merge_series_index_and_app_split"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="validationevent",
                    index=models.Index(
                        condition=models.Q(("is_valid", False)),
                        fields=["project", "model", "-timestamp", "-id"],
                        name=MODEL_INDEX,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(create, drop, atomic=False)],
        ),
    ]
