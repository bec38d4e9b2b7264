"""Postgres: covering indexes that let the overview's series query read the rollups index-only.

The overview sums validations and violations per bucket and contract over a range of
minute or hour rollups. (project_id, bucket, contract) INCLUDE (count, violations) hands
that grouping its rows in order without touching the wide rollup rows (40 columns). SQLite
has no INCLUDE, and its single-file database serves small installs: nothing changes there.
The price is one more index entry written per rollup upsert, in the background aggregation.
"""

from typing import Any

from django.db import migrations

INDEXES = {
    "minuterollup_series": "contracts_app_minuterollup",
    "hourrollup_series": "contracts_app_hourrollup",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table in INDEXES.items():
        columns = '(project_id, bucket, contract) INCLUDE ("count", violations)'
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {columns}")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("contracts_app", "0009_partition_events"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
