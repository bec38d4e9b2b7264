"""Settings of the control plane, read from environment variables.

With no variables at all the server runs on a bare machine: SQLite, and a Celery broker
that needs no server (kombu's filesystem transport). ``docker/.env.example`` lists them all.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from dashboard.lib.env import env_bool, env_float, env_int, env_list, env_secret, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded mode (SQLite file, broker folders, beat schedule).
STATE_DIR = Path(env_str("STATE_DIR", str(BASE_DIR / ".run")))

# DEBUG is off unless set, so a deployment that forgets it shows no tracebacks; `make run`
# (dashboard/devserver.py) sets DEBUG=1 for local development. With DEBUG off a real
# secret key is required: a missing, short or placeholder key stops start-up.
DEBUG = env_bool("DEBUG", False)
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = env_secret("SECRET_KEY") or ""


def _real_secret_key(key: str) -> bool:
    # The criteria of Django's own deployment check (security.W009), plus our placeholders.
    placeholder = "change-me" in key or key.startswith("django-insecure-") or key == _DEV_SECRET_KEY
    return len(key) >= 50 and len(set(key)) >= 5 and not placeholder


if not DEBUG and not _real_secret_key(SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY (or SECRET_KEY_FILE) must be set to a random string of at least 50 characters "
        "when DEBUG is off (python -c 'import secrets; print(secrets.token_urlsafe(50))' makes one)"
    )
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")

# HTTPS. A site whose SITE_URL is https gets the redirect, secure cookies and HSTS by
# default; each can be set on its own. Behind a proxy that terminates TLS, name the header
# it sets (SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto) so Django knows a request was https;
# only set it when the proxy overwrites that header, or clients could forge it.
_HTTPS = SITE_URL.startswith("https://")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
# The compose file's health check (and a load balancer's) call plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if _HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
_PROXY_HEADER = env_str("SECURE_PROXY_SSL_HEADER", "")
if _PROXY_HEADER and not re.fullmatch(r"[A-Za-z0-9-]+", _PROXY_HEADER):
    raise ImproperlyConfigured(
        f"SECURE_PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto, got {_PROXY_HEADER!r}"
    )
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_HEADER.upper().replace("-", "_"), "https") if _PROXY_HEADER else None
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "axes",
    "accounts",
    "telemetry",
    "contracts_app",
    "experiments",
    "dashboard",
]

MIDDLEWARE = [
    # Before the session middleware, so a session saved by a page counts as a write.
    "dashboard.db_router.ReplicaReadsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dashboard.lib.middleware.UnstorableTextMiddleware",
    "dashboard.lib.middleware.GzipRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.lib.tz.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "dashboard.lib.middleware.NoStoreForUsersMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user
# name from one client address, that pair is locked out for LOGIN_LOCKOUT_MINUTES (HTTP 429);
# a success resets the count. Other addresses, and other users from the address, go on.
# The address is the connection's (REMOTE_ADDR): behind a proxy every client shares the
# proxy's, so the lockout then works per user name.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"

# Content-Security-Policy (django-csp): scripts and styles only from our own origin, so an
# injected <script> or inline handler cannot run. Pages keep every script in static files.
# The plotly.js bundle adds two <style> elements when it loads: an empty one it fills
# through the CSSOM (allowed) and the map library's fixed stylesheet; their hashes allow
# exactly those two (tests/server/test_deploy_security.py recomputes them from the bundle).
PLOTLY_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # The LLMCL editor (CodeMirror) injects its own <style> elements with the page's nonce.
        "style-src": [SELF, NONCE, *PLOTLY_STYLE_HASHES],
        # plotly.js draws <b> and <i> of hover and chart texts as style="font-weight:bold" and
        # style="font-style:italic" attributes; exactly these two may appear as attributes.
        "style-src-attr": [
            "'unsafe-hashes'",
            "'sha256-wkY2X5hecQzbhnFCqvTpwrUJ1f4X8LH5WFjYUzv1wmU='",
            "'sha256-r8zR3S6YuWY5tpo2Y0PvZHW5fa+SKLNon9zbEWb5UPA='",
        ],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

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
            # The web server, the worker and beat share this file. WAL lets readers go on while
            # one process writes; transactions that take the write lock when they begin
            # (IMMEDIATE) wait up to the busy timeout instead of failing with "database is
            # locked" when a read would have to be upgraded to a write mid-transaction.
            "OPTIONS": {
                "timeout": SQLITE_BUSY_TIMEOUT_S,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)};"
                ),
            },
        }
    try:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=DB_CONN_MAX_AGE))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from None
    if config.get("ENGINE") not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        raise ImproperlyConfigured(f"DATABASE_URL must name a postgres:// or sqlite:// database, got {url!r}")
    return config


DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
SQLITE_BUSY_TIMEOUT_S = env_float("SQLITE_BUSY_TIMEOUT_S", 20.0, minimum=0.0)
DATABASES = {"default": _database(env_url("DATABASE_URL", "", schemes={"postgres", "postgresql", "sqlite"}))}
# A read replica of DATABASE_URL for the dashboard's pages (dashboard/db_router.py): page
# reads go to it, every write and every other read to DATABASE_URL. Unset: one database.
_REPLICA_URL = env_url("DATABASE_REPLICA_URL", "", schemes={"postgres", "postgresql"})
DATABASE_READ_REPLICA: str | None = None
if _REPLICA_URL:
    DATABASES["replica"] = {**_database(_REPLICA_URL), "TEST": {"MIRROR": "default"}}
    DATABASE_READ_REPLICA = "replica"
# After a request writes, that browser reads from the primary for this long (its own
# writes show even while the replica lags): set it above the replica's usual lag.
DATABASE_REPLICA_PIN_S = env_int("DATABASE_REPLICA_PIN_S", 10, minimum=0)
DATABASE_ROUTERS = ["dashboard.db_router.ReplicaRouter"]
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

# Email (invitations). Without EMAIL_HOST, mails are written to the log (Django's console
# backend), and the inviter sees the invitation link on the page anyway.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "") or "llm-contracts@localhost"
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# Ingest. A gzip body may expand to at most this many bytes (a zip bomb guard); a worker
# process runs at most INGEST_MAX_CONCURRENCY batches at once and answers 429 beyond that.
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BODY_BYTES
INGEST_MAX_CONCURRENCY = env_int("INGEST_MAX_CONCURRENCY", 8, minimum=1)
INGEST_RETRY_AFTER_S = env_int("INGEST_RETRY_AFTER_S", 5, minimum=1)
# An event's timestamp must lie in this window around the time it is received: a date
# far off (9999-12-31, year 1) would otherwise land in buckets no page or job can use.
EVENT_MAX_AGE_S = env_float("EVENT_MAX_AGE_S", 7 * 24 * 3600.0, minimum=60.0)
EVENT_MAX_FUTURE_S = env_float("EVENT_MAX_FUTURE_S", 600.0, minimum=0.0)

# Health data.
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 30, minimum=1)
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 5000, minimum=1)
# Worker lag is about one interval plus one pass: bench/soak.py measured a lag p99 of
# 37.3 s at 30 s and 11.9 s at 10 s; an idle pass costs milliseconds.
ROLLUP_INTERVAL_S = env_float("ROLLUP_INTERVAL_S", 10.0, minimum=1.0)
# Queued events one aggregation transaction counts at most; a pass takes chunks until
# the project's queue is empty.
ROLLUP_CHUNK = env_int("ROLLUP_CHUNK", 20000, minimum=1)
RETENTION_INTERVAL_S = env_float("RETENTION_INTERVAL_S", 3600.0, minimum=1.0)
# Postgres: events are partitioned by day; beat creates the partitions this many days
# ahead, every PARTITION_INTERVAL_S.
EVENT_PARTITION_AHEAD_DAYS = env_int("EVENT_PARTITION_AHEAD_DAYS", 3, minimum=1)
PARTITION_INTERVAL_S = env_float("PARTITION_INTERVAL_S", 3600.0, minimum=1.0)
# Retention detaches an expired day from the events table: every insert queues behind
# that DDL while it waits for the table, so it waits this long at most (a few tries).
EVENT_PARTITION_LOCK_TIMEOUT_MS = env_int("EVENT_PARTITION_LOCK_TIMEOUT_MS", 200, minimum=1)
# Postgres: a new day of events (of traces) is made of 24 hour partitions instead of one
# day partition once the busiest of the last 7 days held more rows than this (estimated
# from the table statistics); 0 keeps day partitions whatever the volume.
EVENT_PARTITION_HOURLY_ABOVE = env_int("EVENT_PARTITION_HOURLY_ABOVE", 0, minimum=0)
TRACE_PARTITION_HOURLY_ABOVE = env_int("TRACE_PARTITION_HOURLY_ABOVE", 0, minimum=0)
ALERT_INTERVAL_S = env_float("ALERT_INTERVAL_S", 60.0, minimum=1.0)
# Webhooks (dashboard/lib/webhooks.py): each message is a Celery task with this timeout per
# try, retried with exponential backoff. Targets that resolve to internal addresses are
# refused unless listed here (host names, addresses or networks such as 10.1.0.0/16).
ALERT_WEBHOOK_TIMEOUT_S = env_float("ALERT_WEBHOOK_TIMEOUT_S", 3.0, minimum=0.1)
WEBHOOK_MAX_RETRIES = env_int("WEBHOOK_MAX_RETRIES", 5, minimum=0)
WEBHOOK_RETRY_BACKOFF_S = env_float("WEBHOOK_RETRY_BACKOFF_S", 10.0, minimum=0.0)
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS", [])
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
# Tasks outside the apps' tasks modules.
CELERY_IMPORTS = ["dashboard.lib.webhooks"]
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
    "ensure-partitions": {
        "task": "contracts_app.partitions_ensure",
        "schedule": timedelta(seconds=PARTITION_INTERVAL_S),
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
