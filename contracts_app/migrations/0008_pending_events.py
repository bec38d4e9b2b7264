"""The aggregation's queue: a trigger queues every inserted event for the next pass."""

from typing import Any

from django.db import migrations, models

EVENTS = "contracts_app_validationevent"
PENDING = "contracts_app_pendingevent"

# Postgres: one statement-level trigger per INSERT or COPY, reading the inserted rows from
# its transition table (a row trigger would cost a function call per event). Rows that
# ON CONFLICT DO NOTHING skipped are not in the transition table.
POSTGRES_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION contracts_app_event_queue() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {PENDING} (project_id, event_pk, "timestamp")
        SELECT project_id, id, "timestamp" FROM inserted_events;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE TRIGGER contracts_app_event_queue AFTER INSERT ON {EVENTS}
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION contracts_app_event_queue()
    """,
    # A queue: every row is deleted soon after it is written. Vacuumed after a few
    # thousand dead rows rather than a fifth of the table, so a pass that drained a
    # backlog leaves no dead rows for the next ones to step over for long.
    f"""
    ALTER TABLE {PENDING} SET (
        autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
        autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000
    )
    """,
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS contracts_app_event_queue ON {EVENTS}",
    "DROP FUNCTION IF EXISTS contracts_app_event_queue()",
]
# SQLite has row triggers only; its single writer makes them cheap enough for `make run`.
SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER contracts_app_event_queue AFTER INSERT ON {EVENTS} FOR EACH ROW
    BEGIN
        INSERT INTO {PENDING} (project_id, event_pk, "timestamp")
        VALUES (NEW.project_id, NEW.id, NEW."timestamp");
    END
    """,
]
SQLITE_REMOVE = ["DROP TRIGGER IF EXISTS contracts_app_event_queue"]


def _run(schema_editor: Any, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement)


def install(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRES_INSTALL if vendor == "postgresql" else SQLITE_INSTALL)
    # The events the last rebuilding pass has not seen yet (received after its watermark)
    # are queued; everything before it is already in the rollups.
    watermark = apps.get_model("contracts_app", "Watermark").objects.filter(name="rollups").first()
    since = "WHERE received_at > %s" if watermark else ""
    schema_editor.execute(
        f'INSERT INTO {PENDING} (project_id, event_pk, "timestamp") '
        f'SELECT project_id, id, "timestamp" FROM {EVENTS} {since}',
        [watermark.value] if watermark else None,
    )


def remove(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRES_REMOVE if vendor == "postgresql" else SQLITE_REMOVE)


class Migration(migrations.Migration):
    dependencies = [
        ("contracts_app", "0007_version_profile"),
    ]

    operations = [
        migrations.CreateModel(
            name="PendingEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("project_id", models.BigIntegerField()),
                ("event_pk", models.BigIntegerField()),
                ("timestamp", models.DateTimeField()),
            ],
            options={
                "indexes": [models.Index(fields=["project_id", "id"], name="pendingevent_project")],
            },
        ),
        migrations.CreateModel(
            name="RollupBatchRow",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("event_pk", models.BigIntegerField()),
                ("timestamp", models.DateTimeField(null=True)),
                ("received_at", models.DateTimeField(null=True)),
                ("contract", models.CharField(max_length=200, null=True)),
                ("contract_version", models.PositiveIntegerField(null=True)),
                ("experiment", models.CharField(max_length=200, null=True)),
                ("variant", models.CharField(max_length=200, null=True)),
                ("is_valid", models.BooleanField(null=True)),
                ("error", models.BooleanField(null=True)),
                ("auto_fix_attempted", models.BooleanField(null=True)),
                ("auto_fix_succeeded", models.BooleanField(null=True)),
                ("prompt_tokens", models.BigIntegerField(null=True)),
                ("completion_tokens", models.BigIntegerField(null=True)),
                ("latency_ms", models.FloatField(null=True)),
                ("llm_latency_ms", models.FloatField(null=True)),
                ("model", models.CharField(max_length=200, null=True)),
                ("severity", models.CharField(max_length=10, null=True)),
            ],
            options={"db_table": "lc_rollup_batch", "managed": False},
        ),
        migrations.RunPython(install, remove),
    ]
