"""Simulate A/B experiments on a violation rate and check the sequential test at every step.

Usage: ``.venv/bin/python bench/experiments_sim.py [--experiments 1000] [--seed 7] [--strict]``.

1,000 experiments with no effect (5% violations in both arms) and 1,000 with a 2-point
increase (5% -> 7% in the treatment) grow by ``--step`` calls at a time, split 50/50 at
random, up to ``--max-n`` calls. After every step each experiment is checked, as the
rollout job checks a running experiment every few minutes:

- the sequential test (``llm_contracts.experiments.stats.sequential_bounds``, the
  confidence sequence the job uses) stops the experiment when its interval excludes 0;
- a naive two-proportion z-test, repeated at every step as if each look were the only
  one, shows how much peeking inflates false positives.

Goals: the sequential test's false-positive rate over all the looks is at most the
nominal 5%; the median number of calls to detect the 2-point increase is printed, with
the fixed-horizon sample size for 80% power for comparison. Everything is vectorised
with numpy; a run takes a few seconds.
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
from scipy.stats import norm  # noqa: E402

from llm_contracts.experiments.stats import rho_for, sequential_bounds  # noqa: E402

ALPHA = 0.05
BASE_RATE = 0.05
EFFECT = 0.02


def simulate(rng: np.random.Generator, n_exp: int, steps: int, step: int, p_c: float,
             p_t: float) -> tuple[Any, Any, Any, Any]:
    """Return cumulative (control trials, control events, treatment trials, treatment events) per look."""
    t_new = rng.binomial(step, 0.5, size=(n_exp, steps))
    c_new = step - t_new
    c_events = rng.binomial(c_new, p_c)
    t_events = rng.binomial(t_new, p_t)
    return (np.cumsum(c_new, axis=1), np.cumsum(c_events, axis=1),
            np.cumsum(t_new, axis=1), np.cumsum(t_events, axis=1))


def naive_rejects(nc: Any, ec: Any, nt: Any, et: Any) -> Any:
    """Return, per look, whether a fixed-horizon pooled z-test at ALPHA rejects."""
    pooled = (ec + et) / (nc + nt)
    se = np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (et / nt - ec / nc) / se, 0.0)
    return 2 * norm.sf(np.abs(z)) < ALPHA


def first_look(mask: Any) -> Any:
    """Return the index of the first True look per experiment, -1 when there is none."""
    hit = mask.any(axis=1)
    return np.where(hit, mask.argmax(axis=1), -1)


def fixed_horizon_n(p_c: float, p_t: float, power: float = 0.8) -> int:
    """Return the total calls a single fixed-horizon z-test needs for ``power`` at ALPHA (50/50)."""
    z_a, z_b = norm.ppf(1 - ALPHA / 2), norm.ppf(power)
    per_arm = (z_a + z_b) ** 2 * (p_c * (1 - p_c) + p_t * (1 - p_t)) / (p_t - p_c) ** 2
    return 2 * math.ceil(per_arm)


def proportion_ci(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(method="wilson")
    return ci.low, ci.high


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000, help="experiments per scenario")
    parser.add_argument("--step", type=int, default=100, help="calls added between two looks")
    parser.add_argument("--max-n", type=int, default=60_000, help="calls at which an experiment ends")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the false-positive goal fails")
    args = parser.parse_args(argv)
    steps = args.max_n // args.step
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    looks = np.arange(1, steps + 1) * args.step

    print(f"{args.experiments} null + {args.experiments} effect experiments, {steps} looks each "
          f"(every {args.step} calls up to {args.max_n:,}), 50/50 split, alpha {ALPHA}, "
          f"rho {rho_for(10_000, ALPHA):.4f} (tightest at 10,000 calls), seed {args.seed}")

    # -- no effect: every rejection is a false positive --------------------------------------
    nc, ec, nt, et = simulate(rng, args.experiments, steps, args.step, BASE_RATE, BASE_RATE)
    _, low, high = sequential_bounds(nc, ec, nt, et, ALPHA)
    seq_fp = first_look((low > 0) | (high < 0)) >= 0
    naive = naive_rejects(nc, ec, nt, et)
    naive_fp = first_look(naive) >= 0
    end_fp = naive[:, -1]

    # -- a 2-point increase: how soon is it found ---------------------------------------------
    nc, ec, nt, et = simulate(rng, args.experiments, steps, args.step, BASE_RATE, BASE_RATE + EFFECT)
    _, low, high = sequential_bounds(nc, ec, nt, et, ALPHA)
    found = first_look(low > 0)
    wrong_way = first_look(high < 0)
    detected = found >= 0
    samples = looks[found[detected]]
    elapsed = time.perf_counter() - started

    n = args.experiments
    fpr = seq_fp.mean()
    lo, hi = proportion_ci(int(seq_fp.sum()), n)
    print()
    print("false positives under no effect (any look rejects)")
    print(f"  sequential test (confidence sequence)   {fpr:6.1%}   (95% CI {lo:.1%} to {hi:.1%})   "
          f"goal <= {ALPHA:.0%}")
    print(f"  naive z-test repeated at every look      {naive_fp.mean():6.1%}   <- the inflation of peeking")
    print(f"  naive z-test once, at {args.max_n:,} calls        {end_fp.mean():6.1%}   (one look: nominal)")
    print()
    print(f"detecting a {EFFECT * 100:.0f}-point increase ({BASE_RATE:.0%} -> {BASE_RATE + EFFECT:.0%})")
    print(f"  detected by {args.max_n:,} calls               {detected.mean():6.1%}")
    if detected.any():
        print(f"  median calls to detect                   {int(np.median(samples)):,}   "
              f"(quartiles {int(np.percentile(samples, 25)):,} to {int(np.percentile(samples, 75)):,})")
    print(f"  fixed-horizon test, 80% power, one look  {fixed_horizon_n(BASE_RATE, BASE_RATE + EFFECT):,}"
          f" calls")
    print(f"  called a decrease (wrong direction)      {(wrong_way >= 0).mean():6.1%}")
    print()
    print(f"simulated in {elapsed:.1f} s")
    ok = fpr <= ALPHA
    print(f"goal: sequential false-positive rate <= {ALPHA:.0%}: {'met' if ok else 'MISSED'}")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
