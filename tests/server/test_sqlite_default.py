"""The embedded SQLite database: WAL and a busy timeout, so web, worker and beat can share it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import django
django.setup()
from django.db import connection, transaction
with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE probe (n integer)")
        cursor.execute("INSERT INTO probe VALUES (1)")
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    busy = cursor.fetchone()[0]
print(mode, busy, connection.transaction_mode)
"""


def test_the_default_database_uses_wal_and_waits_for_other_writers(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={
            **base,
            "STATE_DIR": str(tmp_path),
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["wal", "20000", "IMMEDIATE"]
    # WAL is a property of the file: every other process opening it gets it too.
    with sqlite3.connect(tmp_path / "db.sqlite3") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT n FROM probe").fetchall() == [(1,)]
