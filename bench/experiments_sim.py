"""Simulate A/B experiments on a violation rate, looking after every call, and check the sequential test.

Usage: ``.venv/bin/python bench/experiments_sim.py [--experiments 1000] [--seed 7] [--strict]``.

Each experiment assigns calls one at a time to control or treatment (50/50 at random)
and draws each call's violation; after every call it asks the sequential test
(``llm_contracts.experiments.stats.sequential_log_e``, the e-value the rollout job
uses) whether the arms differ. Scenarios:

- no effect at base rates of 1%, 10% and 50%: every rejection at any look is a false
  positive; the goal is at most 5% (alpha), at every horizon;
- a real increase, 5% -> 7% and 10% -> 20%: the share of experiments that find it and
  the calls it takes (total, both arms).

For comparison, a naive two-proportion z-test repeated after every call shows the
inflation that peeking causes. Everything is vectorised with numpy in chunks; a run takes
well under a minute on one core.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy.stats import binomtest, norm  # noqa: E402

from llm_contracts.experiments.stats import sequential_log_e  # noqa: E402

ALPHA = 0.05
# (name, control rate, treatment rate, calls per arm at the horizon)
NULLS = [("no effect", 0.01, 0.01, 2_000), ("no effect", 0.10, 0.10, 2_000), ("no effect", 0.50, 0.50, 2_000)]
EFFECTS = [("increase", 0.05, 0.07, 10_000), ("increase", 0.10, 0.20, 2_000)]


def run(
    rng: np.random.Generator, n_exp: int, p_c: float, p_t: float, per_arm: int, chunk_cells: int = 4_000_000
) -> tuple[Any, Any]:
    """Return per experiment the first call (from 1) where each test rejects: sequential, naive (0: never)."""
    calls = 2 * per_arm
    seq_first = np.zeros(n_exp, dtype=np.int64)
    naive_first = np.zeros(n_exp, dtype=np.int64)
    size = max(1, chunk_cells // calls)
    bound = math.log(1 / ALPHA)
    z = norm.ppf(1 - ALPHA / 2)
    for start in range(0, n_exp, size):
        rows = min(size, n_exp - start)
        treated = rng.random((rows, calls)) < 0.5
        violated = rng.random((rows, calls)) < np.where(treated, p_t, p_c)
        et = np.cumsum(violated & treated, axis=1)
        ec = np.cumsum(violated & ~treated, axis=1)
        log_e = sequential_log_e(ec, et, weight=0.5)
        hit = log_e >= bound
        seq_first[start : start + rows] = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)
        nt = np.cumsum(treated, axis=1)
        nc = np.arange(1, calls + 1) - nt
        with np.errstate(divide="ignore", invalid="ignore"):
            pooled = (ec + et) / (nc + nt)
            se = np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
            stat = np.abs(et / nt - ec / nc) / se
        naive = np.nan_to_num(stat, nan=0.0, posinf=0.0) > z
        naive_first[start : start + rows] = np.where(naive.any(axis=1), naive.argmax(axis=1) + 1, 0)
    return seq_first, naive_first


def share(first: Any, by: int) -> float:
    """Return the share of experiments rejected by call ``by``."""
    return float(((first > 0) & (first <= by)).mean())


def wilson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(method="wilson")
    return float(ci.low), float(ci.high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000, help="experiments per scenario")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n = args.experiments
    started = time.perf_counter()
    print(
        f"{n} experiments per scenario, 50/50 split, a look after every call, alpha {ALPHA}, seed {args.seed}"
    )
    print()
    print(
        f"{'scenario':<10} {'rates':>13} {'calls/arm':>9} {'rejected by 1,000/arm':>22} "
        f"{'by the horizon':>15} {'95% CI':>15} {'median calls':>13} {'naive peeking':>14}"
    )
    ok = True
    for name, p_c, p_t, per_arm in NULLS + EFFECTS:
        seq, naive = run(rng, n, p_c, p_t, per_arm)
        at_1000, at_end = share(seq, 2_000), share(seq, 2 * per_arm)
        lo, hi = wilson(int((seq > 0).sum()), n)
        found = seq[seq > 0]
        median = f"{int(np.median(found)):,}" if found.size else "-"
        print(
            f"{name:<10} {p_c:>5.0%} -> {p_t:<4.0%} {per_arm:>9,} {at_1000:>22.1%} {at_end:>15.1%} "
            f"{lo:>6.1%} - {hi:<6.1%} {median:>13} {share(naive, 2 * per_arm):>14.1%}"
        )
        if p_c == p_t:
            ok &= at_end <= ALPHA
        else:
            ok &= at_end >= 0.8
    print()
    print("rejected: share of experiments the sequential test stopped (no effect: false positives;")
    print("increase: power); median calls: total calls (both arms) when it stopped; naive peeking:")
    print("a fixed-horizon z-test at 5% asked after every call, for comparison.")
    print(f"simulated in {time.perf_counter() - started:.1f} s")
    print(
        f"goals (false positives <= {ALPHA:.0%} under no effect, power >= 80% by the horizon): "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
