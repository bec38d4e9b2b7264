"""Projects, members and API keys now live in accounts (see accounts 0002): drop them from this
app's state and point the foreign keys at the new model. State only: no table changes.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_projects_members_keys"),
        ("contracts_app", "0009_partition_events"),
        ("experiments", "0006_project_in_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are: only the models' home changes.
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name="membership",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="membership",
                    name="user",
                ),
                migrations.AlterField(
                    model_name="sdkinstance",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sdk_instances",
                        to="accounts.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="alertrule",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="alert_rules",
                        to="accounts.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="contract",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contracts",
                        to="accounts.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="minuterollup",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.project"
                    ),
                ),
                migrations.AlterField(
                    model_name="trace",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="traces",
                        to="accounts.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="hourrollup",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.project"
                    ),
                ),
                migrations.AlterField(
                    model_name="breakpoint",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="breakpoints",
                        to="accounts.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="validationevent",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="accounts.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="quarantinedbucket",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.project"
                    ),
                ),
                migrations.AlterField(
                    model_name="hourbreakdown",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.project"
                    ),
                ),
                migrations.AlterField(
                    model_name="minutebreakdown",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.project"
                    ),
                ),
                migrations.DeleteModel(
                    name="ApiKey",
                ),
                migrations.DeleteModel(
                    name="Membership",
                ),
                migrations.DeleteModel(
                    name="Project",
                ),
            ],
        ),
    ]
