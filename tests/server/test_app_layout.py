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

MOVED_TO_ACCOUNTS: dict[type[models.Model], str] = {
    Project: "contracts_app_project",
    Membership: "contracts_app_membership",
    ApiKey: "contracts_app_apikey",
}
BEFORE_ACCOUNTS_MOVE = [
    ("accounts", "0001_initial"),
    ("contracts_app", "0009_partition_events"),
    ("experiments", "0005_exposure_tokens_bigint"),
]


@pytest.mark.django_db
def test_moved_models_live_in_their_new_app_on_their_old_tables() -> None:
    for model, table in MOVED_TO_ACCOUNTS.items():
        assert model._meta.app_label == "accounts"
        assert model._meta.db_table == table
        assert table in connection.introspection.table_names()
    with pytest.raises(LookupError):
        apps.get_model("contracts_app", "Project")


@pytest.mark.django_db
def test_the_models_and_the_migrations_agree() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_move_relabels_the_content_types_and_keeps_their_ids() -> None:
    """A database from before the move keeps its content type rows (and so permissions, admin history)."""
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE_ACCOUNTS_MOVE)
    try:
        ContentType.objects.filter(model__in=["project", "membership", "apikey"]).delete()
        ids = {
            name: ContentType.objects.create(app_label="contracts_app", model=name).pk
            for name in ("project", "membership", "apikey")
        }
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
        ContentType.objects.clear_cache()
        for model in MOVED_TO_ACCOUNTS:
            ct = ContentType.objects.get_for_model(model)
            assert (ct.app_label, ct.pk) == ("accounts", ids[model._meta.model_name])
        assert not ContentType.objects.filter(app_label="contracts_app", model="project").exists()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()
