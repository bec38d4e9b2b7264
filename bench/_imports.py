"""Scenario 9: what ``import llm_contracts`` costs on top of ``import openai``, in fresh interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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


@dataclass(frozen=True)
class ImportCost:
    openai_ms: float
    both_ms: float
    importtime_ms: float
    heaviest: list[tuple[str, float]]
    heavy_loaded: list[str]
    runs: int

    @property
    def added_ms(self) -> float:
        return self.both_ms - self.openai_ms


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=ROOT, env=_env(), check=True,
                          capture_output=True, text=True)


def _wall(code: str) -> float:
    t0 = time.perf_counter_ns()
    _run(code)
    return (time.perf_counter_ns() - t0) / 1e6


def measure(runs: int) -> ImportCost:
    """Time both imports ``runs`` times each, alternating, and read ``-X importtime`` once."""
    _run("import openai, llm_contracts")  # fill the bytecode caches first
    only, both = [], []
    for _ in range(runs):
        only.append(_wall("import openai"))
        both.append(_wall("import openai, llm_contracts"))
    # With openai imported first, the cumulative time of llm_contracts is its own cost.
    stderr = _run("import openai, llm_contracts", "-X", "importtime").stderr
    own: list[tuple[str, float]] = []
    total = 0.0
    seen_openai = False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:"):].split("|")]
        if not parts[0].isdigit():
            continue
        self_us, cumulative_us, name = int(parts[0]), int(parts[1]), parts[2]
        if name.strip() == "openai":
            seen_openai = True
            continue
        if not seen_openai:
            continue
        own.append((name.strip(), self_us / 1000))
        if name == "llm_contracts":
            total = cumulative_us / 1000
    heavy = json.loads(_run(_CHECK).stdout.strip().splitlines()[-1])
    own.sort(key=lambda item: -item[1])
    return ImportCost(median(only), median(both), total, own[:5], heavy, runs)
