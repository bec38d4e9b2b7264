#!/usr/bin/env python
"""Django's command-line utility for the control plane."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    from django.core.management import execute_from_command_line

    from dashboard import otel

    # Before any command loads middleware or opens a connection, so both are traced.
    otel.setup()
    execute_from_command_line(sys.argv)
