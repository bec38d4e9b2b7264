"""The experiments' foreign keys point at the project model's new home (state only; same table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_projects_members_keys"),
        ("experiments", "0005_exposure_tokens_bigint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are: only the models' home changes.
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="experiment",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="experiments",
                        to="accounts.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="exposure",
                    name="project",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.project"
                    ),
                ),
            ],
        ),
    ]
