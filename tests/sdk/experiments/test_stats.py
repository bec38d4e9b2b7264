"""Experiment statistics against scipy-computed and published references."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import beta, chi2_contingency, chisquare, norm

from llm_contracts.experiments.stats import (
    chance_to_beat,
    diff_in_rates,
    no_traffic,
    rate_difference_cs,
    sequential_log_e,
    sequential_test,
    srm_check,
)

# -- the difference of rates --------------------------------------------------------------------


@pytest.mark.parametrize(
    "treatment, control, low, high",
    [
        # Newcombe (1998), "Interval estimation for the difference between independent
        # proportions", Table II, method 10 (hybrid score), examples (a), (b), (c), (d), (f).
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((6, 7), (2, 7), 0.0582, 0.8062),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 10), -0.2775, 0.2775),
    ],
)
def test_the_newcombe_interval_matches_the_published_examples(treatment, control, low, high):
    (et, nt), (ec, nc) = treatment, control
    got = diff_in_rates(nc, ec, nt, et)
    assert got.diff == pytest.approx(et / nt - ec / nc)
    assert (round(got.low, 4), round(got.high, 4)) == (low, high)


def test_the_wald_interval_is_the_normal_one_scipy_gives():
    nc, ec, nt, et = 2000, 100, 2100, 147
    pc, pt = ec / nc, et / nt
    se = np.sqrt(pc * (1 - pc) / nc + pt * (1 - pt) / nt)
    low, high = norm.interval(0.9, loc=pt - pc, scale=se)
    got = diff_in_rates(nc, ec, nt, et, alpha=0.1, method="wald")
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))


@pytest.mark.parametrize("counts", [(1000, 50, 1000, 70), (5000, 250, 4800, 251), (80, 48, 70, 56)])
def test_the_p_value_is_the_uncorrected_chi_square_test_of_the_two_by_two_table(counts):
    nc, ec, nt, et = counts
    table = [[ec, nc - ec], [et, nt - et]]
    _, expected, _, _ = chi2_contingency(table, correction=False)
    assert diff_in_rates(nc, ec, nt, et).p_value == pytest.approx(expected, rel=1e-9)


def test_an_arm_without_trials_knows_nothing():
    got = diff_in_rates(0, 0, 100, 5)
    assert np.isnan(got.diff) and (got.low, got.high, got.p_value) == (-1.0, 1.0, 1.0)
    assert not got.significant


@pytest.mark.parametrize(
    "args, fragment",
    [
        ((10, 11, 10, 1), r"c_events \(11\) cannot exceed c_trials \(10\)"),
        ((10, 1, -1, 0), "t_trials must be an int >= 0"),
        ((10.0, 1, 10, 1), "c_trials must be an int >= 0"),
        ((10, True, 10, 1), "c_events must be an int >= 0"),
    ],
)
def test_bad_counts_are_refused_by_name(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        diff_in_rates(*args)


def test_a_bad_alpha_or_method_is_refused_by_name():
    with pytest.raises(ValueError, match="alpha must be a number between 0 and 1"):
        diff_in_rates(10, 1, 10, 1, alpha=5)
    with pytest.raises(ValueError, match="method must be 'newcombe' or 'wald'"):
        diff_in_rates(10, 1, 10, 1, method="exact")


def test_numpy_integers_are_counts():
    assert diff_in_rates(np.int64(100), np.int32(5), 100, 5).p_value == 1.0


# -- the sequential test ------------------------------------------------------------------------


def test_one_call_per_arm_is_never_significant():
    got = sequential_test(1, 0, 1, 1)
    assert not got.significant and got.direction is None
    assert got.low < 0 < got.high
    for counts in [(1, 1, 1, 0), (2, 0, 2, 2), (5, 0, 5, 3), (10, 10, 10, 0)]:
        assert not sequential_test(*counts).significant, counts


def _null_crossing(events: int, weight: float, alpha: float = 0.05) -> float:
    """Return the exact chance the e-value ever reaches 1/alpha within ``events`` events under no effect."""
    alive = np.array([1.0])  # P(k treatment events among m, never crossed), k = 0..m
    crossed = 0.0
    bound = np.log(1 / alpha)
    for m in range(1, events + 1):
        nxt = np.zeros(m + 1)
        nxt[:-1] += alive * (1 - weight)
        nxt[1:] += alive * weight
        k = np.arange(m + 1)
        hit = sequential_log_e(m - k, k, weight=weight) >= bound
        crossed += nxt[hit].sum()
        nxt[hit] = 0.0
        alive = nxt
    return crossed


@pytest.mark.parametrize("weight", [0.5, 0.2])
def test_looking_after_every_event_keeps_the_false_positive_rate_under_alpha_exactly(weight: float):
    # Exact, not simulated: the chance of ever rejecting over 1,500 events (about 15,000
    # calls at a 10% violation rate), whatever the base rate, since only events move it.
    assert _null_crossing(1_500, weight) <= 0.05


def test_peeking_after_every_call_keeps_false_positives_under_alpha_at_any_base_rate():
    rng = np.random.default_rng(2024)
    for rate in (0.1, 0.5):
        treated = rng.random((200, 2_000)) < 0.5
        violated = rng.random((200, 2_000)) < rate
        et, ec = np.cumsum(violated & treated, axis=1), np.cumsum(violated & ~treated, axis=1)
        false_positive = (sequential_log_e(ec, et) >= np.log(20)).any(axis=1).mean()
        # The same data, tested naively at every look, rejects far more often: the test has teeth.
        nt = np.cumsum(treated, axis=1)
        nc = np.arange(1, 2_001) - nt
        with np.errstate(divide="ignore", invalid="ignore"):
            pooled = (ec + et) / (nc + nt)
            z = np.abs(et / nt - ec / nc) / np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
        naive = (np.nan_to_num(z, nan=0.0, posinf=0.0) > norm.ppf(0.975)).any(axis=1).mean()
        assert false_positive <= 0.05, rate
        assert naive > 0.25


def test_a_clear_increase_is_significant_with_its_direction():
    got = sequential_test(20_000, 1000, 20_000, 1400)
    assert got.significant and got.direction == "increase" and got.low > 0
    assert got.relative == pytest.approx(0.4) and got.diff == pytest.approx(0.02)
    assert got.low < 0.4 < got.high
    down = sequential_test(20_000, 1400, 20_000, 1000)
    assert down.significant and down.direction == "decrease" and down.high < 0
    flat = sequential_test(20_000, 1000, 20_000, 1010)
    assert not flat.significant and flat.direction is None and flat.low < 0 < flat.high


def test_a_doubling_is_found_within_a_few_hundred_calls():
    # 10% -> 20% at its expected counts: found by 300 calls per arm.
    assert sequential_test(300, 30, 300, 60).significant


def test_the_planned_split_is_part_of_the_test():
    # A 20% treatment share with a fifth of the events is no difference at all.
    assert not sequential_test(8_000, 800, 2_000, 200, weight=0.2).significant
    assert sequential_test(8_000, 800, 2_000, 200, weight=0.5).significant


def test_the_interval_excludes_zero_exactly_when_the_test_is_significant():
    for counts in [(500, 25, 500, 45), (500, 25, 500, 26), (3000, 150, 3100, 190), (400, 40, 400, 62)]:
        got = sequential_test(*counts)
        assert got.significant == (got.low > 0 or got.high < 0), counts
        assert np.log(got.e_value) == pytest.approx(float(sequential_log_e(counts[1], counts[3])))


def test_the_difference_interval_holds_each_arm_and_is_wider_than_the_fixed_horizon_one():
    for n in (200, 2_000, 20_000):
        low, high = rate_difference_cs(n, n // 20, n, n // 20 + n // 100)
        ci = diff_in_rates(n, n // 20, n, n // 20 + n // 100)
        assert low < ci.low and high > ci.high
    assert rate_difference_cs(0, 0, 0, 0) == (-1.0, 1.0)


def test_bad_test_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="weight must be a number between 0 and 1"):
        sequential_test(10, 1, 10, 1, weight=1)
    with pytest.raises(ValueError, match="concentration must be a positive number"):
        sequential_test(10, 1, 10, 1, concentration=0)


# -- chance to beat control ---------------------------------------------------------------------


def _integrated(nc: int, ec: int, nt: int, et: int) -> float:
    """P(rate_t < rate_c) by numerical integration of the Beta posteriors with scipy."""
    post_c, post_t = beta(1 + ec, 1 + nc - ec), beta(1 + et, 1 + nt - et)
    lo, hi = min(post_c.ppf(1e-12), post_t.ppf(1e-12)), max(post_c.isf(1e-12), post_t.isf(1e-12))
    value, _ = integrate.quad(
        lambda x: post_t.pdf(x) * post_c.sf(x), lo, hi, epsabs=1e-12, epsrel=1e-10, limit=200
    )
    return float(value)


@pytest.mark.parametrize(
    "counts",
    [
        (100, 5, 100, 7),
        (1000, 50, 1000, 70),
        (1000, 70, 1000, 50),
        (5000, 250, 4000, 190),
        (30, 0, 40, 3),
        (200, 20, 20, 1),
    ],
)
def test_chance_to_beat_matches_numerical_integration(counts):
    assert chance_to_beat(*counts) == pytest.approx(_integrated(*counts), abs=1e-7)


def test_chance_to_beat_is_a_coin_flip_on_equal_data_and_complements_when_arms_swap():
    assert chance_to_beat(1000, 50, 1000, 50) == pytest.approx(0.5, abs=1e-9)
    a = chance_to_beat(1000, 50, 900, 60)
    assert a + chance_to_beat(900, 60, 1000, 50) == pytest.approx(1.0, abs=1e-9)
    assert chance_to_beat(1000, 50, 900, 60, lower_is_better=False) == pytest.approx(1 - a, abs=1e-12)


def test_chance_to_beat_handles_large_counts_without_sampling():
    got = chance_to_beat(1_000_000, 50_000, 1_000_000, 49_000)
    assert 0.999 < got <= 1.0
    assert got == chance_to_beat(1_000_000, 50_000, 1_000_000, 49_000)


# -- sample ratio mismatch and traffic ----------------------------------------------------------


@pytest.mark.parametrize(
    "counts, weights",
    [
        ([5000, 5200], [0.5, 0.5]),
        ([5000, 5400], [1, 1]),
        ([2100, 7900, 0], [0.2, 0.8, 0]),
        ([300, 350, 350], [1, 1, 1]),
    ],
)
def test_srm_is_scipys_chi_square_test_with_a_0_001_threshold(counts, weights):
    kept = [(c, w) for c, w in zip(counts, weights, strict=True) if w > 0]
    total = sum(c for c, _ in kept)
    expected = chisquare([c for c, _ in kept], [w / sum(w for _, w in kept) * total for _, w in kept])
    got = srm_check(counts, weights)
    assert got.p_value == pytest.approx(float(expected.pvalue))
    assert got.mismatch is (got.p_value < 0.001)


def test_srm_flags_a_clear_mismatch_and_passes_a_fair_split():
    assert srm_check([5000, 5400], [0.5, 0.5]).mismatch
    assert not srm_check([5000, 5100], [0.5, 0.5]).mismatch
    assert srm_check([10, 5], [1, 0]).mismatch  # traffic in an arm planned at zero
    nothing = srm_check([0, 0], [0.5, 0.5])
    assert (nothing.p_value, nothing.mismatch) == (1.0, False)


def test_srm_refuses_weights_that_do_not_fit_the_arms():
    with pytest.raises(ValueError, match=r"one weight per arm \(2\)"):
        srm_check([10, 10], [1, 1, 1])
    with pytest.raises(ValueError, match="must not all be zero"):
        srm_check([10, 10], [0, 0])
    with pytest.raises(ValueError, match="at least two arms"):
        srm_check([10], [1])


def test_no_traffic_flags_a_silent_experiment_and_a_starved_arm():
    silent = no_traffic([0, 0])
    assert silent.no_traffic and silent.flagged and silent.total == 0
    starved = no_traffic([120, 0])
    assert not starved.no_traffic and starved.starved_arms == (1,) and starved.flagged
    planned_off = no_traffic([120, 0], [1.0, 0.0])
    assert not planned_off.flagged
    thin = no_traffic([3, 2], min_trials=10)
    assert thin.no_traffic and thin.starved_arms == ()


def test_importing_the_sdk_does_not_import_scipy():
    code = (
        "import sys, llm_contracts, llm_contracts.experiments, llm_contracts.experiments.stats; "
        "print('scipy' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "False"
