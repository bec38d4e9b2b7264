"""Settings of the test suite: the production settings, with a throw-away secret key.

DEBUG is off by default and then start-up needs a real SECRET_KEY; the suite makes one
up instead of running in development mode, so it tests what a deployment runs.
"""

from __future__ import annotations

import os
import secrets

os.environ.setdefault("SECRET_KEY", "test-" + secrets.token_urlsafe(48))

from dashboard.settings import *  # noqa: E402, F403

# The suite runs no collectstatic, so pages name static files without the manifest's hashed
# names; the Docker image test (tests/server/test_docker_image.py) builds the manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
