"""Models that moved between apps keep their tables and content types; migrations match the models."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

from accounts.models import ApiKey, Membership, Project
from telemetry.models import (
    AlertRule,
    HourBreakdown,
    HourRollup,
    MinuteBreakdown,
    MinuteRollup,
    PendingEvent,
    QuarantinedBucket,
    SdkInstance,
    ValidationEvent,
    Watermark,
)

MOVED: dict[type[models.Model], str] = {
    Project: "contracts_app_project",
    Membership: "contracts_app_membership",
    ApiKey: "contracts_app_apikey",
    ValidationEvent: "contracts_app_validationevent",
    SdkInstance: "contracts_app_sdkinstance",
    MinuteRollup: "contracts_app_minuterollup",
    HourRollup: "contracts_app_hourrollup",
    MinuteBreakdown: "contracts_app_minutebreakdown",
    HourBreakdown: "contracts_app_hourbreakdown",
    AlertRule: "contracts_app_alertrule",
    QuarantinedBucket: "contracts_app_quarantinedbucket",
    PendingEvent: "contracts_app_pendingevent",
    Watermark: "contracts_app_watermark",
}
# The state just before each move, and the models it moves.
MOVES: dict[str, tuple[list[tuple[str, str | None]], list[type[models.Model]]]] = {
    "accounts": (
        [
            ("accounts", "0001_initial"),
            ("contracts_app", "0009_partition_events"),
            ("experiments", "0005_exposure_tokens_bigint"),
        ],
        [Project, Membership, ApiKey],
    ),
    "telemetry": (
        [("telemetry", None), ("contracts_app", "0010_projects_members_keys_to_accounts")],
        [m for m in MOVED if m._meta.app_label == "telemetry"],
    ),
}


@pytest.mark.django_db
def test_moved_models_live_in_their_new_app_on_their_old_tables() -> None:
    tables = set(connection.introspection.table_names())
    for model, table in MOVED.items():
        assert model._meta.app_label in {"accounts", "telemetry"}
        assert model._meta.db_table == table
        assert table in tables
    for name in ("Project", "ValidationEvent", "MinuteRollup"):
        with pytest.raises(LookupError):
            apps.get_model("contracts_app", name)


@pytest.mark.django_db
def test_the_models_and_the_migrations_agree() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("move", list(MOVES))
def test_a_move_relabels_the_content_types_and_keeps_their_ids(move: str) -> None:
    """A database from before a move keeps its content type rows (and so permissions, admin history)."""
    before, moved = MOVES[move]
    names = [m._meta.model_name for m in moved]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        ContentType.objects.filter(model__in=names).delete()
        ids = {name: ContentType.objects.create(app_label="contracts_app", model=name).pk for name in names}
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
        ContentType.objects.clear_cache()
        for model in moved:
            ct = ContentType.objects.get_for_model(model)
            assert (ct.app_label, ct.pk) == (move, ids[model._meta.model_name])
        assert not ContentType.objects.filter(app_label="contracts_app", model__in=names).exists()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()
