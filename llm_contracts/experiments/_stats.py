"""Experiment statistics from sufficient statistics: trials and events (violations) per arm.

Every function takes counts, never raw rows, so the control plane computes them from
its rollups. scipy supplies the distributions and is imported on first use, so importing
this module stays cheap.

- :func:`diff_in_rates`: the difference of two proportions with a Newcombe (or Wald)
  interval and a two-proportion z-test.
- :func:`sequential_test`: an always-valid test of equal rates, exact at every sample size
  (a mixture likelihood-ratio martingale on which arm each event falls in, with Ville's
  inequality), and the confidence sequence of the relative change it implies, so it may
  be checked after every call without inflating false positives.
- :func:`rate_difference_cs`: an always-valid interval for the difference of two rates
  (one beta-mixture confidence sequence per arm).
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
    "rate_difference_cs",
    "sequential_log_e",
    "sequential_test",
    "srm_check",
]

DEFAULT_SRM_THRESHOLD = 0.001


def _count(name: str, value: Any) -> int:
    # Any integer type (numpy's included), never a bool or a float.
    if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    count = operator.index(value)
    if count < 0:
        raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    return count


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


def diff_in_rates(
    c_trials: int,
    c_events: int,
    t_trials: int,
    t_events: int,
    alpha: float = 0.05,
    *,
    method: str = "newcombe",
) -> DiffResult:
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
    """The always-valid test of the treatment's event rate against the control's at this sample.

    ``low`` and ``high`` bound the relative change of the rate (treatment / control - 1,
    so +0.4 is 40% more events); ``diff`` is the observed difference of the rates and
    ``relative`` the observed relative change. ``significant`` is True when the interval
    excludes 0 (the e-value reached 1 / alpha); ``direction`` is then ``"increase"`` or
    ``"decrease"``, else None.
    """

    low: float
    high: float
    significant: bool
    direction: str | None
    diff: float = math.nan
    relative: float = math.nan
    e_value: float = 1.0


# The prior on the treatment's share of the events has the weight of this many events:
# small enough to find a doubling within a few hundred calls, large enough not to waste
# alpha on the first few events (bench/experiments_sim.py compares 2 to 50).
DEFAULT_CONCENTRATION = 10.0


def _share(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number between 0 and 1 (exclusive); got {value!r}")
    return float(value)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    return float(value)


def sequential_log_e(
    c_events: Any,
    t_events: Any,
    *,
    weight: float = 0.5,
    concentration: float = DEFAULT_CONCENTRATION,
    share: Any = None,
) -> Any:
    """Return the log e-value against "the arms' event rates are equal" for numbers or numpy arrays.

    Every call lands in the treatment with probability ``weight`` whatever its outcome, so
    when both arms have the same event rate each event (violation) is the treatment's
    with probability ``weight``, independently of the others and of the rate itself,
    even a rate that drifts over time. The e-value is the likelihood ratio of a
    Beta(concentration * weight, concentration * (1 - weight)) mixture over that share
    against ``share`` (default: ``weight``, the null); it is a nonnegative martingale
    under the null, so by Ville's inequality it ever reaches 1 / alpha with probability
    at most alpha: looking after every call costs nothing, at any sample size.
    """
    import numpy as np
    from scipy.special import betaln

    theta = weight if share is None else share
    a, b = concentration * weight, concentration * (1 - weight)
    k = np.asarray(t_events, dtype=float)
    m = k + np.asarray(c_events, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 0 * log(0) is 0 here: a share of 0 or 1 explains no event of the other arm.
        log_null = np.where(k > 0, k * np.log(theta), 0.0)
        log_null = log_null + np.where(m - k > 0, (m - k) * np.log1p(-theta), 0.0)
    return betaln(a + k, b + m - k) - betaln(a, b) - log_null


def _share_interval(
    c_events: int, t_events: int, alpha: float, weight: float, concentration: float
) -> tuple[float, float]:
    """Return the treatment's shares of the events that the e-value has not rejected at level alpha."""
    from scipy.optimize import brentq

    bound = math.log(1 / alpha)

    def excess(theta: float) -> float:
        return (
            float(
                sequential_log_e(c_events, t_events, weight=weight, concentration=concentration, share=theta)
            )
            - bound
        )

    m = c_events + t_events
    best = t_events / m if m else weight
    # The mixture never beats the best single share, so ``best`` is always inside.
    eps = 1e-12
    best = min(max(best, eps), 1 - eps)
    low = 0.0 if excess(eps) < 0 else brentq(excess, eps, best, xtol=1e-10)
    high = 1.0 if excess(1 - eps) < 0 else brentq(excess, best, 1 - eps, xtol=1e-10)
    return low, high


def _relative_of_share(theta: float, weight: float) -> float:
    # share = w p_t / (w p_t + (1 - w) p_c), so p_t / p_c = share (1 - w) / ((1 - share) w).
    if theta >= 1:
        return math.inf
    return theta * (1 - weight) / ((1 - theta) * weight) - 1


def sequential_test(
    c_trials: int,
    c_events: int,
    t_trials: int,
    t_events: int,
    alpha: float = 0.05,
    *,
    weight: float = 0.5,
    concentration: float = DEFAULT_CONCENTRATION,
) -> SequentialResult:
    """Return the always-valid (anytime) test of the arms' event rates at the current counts.

    ``weight`` is the treatment's planned share of the calls. Significance is the
    e-value of :func:`sequential_log_e` reaching 1 / alpha; the interval of the relative
    change is every ratio of rates that e-value's family has not rejected, a confidence
    sequence: it holds at every sample size at once with probability at least
    1 - alpha, so it may be checked after every call. The test needs the planned split
    to hold: check :func:`srm_check` beside it.
    """
    nc, ec, nt, et = _arms(c_trials, c_events, t_trials, t_events)
    alpha = _alpha(alpha)
    weight = _share(weight, "weight")
    concentration = _positive(concentration, "concentration")
    diff = (et / nt - ec / nc) if nc and nt else math.nan
    relative = math.nan
    if nc and nt and (ec or et):
        relative = (et / nt) / (ec / nc) - 1 if ec else math.inf
    log_e = float(sequential_log_e(ec, et, weight=weight, concentration=concentration))
    low_share, high_share = _share_interval(ec, et, alpha, weight, concentration)
    low, high = _relative_of_share(low_share, weight), _relative_of_share(high_share, weight)
    significant = log_e >= math.log(1 / alpha)
    direction = None
    if significant:
        direction = "increase" if et * (1 - weight) > ec * weight else "decrease"
    return SequentialResult(low, high, significant, direction, diff, relative, math.exp(min(log_e, 700.0)))


def _arm_interval(trials: int, events: int, alpha: float) -> tuple[float, float]:
    """Return a confidence sequence for one arm's event rate (a Beta(1/2, 1/2) mixture)."""
    from scipy.optimize import brentq
    from scipy.special import betaln

    if trials == 0:
        return 0.0, 1.0
    bound = math.log(1 / alpha)
    mix = float(betaln(0.5 + events, 0.5 + trials - events) - betaln(0.5, 0.5))

    def excess(p: float) -> float:
        return mix - (events * math.log(p) + (trials - events) * math.log1p(-p)) - bound

    eps = 1e-12
    best = min(max(events / trials, eps), 1 - eps)
    low = 0.0 if events == 0 or excess(eps) < 0 else brentq(excess, eps, best, xtol=1e-12)
    high = 1.0 if events == trials or excess(1 - eps) < 0 else brentq(excess, best, 1 - eps, xtol=1e-12)
    return low, high


def rate_difference_cs(
    c_trials: int, c_events: int, t_trials: int, t_events: int, alpha: float = 0.05
) -> tuple[float, float]:
    """Return an always-valid interval for the difference of the rates (treatment - control).

    Each arm gets a confidence sequence at alpha / 2 (Robbins' beta mixture), so both
    hold at every sample size at once with probability at least 1 - alpha, and so does
    the difference of their ends. It needs no planned split, at the price of width.
    """
    nc, ec, nt, et = _arms(c_trials, c_events, t_trials, t_events)
    alpha = _alpha(alpha)
    lc, uc = _arm_interval(nc, ec, alpha / 2)
    lt, ut = _arm_interval(nt, et, alpha / 2)
    return lt - uc, ut - lc


def _prob_greater(a1: float, b1: float, a2: float, b2: float) -> float:
    """Return P(X1 > X2) for X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2), a1 an integer (closed form)."""
    import numpy as np
    from scipy.special import betaln, logsumexp

    i = np.arange(int(a1), dtype=float)
    terms = betaln(a2 + i, b1 + b2) - np.log(b1 + i) - betaln(1 + i, b1) - betaln(a2, b2)
    return float(min(max(np.exp(logsumexp(terms)), 0.0), 1.0))


def chance_to_beat(
    c_trials: int, c_events: int, t_trials: int, t_events: int, *, lower_is_better: bool = True
) -> float:
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


def srm_check(
    observed_counts: Sequence[int],
    expected_weights: Sequence[float],
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> SRMResult:
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


def no_traffic(
    trials_per_arm: Sequence[int], expected_weights: Sequence[float] | None = None, *, min_trials: int = 1
) -> NoTrafficResult:
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
