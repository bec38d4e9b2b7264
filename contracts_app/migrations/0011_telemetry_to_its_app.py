"""Events, SDK instances, rollups, alerts and the aggregation's queue now live in telemetry (see
telemetry 0001): drop them from this app's state. State only: no table changes.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("contracts_app", "0010_projects_members_keys_to_accounts"),
        ("telemetry", "0001_events_rollups_alerts_from_contracts_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are: only the models' home changes.
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name="alertrule",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="hourbreakdown",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="hourrollup",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="minutebreakdown",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="minuterollup",
                    name="project",
                ),
                migrations.DeleteModel(
                    name="PendingEvent",
                ),
                migrations.RemoveField(
                    model_name="quarantinedbucket",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="sdkinstance",
                    name="project",
                ),
                migrations.RemoveField(
                    model_name="validationevent",
                    name="project",
                ),
                migrations.DeleteModel(
                    name="Watermark",
                ),
                migrations.DeleteModel(
                    name="RollupBatchRow",
                ),
                migrations.DeleteModel(
                    name="AlertRule",
                ),
                migrations.DeleteModel(
                    name="HourBreakdown",
                ),
                migrations.DeleteModel(
                    name="HourRollup",
                ),
                migrations.DeleteModel(
                    name="MinuteBreakdown",
                ),
                migrations.DeleteModel(
                    name="MinuteRollup",
                ),
                migrations.DeleteModel(
                    name="QuarantinedBucket",
                ),
                migrations.DeleteModel(
                    name="SdkInstance",
                ),
                migrations.DeleteModel(
                    name="ValidationEvent",
                ),
            ],
        ),
    ]
