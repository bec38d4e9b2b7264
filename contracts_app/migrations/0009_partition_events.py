"""Postgres: events move to a table range-partitioned by day of their timestamp; SQLite: nothing changes.

The partitioned table keeps the name, the columns and the ids of the plain one (its rows
are copied over); what changes is its keys, since Postgres can only enforce a unique
index that holds the partition key:

- the primary key is (id, timestamp); ids still come from one sequence, so they stay unique;
- the dedup key is (project_id, event_id, timestamp): see ``telemetry.partitions``
  for why that keeps (project_id, event_id) unique across partitions.

Rows whose day has no partition land in a DEFAULT partition; ``partitions_ensure`` creates
the days ahead (and moves such rows in when it creates their day late).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import migrations

EVENTS = "contracts_app_validationevent"
OLD = "contracts_app_validationevent_plain"


def partition(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    from telemetry import partitions  # the module moved to telemetry with the events

    model = apps.get_model("contracts_app", "ValidationEvent")
    run = schema_editor.execute
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [EVENTS])
        old_indexes = [row[0] for row in cursor.fetchall()]
    run(f"ALTER TABLE {EVENTS} RENAME TO {OLD}")
    for name in old_indexes:
        run(f'ALTER INDEX "{name}" RENAME TO "{name[:55]}_plain"')
    run(f'CREATE TABLE {EVENTS} (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE ("timestamp")')
    # Identity columns cannot be on a partitioned table (before Postgres 17): a sequence.
    run(f"CREATE SEQUENCE {EVENTS}_ids OWNED BY {EVENTS}.id")
    run(f"ALTER TABLE {EVENTS} ALTER COLUMN id SET DEFAULT nextval('{EVENTS}_ids')")
    run(f'ALTER TABLE {EVENTS} ADD CONSTRAINT {EVENTS}_pkey PRIMARY KEY (id, "timestamp")')
    run(
        f"ALTER TABLE {EVENTS} ADD CONSTRAINT event_unique_event_id "
        f'UNIQUE (project_id, event_id, "timestamp")'
    )
    run(
        f"ALTER TABLE {EVENTS} ADD CONSTRAINT {EVENTS}_project_fk FOREIGN KEY (project_id) "
        f"REFERENCES contracts_app_project (id) DEFERRABLE INITIALLY DEFERRED"
    )
    for index in model._meta.indexes:
        run(index.create_sql(model, schema_editor))
    run(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF {EVENTS} DEFAULT")
    # A partition for each day the stored rows cover (at most the last 400), then the
    # days ingest accepts.
    with schema_editor.connection.cursor() as cursor:
        now = datetime.now(UTC)
        cursor.execute(
            f"SELECT DISTINCT date_trunc('day', \"timestamp\" AT TIME ZONE 'UTC') FROM {OLD} "
            f'WHERE "timestamp" >= %s AND "timestamp" < %s',
            [now - timedelta(days=400), now + timedelta(days=30)],
        )
        for (day,) in cursor.fetchall():
            partitions.partition_create(cursor, day.date())
        partitions.partitions_ensure(now=now, cursor=cursor)
    run(f"INSERT INTO {EVENTS} SELECT * FROM {OLD}")
    run(f"SELECT setval('{EVENTS}_ids', COALESCE((SELECT MAX(id) FROM {OLD}), 0) + 1, false)")
    run(f"DROP TABLE {OLD}")
    # The aggregation's queue trigger (0008) went with the old table.
    for statement in (
        f"""
        CREATE TRIGGER contracts_app_event_queue AFTER INSERT ON {EVENTS}
        REFERENCING NEW TABLE AS inserted_events
        FOR EACH STATEMENT EXECUTE FUNCTION contracts_app_event_queue()
        """,
    ):
        run(statement)


class Migration(migrations.Migration):
    # Copying rows and building indexes: one transaction, so a failure leaves the plain table.
    atomic = True

    dependencies = [
        ("contracts_app", "0008_pending_events"),
    ]

    operations = [
        # No reverse: going back would need a global unique index on (project, event_id).
        migrations.RunPython(partition, migrations.RunPython.noop),
    ]
