"""Settings of the control plane, read from environment variables.

With no variables at all the server runs on a bare machine: SQLite, and a Celery broker
that needs no server (kombu's filesystem transport). ``docker/.env.example`` lists them all.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dashboard.lib.env import env_bool, env_float, env_int, env_list, env_secret, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded mode (SQLite file, broker folders, beat schedule).
STATE_DIR = Path(env_str("STATE_DIR", str(BASE_DIR / ".run")))

# Like healthchecks, DEBUG defaults to on so that a fresh checkout runs; every deployment
# (docker/.env.example) sets DEBUG=0, and then a real secret key is required.
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "contracts_app",
    "experiments",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dashboard.lib.middleware.GzipRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.lib.tz.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"
ASGI_APPLICATION = "dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.header",
            ],
        },
    },
]


def _database(url: str) -> dict[str, object]:
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": STATE_DIR / "db.sqlite3",
            # Writers wait for each other instead of failing with "database is locked".
            "OPTIONS": {"timeout": 20},
        }
    try:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=DB_CONN_MAX_AGE))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from None
    if config.get("ENGINE") not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        raise ImproperlyConfigured(f"DATABASE_URL must name a postgres:// or sqlite:// database, got {url!r}")
    return config


DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES = {"default": _database(env_url("DATABASE_URL", "", schemes={"postgres", "postgresql", "sqlite"}))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# collectstatic's target, served by WhiteNoise; in DEBUG the app folders are served directly.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(STATE_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [p for p in [BASE_DIR / "static"] if p.is_dir()]
if not DEBUG:
    # collectstatic (the Dockerfile runs it) writes gzipped copies and hashed names;
    # WhiteNoise then serves them compressed with far-future cache headers.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Ingest. A gzip body may expand to at most this many bytes (a zip bomb guard); a worker
# process runs at most INGEST_MAX_CONCURRENCY batches at once and answers 429 beyond that.
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BODY_BYTES
INGEST_MAX_CONCURRENCY = env_int("INGEST_MAX_CONCURRENCY", 8, minimum=1)
INGEST_RETRY_AFTER_S = env_int("INGEST_RETRY_AFTER_S", 5, minimum=1)

# Health data.
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 30, minimum=1)
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 5000, minimum=1)
ROLLUP_INTERVAL_S = env_float("ROLLUP_INTERVAL_S", 30.0, minimum=1.0)
# Events committed late (a long ingest transaction) are caught by re-reading this far
# behind the watermark; whole buckets are recomputed, so re-reading is harmless.
ROLLUP_OVERLAP_S = env_float("ROLLUP_OVERLAP_S", 120.0, minimum=0.0)
RETENTION_INTERVAL_S = env_float("RETENTION_INTERVAL_S", 3600.0, minimum=1.0)
ALERT_INTERVAL_S = env_float("ALERT_INTERVAL_S", 60.0, minimum=1.0)
ALERT_WEBHOOK_TIMEOUT_S = env_float("ALERT_WEBHOOK_TIMEOUT_S", 5.0, minimum=0.1)
# Experiments: the rollout job's period, and how long an arm of a running experiment
# may see no call before the job pauses it.
EXPERIMENT_INTERVAL_S = env_float("EXPERIMENT_INTERVAL_S", 180.0, minimum=1.0)
EXPERIMENT_NO_TRAFFIC_MINUTES = env_int("EXPERIMENT_NO_TRAFFIC_MINUTES", 30, minimum=1)

# Celery: every CELERY_* setting below is read by dashboard/celery.py.
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://", schemes={"redis", "rediss", "amqp", "amqps", "pyamqp", "filesystem"}
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _BROKER_DIR = STATE_DIR / "broker"
    # Producers write into the folder consumers read from: one folder for both.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "data_folder_processed": str(_BROKER_DIR / "processed"),
        # kombu's default is ./control: the exchange tables would land in the checkout.
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(STATE_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "aggregate-rollups": {
        "task": "contracts_app.rollups_aggregate",
        "schedule": timedelta(seconds=ROLLUP_INTERVAL_S),
    },
    "expire-events": {
        "task": "contracts_app.events_expire",
        "schedule": timedelta(seconds=RETENTION_INTERVAL_S),
    },
    "evaluate-alerts": {
        "task": "contracts_app.alerts_evaluate",
        "schedule": timedelta(seconds=ALERT_INTERVAL_S),
    },
    "evaluate-experiments": {
        "task": "experiments.rollout_evaluate_all",
        "schedule": timedelta(seconds=EXPERIMENT_INTERVAL_S),
    },
}

# OpenTelemetry (dashboard/otel.py). With no endpoint nothing is exported and nothing is
# instrumented. The endpoint is the collector's base URL, as in the OTel specification: the
# HTTP exporter posts to <endpoint>/v1/traces. A sampler ratio below 1 keeps that share of
# traces, following the caller's decision when a request arrives with one.
OTEL_EXPORTER_OTLP_ENDPOINT = env_url("OTEL_EXPORTER_OTLP_ENDPOINT", "", schemes={"http", "https"})
OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", "") or "llm-contracts-control-plane"
OTEL_TRACES_SAMPLER_ARG = env_float("OTEL_TRACES_SAMPLER_ARG", 1.0, minimum=0.0)
if OTEL_TRACES_SAMPLER_ARG > 1.0:
    raise ImproperlyConfigured(
        f"OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got {OTEL_TRACES_SAMPLER_ARG}"
    )

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

STATE_DIR.mkdir(parents=True, exist_ok=True)
# The local state never belongs in version control.
if not (STATE_DIR / ".gitignore").exists():
    (STATE_DIR / ".gitignore").write_text("*\n", encoding="utf-8")
