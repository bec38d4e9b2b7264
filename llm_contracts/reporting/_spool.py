"""An on-disk spool of events the control plane could not take, re-sent when it is back."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per spool directory
    fcntl = None  # type: ignore[assignment]

__all__ = ["Spool"]

_NAME = "events.jsonl"


class Spool:
    """A bounded JSON-lines file of events, shared safely by the processes of one app.

    Events are appended at the tail and taken from the head; the head is removed only
    after the server acknowledged it, so an event leaves the spool exactly once. The
    file lock keeps forked workers that share the directory from interleaving writes.
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int = 50 * 1024 * 1024) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / _NAME
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, open(self.dir / ".lock", "a") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def count(self) -> int:
        """Return how many events wait in the spool."""
        with self._locked():
            return self._count()

    def _count(self) -> int:
        try:
            with open(self.path, "rb") as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def append(self, events: list[dict[str, Any]]) -> int:
        """Append ``events``; return how many fitted under the size bound (the rest are refused)."""
        lines = [json.dumps(e, separators=(",", ":"), default=str).encode() + b"\n" for e in events]
        with self._locked():
            size = self.path.stat().st_size if self.path.exists() else 0
            kept = []
            for line in lines:
                if size + len(line) > self.max_bytes:
                    break
                kept.append(line)
                size += len(line)
            if kept:
                with open(self.path, "ab") as f:
                    f.write(b"".join(kept))
                    f.flush()
                    os.fsync(f.fileno())
            return len(kept)

    def head(self, n: int) -> list[dict[str, Any]]:
        """Return the first ``n`` events without removing them; unreadable lines are skipped."""
        out: list[dict[str, Any]] = []
        with self._locked():
            try:
                with open(self.path, "rb") as f:
                    for line in f:
                        if len(out) >= n:
                            break
                        if line.strip():
                            with contextlib.suppress(ValueError):
                                out.append(json.loads(line))
            except FileNotFoundError:
                pass
        return out

    def remove(self, event_ids: set[str]) -> int:
        """Remove the events with these ids (the acknowledged head); return how many went."""
        with self._locked():
            try:
                with open(self.path, "rb") as f:
                    lines = f.readlines()
            except FileNotFoundError:
                return 0
            keep: list[bytes] = []
            removed = 0
            for line in lines:
                if not line.strip():
                    continue
                try:
                    event_id = json.loads(line).get("event_id")
                except (ValueError, AttributeError):
                    removed += 1  # a torn or foreign line would block the head forever
                    continue
                if event_id in event_ids:
                    removed += 1
                else:
                    keep.append(line)
            # Write-then-rename: a crash leaves the old file or the new one, never half of one.
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(b"".join(keep))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            return removed
