"""Page reads on a read replica, everything else on the primary.

With ``DATABASE_REPLICA_URL`` set, the settings add a ``replica`` database and
``DATABASE_READ_REPLICA`` names it; unset, every query goes to ``default`` as before.

What goes where:

- Reads of a dashboard page (a GET or HEAD outside ``/api/`` and ``/admin/``, seen by
  ``ReplicaReadsMiddleware``) go to the replica.
- Every write goes to the primary (``default``): ingest, the aggregation, contract and
  project edits, sessions, migrations (``allow_migrate`` allows ``default`` only).
- Every other read goes to the primary too: the ingest API, Celery tasks (the aggregation
  reads its queue), management commands, POST requests, and reads inside a transaction
  on the primary.
- Read-your-writes: once a request has written, its later reads go to the primary, and
  its response sets a short-lived cookie (``DATABASE_REPLICA_PIN_S`` seconds) that keeps
  that browser's next requests on the primary, so the page a form redirects to shows
  what the form saved even while the replica lags. The limit: only within that window
  and that browser; another user's page may show data a replica lag old.

The state lives in a context variable holding a mutable object, so it is one per request
under WSGI threads and under ASGI (where the view runs in a copied context).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse

PRIMARY = "default"
PIN_COOKIE = "llmc_primary"
# Paths whose GETs are not page reads: the SDKs' API and the admin.
_NOT_PAGES = ("/api/", "/admin/")


@dataclass
class _RequestState:
    replica_ok: bool = False
    wrote: bool = False


_state: ContextVar[_RequestState | None] = ContextVar("llmc_db_request_state", default=None)


def replica_alias() -> str | None:
    """Return the alias of the read replica, or None when none is configured."""
    alias = getattr(settings, "DATABASE_READ_REPLICA", None)
    return alias if alias and alias in settings.DATABASES else None


class ReplicaRouter:
    """Route page reads to the replica and everything else to the primary (see the module)."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        replica = replica_alias()
        state = _state.get()
        if replica is None or state is None or not state.replica_ok or state.wrote:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            # A transaction on the primary reads what it is about to write.
            return PRIMARY
        return replica

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        state = _state.get()
        if state is not None:
            state.wrote = True
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the same rows as the primary.
        aliases = {PRIMARY, replica_alias()}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        # The replica follows the primary's schema through replication.
        return db == PRIMARY


class ReplicaReadsMiddleware:
    """Mark a request whose reads may go to the replica; pin a browser that just wrote."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if replica_alias() is None or request.path.startswith(_NOT_PAGES):
            return self.get_response(request)
        state = _RequestState(
            replica_ok=request.method in ("GET", "HEAD") and PIN_COOKIE not in request.COOKIES
        )
        token = _state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _state.reset(token)
        if state.wrote:
            pin_s = int(getattr(settings, "DATABASE_REPLICA_PIN_S", 5))
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=pin_s,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
