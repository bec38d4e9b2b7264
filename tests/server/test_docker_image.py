"""The Docker image's file set is enough to run: built from the Dockerfile's own COPY lines."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"

# Run a command of the assembled folder with only that folder's code importable: the
# development install puts the checkout on sys.path, which would hide a missing folder.
BOOTSTRAP = """
import os, runpy, sys
here = os.getcwd()
sys.path[:] = [here] + [p for p in sys.path if p and not os.path.isfile(os.path.join(p, "manage.py"))]
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

PAGE = """
import django
django.setup()
from django.test import Client
client = Client()
login = client.get("/login/")
css = client.get("/static/dashboard/app.css")
print(login.status_code, b'name="password"' in login.content, css.status_code)
import accounts, contracts_app, dashboard, experiments, telemetry
apps = (accounts, contracts_app, dashboard, experiments, telemetry)
assert all(m.__file__.startswith(os.getcwd()) for m in apps)
"""


def image_files(app: Path) -> None:
    """Copy into ``app`` exactly what the Dockerfile's COPY instructions copy into WORKDIR."""
    for line in DOCKERFILE.read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        parts = [p for p in line.split()[1:] if not p.startswith("--")]
        sources, target = parts[:-1], parts[-1]
        for source in sources:
            origin = ROOT / source
            dest = app / target / source if target.endswith("/") else app / target
            if origin.is_dir():
                shutil.copytree(origin, dest, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, dest)


def test_the_image_file_set_passes_check_collects_static_and_serves_a_page(tmp_path: Path) -> None:
    app = tmp_path / "app"
    image_files(app)
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "STATE_DIR": str(tmp_path / "run"),
        "STATIC_ROOT": str(tmp_path / "staticfiles"),
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", BOOTSTRAP, *args],
            env=env,
            cwd=app,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "no issues" in run("manage.py", "check")
    run("manage.py", "collectstatic", "--noinput", "-v", "0")
    assert (tmp_path / "staticfiles" / "dashboard" / "app.css").exists()
    script = tmp_path / "page.py"
    script.write_text("import os\n" + PAGE)
    assert run(str(script)).split() == ["200", "True", "200"]


def test_every_app_and_folder_the_settings_name_is_copied() -> None:
    copied = set(re.findall(r"^COPY (\S+)", DOCKERFILE.read_text(), re.M))
    copied |= {p for line in re.findall(r"^COPY (.+)$", DOCKERFILE.read_text(), re.M) for p in line.split()}
    from django.conf import settings

    local_apps = {a.split(".")[0] for a in settings.INSTALLED_APPS if (ROOT / a.split(".")[0]).is_dir()}
    assert local_apps | {"templates", "static", "manage.py", "dashboard"} <= copied
