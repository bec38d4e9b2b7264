"""Run the whole control plane locally: migrate, demo data, web server, Celery worker with beat, demo traffic.

``make run`` runs this. Ctrl-C stops every process it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    env.setdefault("DEBUG", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _wait_until_up(url: str, processes: list[subprocess.Popen[bytes]], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (a local URL)
                return bool(response.status == 200)
        except OSError:
            time.sleep(0.3)
    return False


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    # One at a time in reverse start order: the traffic generator flushes its reporter
    # while the web server still answers, and the worker finishes its task.
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    env = _env()
    python = sys.executable
    host = env.get("DEV_HOST", "127.0.0.1")
    port = env.get("DEV_PORT", "8000")
    env.setdefault("SITE_URL", f"http://{host}:{port}")
    manage = [python, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True, env=env, cwd=ROOT)
    subprocess.run([*manage, "demo_setup"], check=True, env=env, cwd=ROOT)
    key_file = Path(env.get("STATE_DIR", str(ROOT / ".run"))) / "demo_api_key"
    key = key_file.read_text(encoding="utf-8").strip()

    commands = [
        [*manage, "runserver", f"{host}:{port}", "--noreload"],
        [
            python,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "--beat",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
        ],
    ]
    processes: list[subprocess.Popen[bytes]] = []
    # Children get their own process group: Ctrl-C reaches only this supervisor, which
    # then stops them in order instead of all of them dying at once mid-request.
    interrupted = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for command in commands:
            processes.append(subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True))
        if not _wait_until_up(f"http://{host}:{port}/api/v1/health", processes):
            print("the web server did not come up; stopping", file=sys.stderr)
            return 1
        processes.append(
            subprocess.Popen(
                [python, "-m", "dashboard.demo_traffic", "--url", f"http://{host}:{port}", "--key", key],
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        )
        print(f"\nrunning: open {env['SITE_URL']}/p/demo/ as admin/admin (Ctrl-C stops all)\n", flush=True)
        while not interrupted:
            dead = [p for p in processes if p.poll() is not None]
            if dead:
                print(
                    f"{dead[0].args!r} exited with {dead[0].returncode}; stopping",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.3)
        return 0
    finally:
        _stop(processes)
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
