"""Events, SDK instances, rollups, alerts and the aggregation's queue move from contracts_app.

State only: the models keep their tables (``Meta.db_table``, and the raw SQL of the
partitioned events table and its trigger names them), so nothing is copied. The content
types follow the models, so permissions and admin history keep pointing at them.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED = (
    "validationevent",
    "sdkinstance",
    "minuterollup",
    "hourrollup",
    "minutebreakdown",
    "hourbreakdown",
    "alertrule",
    "quarantinedbucket",
    "pendingevent",
    "rollupbatchrow",
    "watermark",
)


def _relabel(apps, schema_editor, old, new):
    """Give the moved models' content types their new app label (where none has it yet)."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not ContentType.objects.using(db).filter(app_label=new, model=model).exists():
            ContentType.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def content_types_forward(apps, schema_editor):
    _relabel(apps, schema_editor, "contracts_app", "telemetry")


def content_types_backward(apps, schema_editor):
    _relabel(apps, schema_editor, "telemetry", "contracts_app")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_projects_members_keys"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contracts_app", "0010_projects_members_keys_to_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are: only the models' home changes.
            database_operations=[],
            state_operations=[
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
                    options={
                        "db_table": "lc_rollup_batch",
                        "managed": False,
                    },
                ),
                migrations.CreateModel(
                    name="Watermark",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=50, unique=True)),
                        ("value", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "contracts_app_watermark",
                    },
                ),
                migrations.CreateModel(
                    name="AlertRule",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("contract", models.CharField(max_length=200)),
                        (
                            "metric",
                            models.CharField(
                                choices=[("violation_rate", "Violation Rate"), ("p95_ms", "P95 Ms")],
                                max_length=20,
                            ),
                        ),
                        ("threshold", models.FloatField()),
                        ("window_minutes", models.PositiveIntegerField(default=5)),
                        ("min_count", models.PositiveIntegerField(default=10)),
                        ("firing", models.BooleanField(default=False)),
                        ("fired_at", models.DateTimeField(blank=True, null=True)),
                        ("cleared_at", models.DateTimeField(blank=True, null=True)),
                        ("last_value", models.FloatField(blank=True, null=True)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alert_rules",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_alertrule",
                    },
                ),
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
                        "db_table": "contracts_app_pendingevent",
                        "indexes": [models.Index(fields=["project_id", "id"], name="pendingevent_project")],
                    },
                ),
                migrations.CreateModel(
                    name="HourBreakdown",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("bucket", models.DateTimeField()),
                        ("model", models.CharField(default="", max_length=200)),
                        ("severity", models.CharField(max_length=10)),
                        ("count", models.PositiveBigIntegerField(default=0)),
                        ("violations", models.PositiveBigIntegerField(default=0)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_hourbreakdown",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project", "bucket", "model", "severity"), name="hourbreakdown_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="HourRollup",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("bucket", models.DateTimeField()),
                        ("contract", models.CharField(max_length=200)),
                        ("contract_version", models.PositiveIntegerField(default=0)),
                        ("experiment", models.CharField(default="", max_length=200)),
                        ("variant", models.CharField(default="", max_length=200)),
                        ("count", models.PositiveBigIntegerField(default=0)),
                        ("violations", models.PositiveBigIntegerField(default=0)),
                        ("errors", models.PositiveBigIntegerField(default=0)),
                        ("fixes_attempted", models.PositiveBigIntegerField(default=0)),
                        ("fixes_succeeded", models.PositiveBigIntegerField(default=0)),
                        ("prompt_tokens", models.PositiveBigIntegerField(default=0)),
                        ("completion_tokens", models.PositiveBigIntegerField(default=0)),
                        ("latency_sum_ms", models.FloatField(default=0.0)),
                        ("llm_latency_sum_ms", models.FloatField(default=0.0)),
                        ("lat_b00", models.PositiveBigIntegerField(default=0)),
                        ("lat_b01", models.PositiveBigIntegerField(default=0)),
                        ("lat_b02", models.PositiveBigIntegerField(default=0)),
                        ("lat_b03", models.PositiveBigIntegerField(default=0)),
                        ("lat_b04", models.PositiveBigIntegerField(default=0)),
                        ("lat_b05", models.PositiveBigIntegerField(default=0)),
                        ("lat_b06", models.PositiveBigIntegerField(default=0)),
                        ("lat_b07", models.PositiveBigIntegerField(default=0)),
                        ("lat_b08", models.PositiveBigIntegerField(default=0)),
                        ("lat_b09", models.PositiveBigIntegerField(default=0)),
                        ("lat_b10", models.PositiveBigIntegerField(default=0)),
                        ("lat_b11", models.PositiveBigIntegerField(default=0)),
                        ("lat_b12", models.PositiveBigIntegerField(default=0)),
                        ("lat_b13", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b00", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b01", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b02", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b03", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b04", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b05", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b06", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b07", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b08", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b09", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b10", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b11", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b12", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b13", models.PositiveBigIntegerField(default=0)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_hourrollup",
                        "indexes": [
                            models.Index(fields=["project", "contract", "bucket"], name="hourrollup_lookup")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=(
                                    "project",
                                    "bucket",
                                    "contract",
                                    "contract_version",
                                    "experiment",
                                    "variant",
                                ),
                                name="hourrollup_unique",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="MinuteBreakdown",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("bucket", models.DateTimeField()),
                        ("model", models.CharField(default="", max_length=200)),
                        ("severity", models.CharField(max_length=10)),
                        ("count", models.PositiveBigIntegerField(default=0)),
                        ("violations", models.PositiveBigIntegerField(default=0)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_minutebreakdown",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project", "bucket", "model", "severity"),
                                name="minutebreakdown_unique",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="MinuteRollup",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("bucket", models.DateTimeField()),
                        ("contract", models.CharField(max_length=200)),
                        ("contract_version", models.PositiveIntegerField(default=0)),
                        ("experiment", models.CharField(default="", max_length=200)),
                        ("variant", models.CharField(default="", max_length=200)),
                        ("count", models.PositiveBigIntegerField(default=0)),
                        ("violations", models.PositiveBigIntegerField(default=0)),
                        ("errors", models.PositiveBigIntegerField(default=0)),
                        ("fixes_attempted", models.PositiveBigIntegerField(default=0)),
                        ("fixes_succeeded", models.PositiveBigIntegerField(default=0)),
                        ("prompt_tokens", models.PositiveBigIntegerField(default=0)),
                        ("completion_tokens", models.PositiveBigIntegerField(default=0)),
                        ("latency_sum_ms", models.FloatField(default=0.0)),
                        ("llm_latency_sum_ms", models.FloatField(default=0.0)),
                        ("lat_b00", models.PositiveBigIntegerField(default=0)),
                        ("lat_b01", models.PositiveBigIntegerField(default=0)),
                        ("lat_b02", models.PositiveBigIntegerField(default=0)),
                        ("lat_b03", models.PositiveBigIntegerField(default=0)),
                        ("lat_b04", models.PositiveBigIntegerField(default=0)),
                        ("lat_b05", models.PositiveBigIntegerField(default=0)),
                        ("lat_b06", models.PositiveBigIntegerField(default=0)),
                        ("lat_b07", models.PositiveBigIntegerField(default=0)),
                        ("lat_b08", models.PositiveBigIntegerField(default=0)),
                        ("lat_b09", models.PositiveBigIntegerField(default=0)),
                        ("lat_b10", models.PositiveBigIntegerField(default=0)),
                        ("lat_b11", models.PositiveBigIntegerField(default=0)),
                        ("lat_b12", models.PositiveBigIntegerField(default=0)),
                        ("lat_b13", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b00", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b01", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b02", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b03", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b04", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b05", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b06", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b07", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b08", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b09", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b10", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b11", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b12", models.PositiveBigIntegerField(default=0)),
                        ("llm_lat_b13", models.PositiveBigIntegerField(default=0)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_minuterollup",
                        "indexes": [
                            models.Index(fields=["project", "contract", "bucket"], name="minuterollup_lookup")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=(
                                    "project",
                                    "bucket",
                                    "contract",
                                    "contract_version",
                                    "experiment",
                                    "variant",
                                ),
                                name="minuterollup_unique",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="QuarantinedBucket",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("bucket", models.DateTimeField()),
                        ("reason", models.TextField()),
                        ("attempts", models.PositiveIntegerField(default=1)),
                        ("first_failed_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("last_failed_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_quarantinedbucket",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project", "bucket"), name="quarantinedbucket_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="SdkInstance",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("instance_id", models.CharField(max_length=64)),
                        ("name", models.CharField(blank=True, default="", max_length=100)),
                        ("version", models.CharField(blank=True, default="", max_length=50)),
                        ("first_seen", models.DateTimeField(default=django.utils.timezone.now)),
                        ("last_seen", models.DateTimeField(default=django.utils.timezone.now)),
                        ("counters", models.JSONField(default=dict)),
                        ("events_received", models.PositiveBigIntegerField(default=0)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sdk_instances",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_sdkinstance",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project", "instance_id"), name="sdkinstance_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ValidationEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("event_id", models.CharField(max_length=64)),
                        ("call_id", models.CharField(max_length=64)),
                        ("timestamp", models.DateTimeField()),
                        ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("contract", models.CharField(max_length=200)),
                        ("contract_version", models.PositiveIntegerField(blank=True, null=True)),
                        (
                            "category",
                            models.CharField(
                                choices=[
                                    ("input", "Input"),
                                    ("output", "Output"),
                                    ("temporal", "Temporal"),
                                    ("semantic", "Semantic"),
                                    ("performance", "Performance"),
                                    ("security", "Security"),
                                ],
                                max_length=12,
                            ),
                        ),
                        ("is_valid", models.BooleanField()),
                        ("error", models.BooleanField(default=False)),
                        (
                            "severity",
                            models.CharField(
                                choices=[
                                    ("info", "Info"),
                                    ("warning", "Warning"),
                                    ("error", "Error"),
                                    ("critical", "Critical"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "enforcement",
                            models.CharField(
                                choices=[("strict", "Strict"), ("warn", "Warn"), ("monitor", "Monitor")],
                                max_length=10,
                            ),
                        ),
                        ("message", models.TextField(blank=True, default="")),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("passed", "Passed"),
                                    ("repaired", "Repaired"),
                                    ("warned", "Warned"),
                                    ("violated", "Violated"),
                                    ("skipped", "Skipped"),
                                    ("fallback", "Fallback"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("input_excerpt", models.TextField(blank=True, null=True)),
                        ("output_excerpt", models.TextField(blank=True, null=True)),
                        ("latency_ms", models.FloatField()),
                        ("llm_latency_ms", models.FloatField(blank=True, null=True)),
                        ("model", models.CharField(blank=True, default="", max_length=200)),
                        ("provider", models.CharField(blank=True, default="", max_length=100)),
                        ("endpoint", models.CharField(blank=True, default="", max_length=200)),
                        ("prompt_tokens", models.PositiveBigIntegerField(blank=True, null=True)),
                        ("completion_tokens", models.PositiveBigIntegerField(blank=True, null=True)),
                        ("auto_fix_attempted", models.BooleanField(default=False)),
                        ("auto_fix_succeeded", models.BooleanField(default=False)),
                        ("retries", models.PositiveIntegerField(default=0)),
                        ("session_id", models.CharField(blank=True, max_length=200, null=True)),
                        ("turn", models.PositiveIntegerField(blank=True, null=True)),
                        ("experiment", models.CharField(blank=True, max_length=200, null=True)),
                        ("variant", models.CharField(blank=True, max_length=200, null=True)),
                        ("trace_id", models.CharField(blank=True, max_length=64, null=True)),
                        ("sdk_version", models.CharField(blank=True, default="", max_length=50)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_validationevent",
                        "indexes": [
                            models.Index(fields=["project", "timestamp"], name="event_project_time"),
                            models.Index(
                                fields=["project", "contract", "timestamp"],
                                name="event_project_contract_time",
                            ),
                            models.Index(fields=["received_at"], name="event_received"),
                            models.Index(
                                condition=models.Q(("is_valid", False)),
                                fields=["project", "-timestamp", "-id"],
                                name="event_violation_page",
                            ),
                            models.Index(fields=["project", "call_id"], name="event_call"),
                            models.Index(
                                condition=models.Q(("session_id__isnull", False)),
                                fields=["project", "session_id", "-timestamp"],
                                name="event_session",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project", "event_id"), name="event_unique_event_id"
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
