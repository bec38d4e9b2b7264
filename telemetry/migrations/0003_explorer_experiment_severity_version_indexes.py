"""Indexes that let the violations explorer's experiment, arm, severity and version filters stop early.

The explorer walks the violation index newest first and checks each row against the
filters, so a filter with no index of its own that matches nothing (or a handful of
violations) read every violation of the project: an experiment or an arm that had no
violation, a severity the project rarely sees, a contract version just activated. Each
index here holds violations only, in the explorer's page order within its key, as
``event_violation_model`` (0002) does for the model filter:

- ``event_violation_experiment``: (project, experiment, arm, newest first), violations in
  an experiment: the experiment filter, and an experiment's arm (the explorer's arm links).
- ``event_violation_variant``: (project, arm, newest first): an arm named alone.
- ``event_violation_severity``: (project, severity, newest first).
- ``event_violation_version``: (project, contract, version, newest first): a contract's
  version (a contract alone keeps using ``event_project_contract_time`` or the page index).

A filter they serve that matches nothing is one index probe per partition. The cost is on
writes of violations only (about a tenth of the events in the bench's data): four more
index entries each.

Built online, as 0002's: on Postgres ``telemetry.partitions.index_create_online`` declares
each on the partitioned table under a short lock, builds each partition's copy
``CONCURRENTLY`` while ingest goes on and attaches it; running the migration again after it
died half way finishes the build. Elsewhere (SQLite) they are plain indexes.
"""

from typing import Any

from django.db import migrations, models

EVENTS = "contracts_app_validationevent"
_PAGE = '"timestamp" DESC, id DESC'
INDEXES = {
    "event_violation_experiment": (
        f"(project_id, experiment, variant, {_PAGE}) WHERE NOT is_valid AND experiment IS NOT NULL"
    ),
    "event_violation_variant": f"(project_id, variant, {_PAGE}) WHERE NOT is_valid AND variant IS NOT NULL",
    "event_violation_severity": f"(project_id, severity, {_PAGE}) WHERE NOT is_valid",
    "event_violation_version": (
        f"(project_id, contract, contract_version, {_PAGE}) "
        "WHERE NOT is_valid AND contract_version IS NOT NULL"
    ),
}


def _partitioned(schema_editor: Any) -> bool:
    from telemetry.partitions import EVENT_TABLE, is_partitioned

    return schema_editor.connection.vendor == "postgresql" and is_partitioned(EVENT_TABLE)


def create(apps: Any, schema_editor: Any) -> None:
    if _partitioned(schema_editor):
        from telemetry.partitions import EVENT_TABLE, index_create_online

        for name, definition in INDEXES.items():
            index_create_online(name, EVENT_TABLE, definition)
    else:
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {EVENTS} {definition}")


def drop(apps: Any, schema_editor: Any) -> None:
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def _violations(*fields: str, name: str, **condition: Any) -> migrations.AddIndex:
    return migrations.AddIndex(
        model_name="validationevent",
        index=models.Index(
            condition=models.Q(is_valid=False, **condition),
            fields=["project", *fields, "-timestamp", "-id"],
            name=name,
        ),
    )


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction.
    atomic = False

    dependencies = [("telemetry", "0002_explorer_filter_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                _violations(
                    "experiment", "variant", name="event_violation_experiment", experiment__isnull=False
                ),
                _violations("variant", name="event_violation_variant", variant__isnull=False),
                _violations("severity", name="event_violation_severity"),
                _violations(
                    "contract",
                    "contract_version",
                    name="event_violation_version",
                    contract_version__isnull=False,
                ),
            ],
            database_operations=[migrations.RunPython(create, drop, atomic=False)],
        ),
    ]
