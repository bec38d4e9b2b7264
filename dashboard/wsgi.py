"""The WSGI entry point (gunicorn dashboard.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

from dashboard import otel

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# Before the application loads its middleware: tracing adds one of its own.
otel.setup()
application = get_wsgi_application()
