"""Postgres: traces move to a table range-partitioned by day of ``created_at``; SQLite: nothing changes.

The partitioned table keeps the name, the columns and the ids of the plain one (its rows
are copied over); what changes is its keys, since Postgres can only enforce a unique
index that holds the partition key:

- the primary key is (id, created_at); ids still come from one sequence, so they stay unique;
- the database's trace key is (project_id, trace_id, created_at); ``trace_store`` keeps
  (project_id, trace_id) unique across partitions: see ``telemetry.partitions``.

Rows whose day has no partition land in a DEFAULT partition; ``partitions_ensure`` creates
the days ahead (and moves such rows in when it creates their day late).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import migrations

TRACES = "contracts_app_trace"
OLD = "contracts_app_trace_plain"


def partition(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    from telemetry import partitions

    table = partitions.TRACE_TABLE
    model = apps.get_model("contracts_app", "Trace")
    run = schema_editor.execute
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid))",
            [TRACES],
        )
        if cursor.fetchone()[0]:
            # Migrated back past this migration (its reverse changes nothing) and forward again.
            return
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [TRACES])
        old_indexes = [row[0] for row in cursor.fetchall()]
    run(f"ALTER TABLE {TRACES} RENAME TO {OLD}")
    for name in old_indexes:
        run(f'ALTER INDEX "{name}" RENAME TO "{name[:55]}_plain"')
    run(f"CREATE TABLE {TRACES} (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)")
    # Identity columns cannot be on a partitioned table (before Postgres 17): a sequence.
    run(f"CREATE SEQUENCE {TRACES}_ids OWNED BY {TRACES}.id")
    run(f"ALTER TABLE {TRACES} ALTER COLUMN id SET DEFAULT nextval('{TRACES}_ids')")
    run(f"ALTER TABLE {TRACES} ADD CONSTRAINT {TRACES}_pkey PRIMARY KEY (id, created_at)")
    # Its leading columns also serve the lookups by (project, trace id) of ingest and pages.
    run(
        f"ALTER TABLE {TRACES} ADD CONSTRAINT trace_unique_trace_id UNIQUE (project_id, trace_id, created_at)"
    )
    projects = model._meta.get_field("project").related_model._meta.db_table
    run(
        f"ALTER TABLE {TRACES} ADD CONSTRAINT {TRACES}_project_fk FOREIGN KEY (project_id) "
        f"REFERENCES {projects} (id) DEFERRABLE INITIALLY DEFERRED"
    )
    run(
        f"ALTER TABLE {TRACES} ADD CONSTRAINT {TRACES}_breakpoint_fk FOREIGN KEY (breakpoint_id) "
        f"REFERENCES contracts_app_breakpoint (id) DEFERRABLE INITIALLY DEFERRED"
    )
    for index in model._meta.indexes:
        run(index.create_sql(model, schema_editor))
    run(f"CREATE TABLE {table.default} PARTITION OF {TRACES} DEFAULT")
    # A partition for each day the stored rows cover (at most the last 400), then the
    # days ingest accepts.
    with schema_editor.connection.cursor() as cursor:
        now = datetime.now(UTC)
        cursor.execute(
            f"SELECT DISTINCT date_trunc('day', created_at AT TIME ZONE 'UTC') FROM {OLD} "
            f"WHERE created_at >= %s AND created_at < %s",
            [now - timedelta(days=400), now + timedelta(days=30)],
        )
        for (day,) in cursor.fetchall():
            partitions.partition_create(cursor, day.date(), table)
        partitions.partitions_ensure(now=now, cursor=cursor, table=table)
    run(f"INSERT INTO {TRACES} SELECT * FROM {OLD}")
    run(f"SELECT setval('{TRACES}_ids', COALESCE((SELECT MAX(id) FROM {OLD}), 0) + 1, false)")
    run(f"DROP TABLE {OLD}")


class Migration(migrations.Migration):
    # Copying rows and building indexes: one transaction, so a failure leaves the plain table.
    atomic = True

    dependencies = [
        ("contracts_app", "0012_merge_series_index_and_app_split"),
    ]

    operations = [
        # No reverse: going back would need a global unique index on (project, trace_id).
        migrations.RunPython(partition, migrations.RunPython.noop),
    ]
