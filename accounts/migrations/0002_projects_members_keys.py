"""Projects, members and API keys move from contracts_app to accounts, tables and all.

State only: the models keep their tables (``db_table``), so nothing is copied. The content
types follow the models, so permissions and admin history keep pointing at them.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ("project", "membership", "apikey")


def _relabel(apps, schema_editor, old, new):
    """Give the moved models' content types their new app label (where none has it yet)."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not ContentType.objects.using(db).filter(app_label=new, model=model).exists():
            ContentType.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def content_types_forward(apps, schema_editor):
    _relabel(apps, schema_editor, "contracts_app", "accounts")


def content_types_backward(apps, schema_editor):
    _relabel(apps, schema_editor, "accounts", "contracts_app")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("contracts_app", "0009_partition_events"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are: only the models' home changes.
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Project",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200)),
                        ("slug", models.SlugField(max_length=100, unique=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("retention_days", models.PositiveIntegerField(default=30)),
                        ("alert_webhook_url", models.URLField(blank=True, default="")),
                        ("trace_sample_rate", models.FloatField(default=1.0)),
                    ],
                    options={
                        "db_table": "contracts_app_project",
                    },
                ),
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=100)),
                        ("prefix", models.CharField(max_length=16)),
                        ("hashed_key", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("expires_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("scopes", models.CharField(default="ingest,read", max_length=100)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_keys",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_apikey",
                    },
                ),
                migrations.AlterField(
                    model_name="invitation",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="invitations",
                        to="accounts.project",
                    ),
                ),
                migrations.CreateModel(
                    name="Membership",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "role",
                            models.CharField(
                                choices=[("owner", "Owner"), ("editor", "Editor"), ("viewer", "Viewer")],
                                default="viewer",
                                max_length=10,
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="memberships",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="memberships",
                                to="accounts.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "contracts_app_membership",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("user", "project"), name="membership_unique_user_project"
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
