"""Settings parsed strictly from the environment, and deployment files that match the code."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from dashboard.lib import env

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def load_settings(tmp_path: Path, **variables: str | None) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh process with ``variables`` (development mode unless given)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    variables = {"DEBUG": "1", **variables}
    variables = {k: v for k, v in variables.items() if v is not None}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import dashboard.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'], "
            "s.CELERY_BROKER_URL, len(s.SECRET_KEY))",
        ],
        env={**base, "STATE_DIR": str(tmp_path), **variables},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestSettings:
    def test_development_mode_on_a_bare_machine_gets_sqlite_and_the_filesystem_broker(
        self, tmp_path: Path
    ) -> None:
        done = load_settings(tmp_path, DEBUG="1")
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["True", "django.db.backends.sqlite3", "filesystem://", "46"]

    @pytest.mark.parametrize(
        ("variables", "named"),
        [
            ({"DEBUG": "perhaps"}, "DEBUG"),
            ({"DEBUG": "0"}, "SECRET_KEY"),
            ({"DEBUG": None}, "SECRET_KEY"),
            ({"DEBUG": None, "SECRET_KEY": "change-me-to-a-long-random-string-" + "x1y2z" * 5}, "SECRET_KEY"),
            ({"DEBUG": None, "SECRET_KEY": "short-but-random-Q7x"}, "SECRET_KEY"),
            ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"}, "SECURE_PROXY_SSL_HEADER"),
            ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
            ({"CELERY_BROKER_URL": "http://broker"}, "CELERY_BROKER_URL"),
            ({"INGEST_MAX_CONCURRENCY": "lots"}, "INGEST_MAX_CONCURRENCY"),
            ({"EVENT_RETENTION_DAYS": "0"}, "EVENT_RETENTION_DAYS"),
            ({"SECRET_KEY_FILE": "/nonexistent/secret"}, "SECRET_KEY_FILE"),
            ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ],
    )
    def test_a_bad_value_stops_start_up_naming_the_variable(
        self, tmp_path: Path, variables: dict[str, str], named: str
    ) -> None:
        done = load_settings(tmp_path, **variables)
        assert done.returncode != 0
        assert "ImproperlyConfigured" in done.stderr and named in done.stderr.splitlines()[-1]

    def test_the_secret_key_can_come_from_a_file(self, tmp_path: Path) -> None:
        secret = tmp_path / "secret"
        secret.write_text("s0Qx9" * 12 + "\n")
        done = load_settings(
            tmp_path,
            DEBUG="0",
            SECRET_KEY_FILE=str(secret),
            DATABASE_URL="postgres://u@h:5432/db",
            CELERY_BROKER_URL="redis://r:6379/0",
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["False", "django.db.backends.postgresql", "redis://r:6379/0", "60"]

    def test_the_readers_parse_strictly(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Keep these made-up names out of the record the deployment test checks.
        monkeypatch.setattr(env, "READ", set(env.READ))
        monkeypatch.setenv("X_FLAG", "yes")
        monkeypatch.setenv("X_LIST", " a, ,b ")
        assert env.env_bool("X_FLAG", False) is True
        assert env.env_list("X_LIST", []) == ["a", "b"]
        monkeypatch.setenv("X_NUM", "1.5")
        with pytest.raises(ImproperlyConfigured, match="X_NUM must be an integer"):
            env.env_int("X_NUM", 1)


def compose() -> dict[str, object]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def env_example() -> dict[str, str]:
    pairs = [
        line.split("=", 1)
        for line in (DOCKER / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    ]
    return {k.strip(): v for k, v in pairs}


# Variables consumed by the compose file's own images, not by our code.
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}


class TestDeployment:
    def test_compose_runs_web_worker_beat_postgres_and_redis(self) -> None:
        assert set(compose()["services"]) == {"web", "worker", "beat", "postgres", "redis"}  # type: ignore[index]

    def test_each_service_command_names_code_that_exists(self) -> None:
        from celery import Celery
        from django.core.management import get_commands

        services = compose()["services"]  # type: ignore[index]
        commands = {name: " ".join(services[name]["command"]) for name in ("web", "worker", "beat")}
        commands["image"] = " ".join(
            re.findall(r'"([^"]+)"', (DOCKER / "Dockerfile").read_text().split("CMD")[-1])
        )
        for name, command in commands.items():
            for module, attr in re.findall(r"([A-Za-z_][\w.]*):([A-Za-z_]\w*)", command):
                if "." in module:  # a WSGI target such as dashboard.wsgi:application
                    assert callable(getattr(importlib.import_module(module), attr)), name
            for app in re.findall(r"-A (\w+)", command):
                assert isinstance(importlib.import_module(app).celery_app, Celery), name
            for management in re.findall(r"manage\.py (\w+)", command):
                assert management in get_commands(), name
            program = command.split()[0] if not command.startswith("sh -c") else command.split()[2]
            assert program in ("python", "celery", "gunicorn"), name
        assert "worker" in commands["worker"] and "beat" in commands["beat"]

    def test_every_setting_is_listed_in_env_example_and_every_listed_one_exists(self) -> None:
        import dashboard.settings  # noqa: F401  (fills env.READ)

        listed = set(env_example())
        assert env.READ - listed == set(), "settings missing from docker/.env.example"
        assert listed - env.READ - COMPOSE_ONLY == set(), "docker/.env.example lists unknown settings"

    def test_every_variable_the_compose_file_and_image_use_exists(self) -> None:
        text = (DOCKER / "compose.yaml").read_text()
        referenced = set(re.findall(r"\$\{(\w+)", text))
        assert referenced <= set(env_example())
        dockerfile = (DOCKER / "Dockerfile").read_text()
        image_env = set(re.findall(r"^\s+(\w+)=", dockerfile.split("WORKDIR")[0], re.M))
        assert (
            image_env - {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "DJANGO_SETTINGS_MODULE"} <= env.READ
        )
        for source in re.findall(r"^COPY (\S+)", dockerfile, re.M):
            assert (ROOT / source).exists(), source
