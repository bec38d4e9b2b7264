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


# What a user does: import openai and the client, build it, make a first request (served by
# a mock transport). Lazily loaded modules are paid for here, not hidden by the import figure.
_FIRST_CALL = """
import time
t0 = time.perf_counter_ns()
import openai
{import_client}
import openai._base_client as base
http = getattr(base, "httpx2", None) or base.httpx
body = b'{{"id":"c1","object":"chat.completion","created":0,"model":"gpt-4o-mini","choices":'
body += b'[{{"index":0,"finish_reason":"stop","message":{{"role":"assistant","content":"hi"}}}}],'
body += b'"usage":{{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}}}'
answer = lambda request: http.Response(200, headers={{"content-type": "application/json"}}, content=body)
transport = http.MockTransport(answer)
t1 = time.perf_counter_ns()
client = Client(api_key="bench", base_url="http://bench.invalid/v1", max_retries=0,
                http_client=http.Client(transport=transport))
client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
t2 = time.perf_counter_ns()
print(t1 - t0, t2 - t1)
"""
_CLIENTS = {
    "ours": "from llm_contracts import ContractOpenAI as Client",
    "raw": "Client = openai.OpenAI",
}


@dataclass(frozen=True)
class ImportCost:
    openai_ms: float
    added_ms: float
    importtime_ms: float
    heaviest: list[tuple[str, float]]
    heavy_loaded: list[str]
    runs: int
    # import + construction + first request, ContractOpenAI and openai.OpenAI (medians, ms)
    first_call_ms: float = 0.0
    raw_first_call_ms: float = 0.0

    def first_call_line(self) -> str:
        return (
            f"first call (import openai + the client, build it, one request through a mock transport): "
            f"ContractOpenAI {self.first_call_ms:.1f} ms, openai.OpenAI {self.raw_first_call_ms:.1f} ms "
            f"({self.first_call_ms - self.raw_first_call_ms:+.1f} ms; "
            f"median of {self.runs} fresh interpreters each)"
        )


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
    first = first_call(runs)
    return ImportCost(
        median(only), median(added), median(totals), heaviest[:5], heavy, runs, first["ours"], first["raw"]
    )


def first_call(runs: int) -> dict[str, float]:
    """Median ms from ``import openai`` to the first answer, per client, in alternating fresh interpreters."""
    codes = {name: _FIRST_CALL.format(import_client=line) for name, line in _CLIENTS.items()}
    for code in codes.values():
        _run(code)  # the bytecode caches, and a check that the request works
    totals: dict[str, list[float]] = {name: [] for name in codes}
    for i in range(runs):
        for name in sorted(codes, reverse=i % 2 == 1):
            setup_ns, call_ns = (int(x) for x in _run(codes[name]).stdout.split())
            totals[name].append((setup_ns + call_ns) / 1e6)
    return {name: median(ms) for name, ms in totals.items()}


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
