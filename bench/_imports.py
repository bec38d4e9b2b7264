"""Scenario 9: what ``import llm_contracts`` costs on top of ``import openai``, in fresh interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ._harness import median

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("django", "jsonschema", "tiktoken")

_CHECK = f"""
import json, sys
import openai, llm_contracts
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


_TIMED = """
import time
t0 = time.perf_counter_ns()
import openai
t1 = time.perf_counter_ns()
import llm_contracts
t2 = time.perf_counter_ns()
print(t1 - t0, t2 - t1)
"""


@dataclass(frozen=True)
class ImportCost:
    openai_ms: float
    added_ms: float
    importtime_ms: float
    heaviest: list[tuple[str, float]]
    heavy_loaded: list[str]
    runs: int


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # Installed packages carry compiled bytecode; without it every run would time the
    # compiler. The first run writes the caches the timed runs read.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code], cwd=ROOT, env=_env(), check=True, capture_output=True, text=True
    )


def measure(runs: int) -> ImportCost:
    """Time ``import openai``, then ``import llm_contracts``, in ``runs`` fresh interpreters."""
    _run("import openai, llm_contracts")  # fill the bytecode caches first
    only, added = [], []
    for _ in range(runs):
        # Timed inside the interpreter: start-up and shutdown, which swing by tens of
        # milliseconds on a busy machine, stay out of the difference.
        openai_ns, ours_ns = (int(x) for x in _run(_TIMED).stdout.split())
        only.append(openai_ns / 1e6)
        added.append(ours_ns / 1e6)
    # With openai imported first, the cumulative time of llm_contracts is its own cost.
    totals: list[float] = []
    own: dict[str, list[float]] = {}
    for _ in range(max(3, runs // 3)):
        total, selves = _importtime()
        totals.append(total)
        for name, ms in selves.items():
            own.setdefault(name, []).append(ms)
    heavy = json.loads(_run(_CHECK).stdout.strip().splitlines()[-1])
    heaviest = sorted(((name, median(ms)) for name, ms in own.items()), key=lambda item: -item[1])
    return ImportCost(median(only), median(added), median(totals), heaviest[:5], heavy, runs)


def _importtime() -> tuple[float, dict[str, float]]:
    """Return the cumulative ms of llm_contracts and the self ms of each module it brought in."""
    stderr = _run("import openai, llm_contracts", "-X", "importtime").stderr
    selves: dict[str, float] = {}
    total = 0.0
    seen_openai = False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:") :].split("|")]
        if not parts[0].isdigit():
            continue
        self_us, cumulative_us, name = int(parts[0]), int(parts[1]), parts[2]
        if name == "openai":
            seen_openai = True
        elif seen_openai:
            selves[name] = self_us / 1000
            if name == "llm_contracts":
                total = cumulative_us / 1000
    return total, selves
