"""Deployment hardening: the documented production settings pass Django's deploy check, pages
carry a Content-Security-Policy they can live with, and pages for users are never cached."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from experiments import services as experiment_services
from tests.server.conftest import Cast
from tests.server.experiments.conftest import MakeExperiment, make_experiment, versions  # noqa: F401
from tests.server.test_settings_and_deploy import env_example

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    documented = env_example()
    # The example's secret is a placeholder that start-up refuses; a deployment makes its own.
    documented["SECRET_KEY"] = secrets.token_urlsafe(50)
    documented.update(STATE_DIR=str(tmp_path / "run"), STATIC_ROOT=str(tmp_path / "static"))
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        env={**base, **documented, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_https_settings_follow_the_site_url_and_the_proxy_header_is_trusted_when_named(
    tmp_path: Path,
) -> None:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    probe = (
        "import dashboard.settings as s; print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={
            **base,
            "STATE_DIR": str(tmp_path),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SITE_URL": "https://contracts.example.org",
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_the_policy_allows_exactly_the_styles_the_plotly_bundle_injects() -> None:
    from django.conf import settings

    from dashboard.views import PLOTLY_JS

    bundle = PLOTLY_JS.read_text(encoding="utf-8")
    # The stylesheets the bundle injects: the CSS literals it assigns to textContent, and
    # the empty element it fills through the CSSOM.
    texts = [m.group(1) for m in re.finditer(r"textContent='((?:[^'\\]|\\.)*)'", bundle) if "{" in m.group(1)]
    empty = 'n.setAttribute("id",i),n.appendChild(document.createTextNode(""))'
    assert empty in bundle
    texts.append("")
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(t.encode()).digest()).decode()}'" for t in texts}
    assert hashes == set(settings.PLOTLY_STYLE_HASHES)
    # Its pseudo-HTML bold and italic become style attributes of exactly this text.
    assert 'b:"font-weight:bold",i:"font-style:italic"' in bundle


class _InlineCode(HTMLParser):
    """Collect inline scripts, event-handler attributes and inline styles of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on") or name == "style" or name.startswith("hx-on"):
                self.found.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.found.append("<style>")
        # A JSON data block (json_script) is data, not code: CSP does not run it.
        self._script = tag == "script" and "src" not in names and names.get("type") != "application/json"

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        self._script = False


PAGES = [
    "/p/{slug}/",
    "/p/{slug}/violations/",
    "/p/{slug}/health/",
    "/p/{slug}/settings/",
    "/p/{slug}/contracts/",
    "/p/{slug}/breakpoints/",
    "/p/{slug}/experiments/",
]


class TestPages:
    @pytest.mark.parametrize("page", PAGES)
    def test_pages_carry_a_strict_policy_and_have_no_inline_code(
        self, client: Client, cast: Cast, page: str
    ) -> None:
        client.force_login(cast.owner)
        response = client.get(page.format(slug=cast.project_a.slug))
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert re.search(r"script-src 'self'(;|$)", policy), policy
        assert "unsafe" not in policy.replace("style-src-attr 'unsafe-hashes'", ""), policy
        parser = _InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == []
        # A logged-in user's page may hold secrets; neither the browser nor a proxy keeps it.
        assert "no-store" in response["Cache-Control"]

    def test_a_running_experiment_page_asks_before_a_rollback_without_inline_code(
        self,
        client: Client,
        cast: Cast,
        make_experiment: MakeExperiment,  # noqa: F811
    ) -> None:
        experiment = make_experiment(coverage=0.5)
        experiment_services.experiment_start(
            experiment=experiment, actor=experiment_services.Actor.of_user(cast.owner)
        )
        client.force_login(cast.owner)
        response = client.get(f"/p/{cast.project_a.slug}/experiments/{experiment.key}/")
        assert response.status_code == 200
        parser = _InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == []
        assert b'data-confirm="Roll back stricter-pii?' in response.content

    def test_the_editor_is_given_the_nonce_the_policy_allows_for_its_styles(
        self, client: Client, cast: Cast
    ) -> None:
        client.force_login(cast.owner)
        response = client.get(f"/p/{cast.project_a.slug}/contracts/new/")
        found = re.search(rb'data-csp-nonce="([A-Za-z0-9+/=]+)"', response.content)
        assert found, "the editor gets no nonce: CodeMirror's <style> would be blocked"
        nonce = found.group(1).decode()
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"].split("style-src ")[1].split(";")[0]

    def test_the_page_showing_a_new_key_is_never_stored(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.owner)
        response = client.post(f"/p/{cast.project_a.slug}/settings/keys/", {"name": "ci", "scopes": ["read"]})
        assert response.status_code == 201 and response.context["new_key"].encode() in response.content
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]

    def test_the_login_page_has_the_policy_too(self, client: Client, db: None) -> None:
        response = client.get("/login/")
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("variables", "backend"),
    [({}, "console.EmailBackend"), ({"EMAIL_HOST": "smtp.example.org"}, "smtp.EmailBackend")],
)
def test_mail_goes_to_the_log_until_an_email_server_is_set(
    tmp_path: Path, variables: dict[str, str], backend: str
) -> None:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    done = subprocess.run(
        [sys.executable, "-c", "import dashboard.settings as s; print(s.EMAIL_BACKEND)"],
        env={**base, "STATE_DIR": str(tmp_path), "DEBUG": "1", **variables},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"django.core.mail.backends.{backend}"


def test_deployments_hash_passwords_with_djangos_slow_default_hashers() -> None:
    # The suite swaps in a fast hasher (tests/settings.py); the product must not.
    from django.conf import global_settings

    import dashboard.settings as production

    hashers = getattr(production, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)
    assert hashers == global_settings.PASSWORD_HASHERS
    assert hashers[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
