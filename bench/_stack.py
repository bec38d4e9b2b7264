"""The control plane as it is deployed, on loopback: gunicorn, Celery workers and beat as
real processes against one Postgres database, and a bounded HTTP load generator.

Used by ``bench/ingest_bench.py --http`` and ``bench/soak.py``. Everything binds to
127.0.0.1; every process started here is stopped by :meth:`Stack.stop`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import random
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from llm_contracts._ids import lettered

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ["ticket_schema", "pii", "prompt_injection", "length", "no_refusal"]


def sdk_id(name: str) -> str:
    """Return an id shaped as the SDK makes them (llm_contracts._ids), the same for the same name."""
    return lettered(uuid.UUID(bytes=hashlib.md5(name.encode()).digest(), version=4).hex)


def make_events(
    n: int, *, seed: int, span: timedelta, prefix: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Return ``n`` realistic events in the protocol's format, spread over ``span`` before now."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    out = []
    for i in range(n):
        valid = rng.random() > 0.1
        out.append(
            {
                "event_id": sdk_id(f"{prefix}-{i}"),
                "call_id": sdk_id(f"{prefix}-c{i // 3}"),
                "timestamp": (now - span * rng.random()).isoformat(),
                "contract": rng.choice(CONTRACTS),
                "contract_version": rng.choice([None, 1, 2]),
                "category": "output",
                "is_valid": valid,
                "error": rng.random() < 0.01,
                "severity": rng.choice(["error", "error", "warning"]),
                "enforcement": "strict",
                "message": "" if valid else "the answer is not valid JSON: Expecting value at line 1",
                "outcome": "passed" if valid else "repaired",
                "input_excerpt": "File a ticket: the printer on floor 3 is on fire again, send someone.",
                "output_excerpt": '{"title": "Printer on fire", "priority": "high"}',
                "latency_ms": round(rng.lognormvariate(0, 1.5), 3),
                "llm_latency_ms": round(rng.uniform(200, 900), 1),
                "model": rng.choice(["gpt-4o-mini", "claude-3-5-haiku"]),
                "provider": "openai",
                "endpoint": "chat.completions",
                "prompt_tokens": rng.randrange(20, 400),
                "completion_tokens": rng.randrange(5, 200),
                "auto_fix_attempted": not valid,
                "auto_fix_succeeded": not valid,
                "retries": 0 if valid else 1,
                "session_id": None,
                "turn": None,
                "experiment": "exp1",
                "variant": rng.choice(["a", "b"]),
                "trace_id": None,
                "sdk_version": "0.1.0",
            }
        )
    return out


def gzip_batch(events: list[dict[str, Any]], instance: str = "bench-1") -> bytes:
    """Return the gzip body of one POST /api/v1/events, as the SDK's reporter sends it."""
    body = {"sdk": {"name": "bench", "version": "0", "instance_id": instance}, "events": events}
    return gzip.compress(json.dumps(body).encode(), compresslevel=6)


def compose_command(service: str) -> list[str]:
    """Return the program and arguments docker/compose.yaml runs ``service`` with.

    The web service migrates first (``sh -c "... && exec gunicorn ..."``): its gunicorn
    command is the part after ``exec``.
    """
    import yaml

    command = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"][service]["command"]
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2].split("exec ", 1)[1])
    return list(command)


def quiet_httpx() -> None:
    # One line per request would drown the output (Django's logging sets the root to INFO).
    logging.getLogger("httpx").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values`` by the nearest-rank method; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 1))))
    return ordered[rank - 1]


@contextmanager
def bench_database(name: str) -> Iterator[dict[str, Any]]:
    """Set Django up (production settings) and create the database ``name``; drop it on exit.

    Yields the connection settings: ``dsn`` for psycopg and ``url`` for the processes.
    """
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("this benchmark needs DATABASE_URL pointing at Postgres")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.DATABASES["default"]["TEST"]["NAME"] = name
    quiet_httpx()
    # A SIGTERM unwinds like an exception, so the processes started here are stopped and
    # the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        db = settings.DATABASES["default"]
        password = db["PASSWORD"] or ""
        auth = db["USER"] + (f":{password}" if password else "")
        port = db["PORT"] or 5432
        yield {
            "dsn": {
                "dbname": db["NAME"],
                "user": db["USER"],
                "host": db["HOST"],
                "port": port,
                "password": password or None,
            },
            "url": f"postgres://{auth}@{db['HOST']}:{port}/{db['NAME']}",
        }
    finally:
        connection.close()
        connection.creation.destroy_test_db(original, verbosity=0)


@dataclass
class Proc:
    role: str
    popen: subprocess.Popen[bytes]
    log: Path
    out: IO[bytes]

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Stack:
    """Server processes started on loopback against one database."""

    database_url: str
    workdir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    port: int = 0

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": self.database_url,
            "DEBUG": "0",
            "SITE_URL": "http://127.0.0.1",
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATE_DIR": str(self.workdir),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.env_extra,
        }
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        return env

    def _start(self, role: str, args: list[str]) -> Proc:
        log = self.workdir / f"{role}.log"
        out = log.open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT
        )
        proc = Proc(role, popen, log, out)
        self.procs.append(proc)
        return proc

    def start_web(self, processes: int) -> str:
        """Start gunicorn as docker/compose.yaml's web service does, with ``processes`` workers
        on a free loopback port; return its URL."""
        self.port = free_port()
        args = compose_command("web")
        args[args.index("--bind") + 1] = f"127.0.0.1:{self.port}"
        args[args.index("--workers") + 1] = str(processes)
        self._start("web", args)
        return f"http://127.0.0.1:{self.port}"

    def start_worker(self, name: str) -> Proc:
        """Start one Celery worker as docker/compose.yaml's worker service does."""
        return self._start(f"worker-{name}", [*compose_command("worker"), "-n", f"{name}@%h"])

    def start_beat(self) -> Proc:
        """Start beat as docker/compose.yaml's beat service does, its schedule file in the work folder."""
        schedule = str(self.workdir / "celerybeat-schedule")
        return self._start("beat", [*compose_command("beat"), "-s", schedule])

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until the web answers its health check and every worker and beat have started."""
        deadline = time.monotonic() + timeout
        marks = {"worker": "ready.", "beat": "beat: Starting"}
        while time.monotonic() < deadline:
            self.check_alive()
            pending = [
                p for p in self.procs if p.role != "web" and marks[p.role.split("-")[0]] not in p.text()
            ]
            web_ok = True
            if self.port:
                try:
                    web_ok = httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=2).is_success
                except httpx.HTTPError:
                    web_ok = False
            if web_ok and not pending:
                return
            time.sleep(0.3)
        raise RuntimeError("the stack did not start in time:\n" + self.tails())

    def check_alive(self) -> None:
        dead = [p for p in self.procs if p.popen.poll() is not None]
        if dead:
            raise RuntimeError(
                "processes exited: "
                + ", ".join(f"{p.role} ({p.popen.returncode})" for p in dead)
                + "\n"
                + self.tails()
            )

    def tails(self, chars: int = 1500) -> str:
        return "\n".join(f"--- {p.role}:\n{p.text()[-chars:]}" for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in self.procs:
            try:
                proc.popen.wait(20)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
            proc.out.close()


@dataclass
class Batch:
    body: bytes
    ids: list[str]
    project: int = 0


@dataclass
class LoadResult:
    requests: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    # Answers that made the batch go again (429, 503, a dropped connection).
    retries: int = 0
    server_errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    # (monotonic time, events accepted) per answered request.
    answered: list[tuple[float, int]] = field(default_factory=list)
    accepted_ids: dict[int, set[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def run_load(
    url: str,
    keys: dict[int, str],
    next_batch: Callable[[int], Batch | None],
    *,
    concurrency: int,
    rate: float | None = None,
    batch_events: int = 100,
    deadline_s: float | None = None,
    keep_ids: bool = False,
    max_tries: int = 20,
) -> LoadResult:
    """Post batches from ``next_batch(i)`` (None: no more) over ``concurrency`` threads.

    Bounded by the batches ``next_batch`` gives and by ``deadline_s``. With ``rate``
    (events/s) the sends are paced on a fixed schedule (open loop: a slow answer does not
    delay the next send while a thread is free); without, each thread sends as fast as
    answers come back. A 429, 503 or a dropped connection sends the same batch again, as
    the SDK's reporter does (the server dedups by event id), after a short pause.
    """
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(1 << 62))
    start = time.monotonic()
    stop_at = start + deadline_s if deadline_s else None
    interval = batch_events / rate if rate else 0.0

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    i = next(counter)
                    due = start + i * interval
                    # Past the deadline no batch is taken: every batch taken is sent.
                    if stop_at is not None and max(due, time.monotonic()) >= stop_at:
                        return
                    batch = next_batch(i)
                if batch is None:
                    return
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                headers = {
                    "X-API-Key": keys[batch.project],
                    "Content-Encoding": "gzip",
                    "Content-Type": "application/json",
                }
                for attempt in range(max_tries):
                    sent = time.monotonic()
                    try:
                        response = client.post(f"{url}/api/v1/events", content=batch.body, headers=headers)
                    except httpx.TransportError:
                        with lock:
                            result.retries += 1
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    took = (time.monotonic() - sent) * 1000
                    if response.status_code in (429, 503):
                        with lock:
                            result.retries += 1
                            result.latencies_ms.append(took)
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    with lock:
                        result.requests += 1
                        result.latencies_ms.append(took)
                        if response.status_code >= 500:
                            result.server_errors += 1
                        if response.status_code != 207:
                            result.failures.append(f"{response.status_code}: {response.text[:300]}")
                            return
                        data = response.json()
                        result.events += len(batch.ids)
                        result.accepted += data["accepted"]
                        result.duplicates += data["duplicates"]
                        result.rejected += data["rejected"]
                        result.answered.append((time.monotonic(), data["accepted"]))
                        if keep_ids:
                            ids = result.accepted_ids.setdefault(batch.project, set())
                            for event_id, item in zip(batch.ids, data["results"], strict=True):
                                if item["status"] in ("accepted", "duplicate"):
                                    ids.add(event_id)
                    break
                else:
                    with lock:
                        result.failures.append(f"a batch was refused {max_tries} times")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - start
    return result
