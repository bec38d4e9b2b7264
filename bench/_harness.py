"""Interleaved timing: warm-up, calibrated blocks, rounds reshuffled with a fixed seed."""

from __future__ import annotations

import gc
import itertools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Scenario:
    """One thing to time.

    ``call(arg)`` is the timed operation. ``prepare(n)``, when given, builds the ``n``
    arguments of a block outside the timing (fresh texts, new requests); otherwise
    every call gets ``None``. ``check()`` runs once after warm-up and raises when the
    scenario does not do what its name says. ``max_block`` caps the calls per block
    (with ``fixed``, it is the block size); ``after_warmup()`` runs once warm-up is over.
    """

    name: str
    call: Callable[[Any], Any]
    baseline: str | None = None
    prepare: Callable[[int], Sequence[Any]] | None = None
    check: Callable[[], None] | None = None
    max_block: int = 5000
    after_warmup: Callable[[], None] | None = None
    fixed: bool = False
    block: int = 1
    samples: list[int] = field(default_factory=list)

    def args(self, n: int) -> Sequence[Any]:
        return self.prepare(n) if self.prepare is not None else list(itertools.repeat(None, n))


def run_block(scenario: Scenario, n: int, *, record: bool) -> None:
    """Time ``n`` calls one by one with the garbage collector off."""
    args = scenario.args(n)
    call = scenario.call
    clock = time.perf_counter_ns
    times = [0] * n
    gc.disable()
    try:
        for i, arg in enumerate(args):
            t0 = clock()
            call(arg)
            times[i] = clock() - t0
    finally:
        gc.enable()
    if record:
        scenario.samples.extend(times)


def warm_up(scenarios: Sequence[Scenario], *, seconds: float, block_ms: float) -> None:
    """Run each scenario for about ``seconds``, check it, and size its blocks to ``block_ms``."""
    for scenario in scenarios:
        deadline = time.perf_counter() + seconds
        calls = 0
        while True:
            run_block(scenario, 3, record=True)
            calls += 3
            if time.perf_counter() >= deadline and calls >= 9:
                break
        if scenario.check is not None:
            scenario.check()
        per_call = median(scenario.samples[-calls // 2 :])
        if not scenario.fixed:
            scenario.block = max(3, min(scenario.max_block, int(block_ms * 1e6 / max(per_call, 1))))
        scenario.samples.clear()
    for scenario in scenarios:
        if scenario.after_warmup is not None:
            scenario.after_warmup()


def run_rounds(
    scenarios: Sequence[Scenario], *, rounds: int, seed: int, progress: Callable[[int], None] | None = None
) -> None:
    """Run one block of every scenario per round, in an order reshuffled every round."""
    rng = random.Random(seed)
    order = list(scenarios)
    for r in range(rounds):
        rng.shuffle(order)
        for scenario in order:
            run_block(scenario, scenario.block, record=True)
        if progress is not None:
            progress(r + 1)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile with linear interpolation (values need not be sorted)."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


@dataclass(frozen=True)
class Row:
    name: str
    n: int
    median_us: float
    p95_us: float
    baseline: str | None
    over_us: float | None
    over_pct: float | None


def summarize(scenarios: Sequence[Scenario]) -> dict[str, Row]:
    by_name = {s.name: s for s in scenarios}
    meds = {s.name: median(s.samples) / 1000 for s in scenarios}
    rows: dict[str, Row] = {}
    for s in scenarios:
        over_us = over_pct = None
        if s.baseline is not None and s.baseline in by_name:
            base = meds[s.baseline]
            over_us = meds[s.name] - base
            over_pct = 100 * over_us / base
        rows[s.name] = Row(
            s.name,
            len(s.samples),
            meds[s.name],
            percentile(s.samples, 95) / 1000,
            s.baseline,
            over_us,
            over_pct,
        )
    return rows


def format_table(rows: Sequence[Row], notes: dict[str, str]) -> str:
    header = ("scenario", "calls", "median µs", "p95 µs", "over µs", "over %", "vs")
    lines = []
    for r in rows:
        lines.append(
            (
                r.name,
                str(r.n),
                f"{r.median_us:,.1f}",
                f"{r.p95_us:,.1f}",
                "" if r.over_us is None else f"{r.over_us:+,.1f}",
                "" if r.over_pct is None else f"{r.over_pct:+.1f}%",
                r.baseline or "",
            )
        )
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        return "  ".join([first, *rest, cells[-1].ljust(widths[-1])]).rstrip()

    out = [fmt(header), fmt(["-" * w for w in widths])]
    out += [fmt(line) for line in lines]
    extra = [f"  {name}: {text}" for name, text in notes.items() if text]
    if extra:
        out += ["", "notes:", *extra]
    return "\n".join(out)
