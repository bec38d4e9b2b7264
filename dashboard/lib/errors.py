"""The errors every app's services raise for a request the rules refuse.

The API answers them with their ``status`` and ``field``; the pages show ``reason`` next
to the field it names.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request the rules refuse; ``field`` names what was wrong."""

    status = 400

    def __init__(self, reason: str, *, field: str = "body") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class NotFound(ServiceError):
    status = 404
