"""The explorer's indexes are built while ingest goes on (Postgres, partitioned events).

A plain CREATE INDEX on the events table waits for the table's SHARE lock, and every insert
queued behind it waits too, until every partition is indexed. Migration 0002 of telemetry
builds each partition's copy CONCURRENTLY and takes the table's lock only for catalogue
changes, a short while at a time.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)

EVENTS = "contracts_app_validationevent"
INDEXES = ("event_violation_model", "event_message_fts")


def _connect(**kwargs: Any) -> psycopg.Connection[Any]:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, **kwargs)


def _indexes(cur: Any) -> dict[str, bool]:
    cur.execute(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = ANY(%s)",
        [list(INDEXES)],
    )
    return dict(cur.fetchall())


def _copies(cur: Any, index: str) -> tuple[int, int]:
    """Return the partitions of the events table and how many hold a copy of ``index``."""
    cur.execute(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM pg_inherits ii "
        "JOIN pg_class pi ON pi.oid = ii.inhparent JOIN pg_index x ON x.indexrelid = ii.inhrelid "
        "WHERE pi.relname = %s AND x.indrelid = c.oid AND x.indisvalid)) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = %s",
        [index, EVENTS],
    )
    total, indexed = cur.fetchone()
    return int(total), int(indexed)


def test_inserts_go_on_while_the_explorers_indexes_are_built(transactional_db: None) -> None:
    call_command("migrate", "telemetry", "0001", verbosity=0)
    try:
        with connection.cursor() as cur:
            assert _indexes(cur) == {}
        # A writer in the middle of a transaction, as ingest always has one.
        writer = _connect()
        failures: list[BaseException] = []

        def migrate() -> None:
            try:
                call_command("migrate", "telemetry", "0002", verbosity=0)
            except BaseException as exc:  # reported by the test
                failures.append(exc)
            finally:
                connections.close_all()

        builder = threading.Thread(target=migrate)
        try:
            writer.execute(f"LOCK TABLE {EVENTS} IN ROW EXCLUSIVE MODE")
            builder.start()
            time.sleep(1.5)  # the build now waits for the writer's transaction
            # Another insert meanwhile: it must not queue behind the build.
            with _connect(autocommit=True) as other:
                other.execute("SET lock_timeout = '5s'")
                with other.transaction():
                    other.execute(f"LOCK TABLE {EVENTS} IN ROW EXCLUSIVE MODE")
        finally:
            writer.close()  # its transaction ends: the build goes on
            if builder.is_alive() or builder.ident is not None:
                builder.join(120)
        assert not builder.is_alive()
        assert not failures, failures
    finally:
        call_command("migrate", "telemetry", verbosity=0)
    with connection.cursor() as cur:
        assert _indexes(cur) == dict.fromkeys(INDEXES, True)
        for index in INDEXES:
            total, indexed = _copies(cur, index)
            assert total > 1 and indexed == total, (index, total, indexed)


def test_a_build_that_died_half_way_is_finished_by_the_next(transactional_db: None) -> None:
    from telemetry.partitions import EVENT_TABLE, index_create_online

    call_command("migrate", "telemetry", "0001", verbosity=0)
    try:
        with connection.cursor() as cur:
            # What a build stopped after its first partitions leaves: the table's index
            # declared (invalid) and some partitions' copies attached.
            cur.execute(
                f"CREATE INDEX event_violation_model ON ONLY {EVENTS} (project_id) WHERE NOT is_valid"
            )
            cur.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY 1 LIMIT 2",
                [EVENTS],
            )
            for n, (partition,) in enumerate(cur.fetchall()):
                cur.execute(f"CREATE INDEX half_{n} ON {partition} (project_id) WHERE NOT is_valid")
                cur.execute(f"ALTER INDEX event_violation_model ATTACH PARTITION half_{n}")
            assert _indexes(cur)["event_violation_model"] is False
        index_create_online("event_violation_model", EVENT_TABLE, "(project_id) WHERE NOT is_valid")
        with connection.cursor() as cur:
            assert _indexes(cur)["event_violation_model"] is True
            total, indexed = _copies(cur, "event_violation_model")
            assert indexed == total
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP INDEX IF EXISTS event_violation_model")
        call_command("migrate", "telemetry", verbosity=0)
