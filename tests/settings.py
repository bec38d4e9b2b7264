"""Settings of the test suite: the production settings, with a throw-away secret key.

DEBUG is off by default and then start-up needs a real SECRET_KEY; the suite makes one
up instead of running in development mode, so it tests what a deployment runs.
"""

from __future__ import annotations

import os
import secrets

os.environ.setdefault("SECRET_KEY", "test-" + secrets.token_urlsafe(48))

# Under pytest-xdist each worker gets its own database (pytest-django adds the suffix) and
# its own Redis database for the broker, so one worker's Celery consumers never take
# another's tasks. The environment carries it to the workers the tests start.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_broker = os.environ.get("CELERY_BROKER_URL", "")
if (
    _xdist_worker.startswith("gw")
    and _broker.startswith("redis://")
    and "LLMC_XDIST_BROKER" not in os.environ
):
    _base, _, _db = _broker.rpartition("/")
    _index = int(_xdist_worker[2:])
    os.environ["CELERY_BROKER_URL"] = f"{_base}/{(int(_db or 0) + 1 + _index) % 16}"
    os.environ["LLMC_XDIST_BROKER"] = os.environ["CELERY_BROKER_URL"]

from dashboard.settings import *  # noqa: E402, F403

# The suite runs no collectstatic, so pages name static files without the manifest's hashed
# names; the Docker image test (tests/server/test_docker_image.py) builds the manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A second alias for the read-replica router's tests (tests/server/test_db_router.py): on
# Postgres, a mirror of the test database (Django's TEST MIRROR), unused until a test names
# it in DATABASE_READ_REPLICA.
if "replica" not in DATABASES and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405

# Django's default hasher (PBKDF2, over a million iterations) costs a large part of a second
# for every user a test creates; the suite's users need a hash, not a slow one. Deployments
# keep Django's default list (tests/server/test_deploy_security.py checks it).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
