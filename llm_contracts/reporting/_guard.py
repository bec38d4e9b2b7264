"""The one place where the reporter's own errors are caught, logged and counted."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

__all__ = ["InternalErrorGuard", "log"]

log = logging.getLogger("llm_contracts.reporting")


class InternalErrorGuard:
    """Contain every exception raised inside ``with guard:``: log it, count it, swallow it.

    A reporting bug must cost the host app its telemetry, never its call. Each kind of
    error (exception type and where it happened) is logged with its traceback once, then
    only counted, so a broken reporter cannot flood the app's logs either.
    """

    __slots__ = ("_lock", "_seen", "errors")

    def __init__(self) -> None:
        self.errors = 0
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> InternalErrorGuard:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if typ is None or not issubclass(typ, Exception):
            # KeyboardInterrupt and SystemExit belong to the app.
            return False
        self.record(exc)
        return True

    def record(self, exc: BaseException | None) -> None:
        """Count ``exc`` and log it the first time its kind is seen."""
        try:
            where = ""
            frame = exc.__traceback__ if exc is not None else None
            while frame is not None and frame.tb_next is not None:
                frame = frame.tb_next
            if frame is not None:
                where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}"
            key = (type(exc).__name__, where)
            with self._lock:
                self.errors += 1
                first = key not in self._seen
                self._seen.add(key)
            if first:
                log.error("llm_contracts reporter internal error (logged once, then counted)", exc_info=exc)
        except Exception:  # pragma: no cover - logging itself failed; nothing more to do safely
            pass
