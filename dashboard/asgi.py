"""The ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

from dashboard import otel

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# Before the application loads its middleware: tracing adds one of its own.
otel.setup()
application = get_asgi_application()
