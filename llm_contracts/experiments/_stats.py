"""Experiment statistics from sufficient statistics: trials and events (violations) per arm.

Every function takes counts, never raw rows, so the control plane computes them from
its rollups. scipy supplies the distributions and is imported on first use, so importing
this module stays cheap.

- :func:`diff_in_rates`: the difference of two proportions with a Newcombe (or Wald)
  interval and a two-proportion z-test.
- :func:`sequential_test`: an asymptotic confidence sequence for the difference
  (Waudby-Smith et al., "Time-uniform central limit theory and asymptotic confidence
  sequences", 2023): valid at every sample size at once, so it may be checked as often
  as one likes without inflating false positives.
- :func:`chance_to_beat`: the Bayesian probability, under Beta(1, 1) priors, that the
  treatment's rate is better than the control's (exact, not sampled).
- :func:`srm_check`: the chi-square sample-ratio-mismatch test.
- :func:`no_traffic`: whether an experiment (or one of its arms) gets no traffic.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DiffResult",
    "NoTrafficResult",
    "SRMResult",
    "SequentialResult",
    "chance_to_beat",
    "diff_in_rates",
    "no_traffic",
    "rho_for",
    "sequential_bounds",
    "sequential_test",
    "srm_check",
]

DEFAULT_SRM_THRESHOLD = 0.001
# The total sample (both arms) at which the default confidence sequence is tightest.
DEFAULT_TARGET_N = 10_000


def _count(name: str, value: Any) -> int:
    # Any integer type (numpy's included), never a bool or a float.
    if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    return value


def _arms(c_trials: Any, c_events: Any, t_trials: Any, t_events: Any) -> tuple[int, int, int, int]:
    nc, ec = _count("c_trials", c_trials), _count("c_events", c_events)
    nt, et = _count("t_trials", t_trials), _count("t_events", t_events)
    if ec > nc:
        raise ValueError(f"c_events ({ec}) cannot exceed c_trials ({nc})")
    if et > nt:
        raise ValueError(f"t_events ({et}) cannot exceed t_trials ({nt})")
    return nc, ec, nt, et


def _alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number between 0 and 1 (exclusive); got {alpha!r}")
    return float(alpha)


@dataclass(frozen=True, slots=True)
class DiffResult:
    """The treatment's rate minus the control's, its interval, and the two-sided p-value."""

    diff: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        """Return True when the interval excludes zero."""
        return self.low > 0 or self.high < 0


def _wilson(events: int, trials: int, confidence: float) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(events, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def diff_in_rates(c_trials: int, c_events: int, t_trials: int, t_events: int, alpha: float = 0.05,
                  *, method: str = "newcombe") -> DiffResult:
    """Return the difference of the treatment's and the control's event rates with a 1 - alpha interval.

    ``method`` is ``"newcombe"`` (the hybrid score interval from two Wilson intervals,
    well behaved for rare events and small samples) or ``"wald"``. The p-value is the
    two-proportion z-test's, with the pooled rate. With no trials in an arm nothing is
    known: the difference is nan, the interval (-1, 1) and the p-value 1.
    """
    nc, ec, nt, et = _arms(c_trials, c_events, t_trials, t_events)
    alpha = _alpha(alpha)
    if method not in ("newcombe", "wald"):
        raise ValueError(f"method must be 'newcombe' or 'wald'; got {method!r}")
    if nc == 0 or nt == 0:
        return DiffResult(math.nan, -1.0, 1.0, 1.0)
    from scipy.stats import norm

    pc, pt = ec / nc, et / nt
    diff = pt - pc
    z = float(norm.ppf(1 - alpha / 2))
    if method == "wald":
        se = math.sqrt(pc * (1 - pc) / nc + pt * (1 - pt) / nt)
        low, high = diff - z * se, diff + z * se
    else:
        lc, uc = _wilson(ec, nc, 1 - alpha)
        lt, ut = _wilson(et, nt, 1 - alpha)
        low = diff - math.sqrt((pt - lt) ** 2 + (uc - pc) ** 2)
        high = diff + math.sqrt((ut - pt) ** 2 + (pc - lc) ** 2)
    pooled = (ec + et) / (nc + nt)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
    # Without variance (no events, or nothing but events) only an exact tie is unsurprising.
    p_value = float(2 * norm.sf(abs(diff) / se0)) if se0 > 0 else (1.0 if diff == 0 else 0.0)
    return DiffResult(diff, max(low, -1.0), min(high, 1.0), min(p_value, 1.0))


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """A confidence sequence's interval for the difference (treatment - control) at this sample.

    ``significant`` is True when the interval excludes zero; ``direction`` is then
    ``"increase"`` (the treatment's rate is higher) or ``"decrease"``, else None.
    """

    low: float
    high: float
    significant: bool
    direction: str | None
    diff: float = math.nan


def rho_for(target_n: int, alpha: float = 0.05) -> float:
    """Return the mixture parameter that makes the confidence sequence tightest at ``target_n`` samples."""
    alpha = _alpha(alpha)
    if isinstance(target_n, bool) or not isinstance(target_n, int) or target_n < 1:
        raise ValueError(f"target_n must be a positive int; got {target_n!r}")
    a = -2 * math.log(alpha)
    return math.sqrt((a + math.log(a + 1)) / target_n)


def sequential_test(c_trials: int, c_events: int, t_trials: int, t_events: int, alpha: float = 0.05,
                    *, rho: float | None = None) -> SequentialResult:
    """Return the asymptotic confidence sequence for the difference of rates at the current counts.

    The interval is ``diff ± sigma * sqrt((n rho² + 1) / (n² rho²) * log((n rho² + 1) / alpha²))``
    with ``n`` the total sample and ``sigma²`` the per-unit variance of the difference
    estimator; it covers the true difference at every ``n`` simultaneously with
    probability about 1 - alpha, so it may be checked after every batch. ``rho`` tunes
    where the sequence is tightest (default: :func:`rho_for` ``(10_000, alpha)``).
    """
    nc, ec, nt, et = _arms(c_trials, c_events, t_trials, t_events)
    alpha = _alpha(alpha)
    rho = _rho(rho, alpha)
    if nc == 0 or nt == 0:
        return SequentialResult(-1.0, 1.0, False, None)
    diff, low, high = sequential_bounds(nc, ec, nt, et, alpha, rho=rho)
    significant = low > 0 or high < 0
    direction = ("increase" if low > 0 else "decrease") if significant else None
    return SequentialResult(float(low), float(high), bool(significant), direction, float(diff))


def _rho(rho: Any, alpha: float) -> float:
    if rho is None:
        return rho_for(DEFAULT_TARGET_N, alpha)
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not rho > 0 or not math.isfinite(rho):
        raise ValueError(f"rho must be a positive number; got {rho!r}")
    return float(rho)


def sequential_bounds(c_trials: Any, c_events: Any, t_trials: Any, t_events: Any, alpha: float = 0.05,
                      *, rho: float | None = None) -> tuple[Any, Any, Any]:
    """Return ``(diff, low, high)`` of :func:`sequential_test` for numbers or numpy arrays of counts.

    Counts are not checked (an arm without trials gives nan): this is the vectorised
    core for simulations and bulk evaluation.
    """
    import numpy as np

    alpha = _alpha(alpha)
    rho = _rho(rho, alpha)
    nc, ec = np.asarray(c_trials, dtype=float), np.asarray(c_events, dtype=float)
    nt, et = np.asarray(t_trials, dtype=float), np.asarray(t_events, dtype=float)
    n = nc + nt
    with np.errstate(divide="ignore", invalid="ignore"):  # an arm without trials gives nan, not a warning
        pc, pt = ec / nc, et / nt
        diff = pt - pc
        # Per-unit variance of the difference of means: n times its variance at this sample.
        sigma2 = n * (pc * (1 - pc) / nc + pt * (1 - pt) / nt)
        r2 = rho * rho
        half = np.sqrt(sigma2 * (n * r2 + 1) / (n * n * r2) * np.log((n * r2 + 1) / (alpha * alpha)))
        return diff, np.maximum(diff - half, -1.0), np.minimum(diff + half, 1.0)


def _prob_greater(a1: float, b1: float, a2: float, b2: float) -> float:
    """Return P(X1 > X2) for X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2), a1 an integer (closed form)."""
    import numpy as np
    from scipy.special import betaln, logsumexp

    i = np.arange(int(a1), dtype=float)
    terms = betaln(a2 + i, b1 + b2) - np.log(b1 + i) - betaln(1 + i, b1) - betaln(a2, b2)
    return float(min(max(np.exp(logsumexp(terms)), 0.0), 1.0))


def chance_to_beat(c_trials: int, c_events: int, t_trials: int, t_events: int,
                   *, lower_is_better: bool = True) -> float:
    """Return the posterior probability that the treatment's rate beats the control's (Beta(1, 1) priors).

    For violation rates lower is better: the result is P(rate_t < rate_c). It is exact
    (a finite sum over the smaller arm's events), not a Monte Carlo estimate.
    """
    nc, ec, nt, et = _arms(c_trials, c_events, t_trials, t_events)
    # Posteriors Beta(1 + events, 1 + non-events).
    at, bt = 1 + et, 1 + nt - et
    ac, bc = 1 + ec, 1 + nc - ec
    # P(t > c) sums over at terms and P(c > t) over ac terms: take the shorter sum.
    t_higher = _prob_greater(at, bt, ac, bc) if at <= ac else 1.0 - _prob_greater(ac, bc, at, bt)
    return 1.0 - t_higher if lower_is_better else t_higher


@dataclass(frozen=True, slots=True)
class SRMResult:
    """The sample-ratio-mismatch test: its chi-square p-value and whether it flags a mismatch."""

    p_value: float
    mismatch: bool
    statistic: float = 0.0


def _weights(expected_weights: Sequence[Any], k: int) -> list[float]:
    if isinstance(expected_weights, (str, bytes)) or len(expected_weights) != k:
        raise ValueError(f"expected_weights must have one weight per arm ({k}); got {expected_weights!r}")
    out = []
    for i, w in enumerate(expected_weights):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"expected_weights[{i}] must be a number >= 0; got {w!r}")
        out.append(float(w))
    if sum(out) <= 0:
        raise ValueError(f"expected_weights must not all be zero; got {expected_weights!r}")
    return out


def srm_check(observed_counts: Sequence[int], expected_weights: Sequence[float],
              *, threshold: float = DEFAULT_SRM_THRESHOLD) -> SRMResult:
    """Test the observed units per arm against the planned split; a mismatch is p < ``threshold`` (0.001).

    Weights need not sum to 1. An arm planned at weight 0 that received traffic is a
    mismatch outright; with no traffic at all there is nothing to test (p = 1).
    """
    counts = [_count(f"observed_counts[{i}]", c) for i, c in enumerate(observed_counts)]
    if len(counts) < 2:
        raise ValueError(f"observed_counts needs at least two arms; got {list(observed_counts)!r}")
    weights = _weights(expected_weights, len(counts))
    total = sum(counts)
    if total == 0:
        return SRMResult(1.0, False)
    if any(c > 0 and w == 0 for c, w in zip(counts, weights, strict=True)):
        return SRMResult(0.0, True, math.inf)
    kept = [(c, w) for c, w in zip(counts, weights, strict=True) if w > 0]
    if len(kept) < 2:
        return SRMResult(1.0, False)
    from scipy.stats import chisquare

    scale = total / sum(w for _, w in kept)
    statistic, p_value = chisquare([c for c, _ in kept], [w * scale for _, w in kept])
    p = float(p_value)
    return SRMResult(p, p < threshold, float(statistic))


@dataclass(frozen=True, slots=True)
class NoTrafficResult:
    """Whether an experiment got too little traffic, and which planned arms got none."""

    no_traffic: bool
    starved_arms: tuple[int, ...]
    total: int

    @property
    def flagged(self) -> bool:
        """Return True when the experiment or any planned arm is without traffic."""
        return self.no_traffic or bool(self.starved_arms)


def no_traffic(trials_per_arm: Sequence[int], expected_weights: Sequence[float] | None = None,
               *, min_trials: int = 1) -> NoTrafficResult:
    """Check the trials of a window: fewer than ``min_trials`` in all is no traffic.

    Once some traffic arrived, an arm planned with a positive weight (every arm when no
    weights are given) that got none is listed in ``starved_arms``.
    """
    counts = [_count(f"trials_per_arm[{i}]", c) for i, c in enumerate(trials_per_arm)]
    if not counts:
        raise ValueError("trials_per_arm needs at least one arm")
    if isinstance(min_trials, bool) or not isinstance(min_trials, int) or min_trials < 1:
        raise ValueError(f"min_trials must be a positive int; got {min_trials!r}")
    weights = _weights(expected_weights, len(counts)) if expected_weights is not None else [1.0] * len(counts)
    total = sum(counts)
    starved = tuple(i for i, (c, w) in enumerate(zip(counts, weights, strict=True)) if w > 0 and c == 0)
    return NoTrafficResult(total < min_trials, starved if total else (), total)
