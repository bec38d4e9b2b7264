"""Bucketing: GrowthBook's published vectors, the "coverage only adds" property, sticky assignment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_contracts import ContractConfigError
from llm_contracts.experiments import (
    Assignment,
    LRUStickyStore,
    StickyStore,
    assign,
    bucket_ranges,
    choose_variation,
    equal_weights,
    fnv1a32,
    growthbook_hash,
    hash_v1,
    hash_v2,
    sticky_key,
)

CASES = json.loads((Path(__file__).parent / "growthbook_cases.json").read_text())


def _name(case: list[Any]) -> str:
    return str(case[0])


@pytest.mark.parametrize("seed, value, version, expected", CASES["hash"], ids=lambda v: repr(v))
def test_the_hash_matches_growthbooks_vectors(seed, value, version, expected):
    assert growthbook_hash(seed, value, version) == expected


def test_hash_v1_and_v2_are_the_versioned_hashes():
    assert hash_v2("seed", "a") == 0.0505
    assert hash_v1("b", "a") == 0.946


@pytest.mark.parametrize("case", CASES["getBucketRange"], ids=_name)
def test_bucket_ranges_match_growthbooks_vectors(case):
    _, (num, coverage, weights), expected = case
    ranges = bucket_ranges(num, coverage, weights)
    assert [list(r) for r in ranges] == [pytest.approx(r, abs=1e-9) for r in expected]


@pytest.mark.parametrize("case", CASES["chooseVariation"], ids=_name)
def test_choose_variation_matches_growthbooks_vectors(case):
    _, n, ranges, expected = case
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize("num, expected", CASES["getEqualWeights"])
def test_equal_weights_match_growthbooks_vectors(num, expected):
    assert equal_weights(num) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("case", CASES["assignments"], ids=lambda c: c["case"])
def test_whole_assignments_land_where_growthbook_puts_them(case):
    weights = case["weights"] or equal_weights(3)
    if case["hashVersion"] == 2:
        got = assign("any-key", case["user"], coverage=case["coverage"], weights=weights, seed=case["seed"])
        assert (got.hash_value, got.variation, got.in_experiment) == (case["bucket"], case["variation"], True)
    else:
        n = hash_v1(case["seed"], case["user"])
        assert n == case["bucket"]
        assert choose_variation(n, bucket_ranges(3, case["coverage"], weights)) == case["variation"]


def _js_fnv1a32(text: str) -> int:
    """GrowthBook's JavaScript hashFnv32a, step for step: shifts and adds on 32-bit integers."""

    def int32(x: int) -> int:
        x &= 0xFFFFFFFF
        return x - (1 << 32) if x >= 1 << 31 else x

    h = 0x811C9DC5
    units = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(units), 2):
        h = int32(h) ^ (units[i] | units[i + 1] << 8)
        h = h + int32(h << 1) + int32(h << 4) + int32(h << 7) + int32(h << 8) + int32(h << 24)
    return h & 0xFFFFFFFF


@pytest.mark.parametrize("text", ["", "user-42", "zoë", "ユーザー", "u-\U0001f600-1", "a" * 200])
def test_fnv1a_hashes_what_javascripts_charcodeat_sees(text):
    assert fnv1a32(text) == _js_fnv1a32(text)


def test_the_seed_defaults_to_the_experiment_key():
    a = assign("exp-1", "u-7", coverage=1, weights=[0.5, 0.5])
    b = assign("other", "u-7", coverage=1, weights=[0.5, 0.5], seed="exp-1")
    assert a.hash_value == b.hash_value == hash_v2("exp-1", "u-7")


def test_the_split_follows_the_weights_and_the_coverage():
    users = [f"user-{i}" for i in range(20_000)]
    got = [assign("split", u, coverage=0.4, weights=[0.25, 0.75]).variation for u in users]
    share = {v: got.count(v) / len(users) for v in (-1, 0, 1)}
    assert share[-1] == pytest.approx(0.6, abs=0.015)
    assert share[0] == pytest.approx(0.1, abs=0.01)
    assert share[1] == pytest.approx(0.3, abs=0.015)


weights_strategy = st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=2, max_size=5).map(
    lambda ws: [w / sum(ws) for w in ws]
)


@settings(max_examples=300, deadline=None)
@given(
    user=st.text(min_size=1, max_size=30),
    key=st.text(min_size=1, max_size=20),
    weights=weights_strategy,
    c1=st.floats(min_value=0, max_value=1),
    c2=st.floats(min_value=0, max_value=1),
)
def test_growing_coverage_never_moves_a_user_already_in_the_experiment(user, key, weights, c1, c2):
    low, high = sorted((c1, c2))
    before = assign(key, user, coverage=low, weights=weights)
    after = assign(key, user, coverage=high, weights=weights)
    assert before.hash_value == after.hash_value
    if before.in_experiment:
        assert after.in_experiment and after.variation == before.variation


@settings(max_examples=200, deadline=None)
@given(weights=weights_strategy, coverage=st.floats(min_value=0, max_value=1), n=st.floats(0, 0.9999))
def test_ranges_are_disjoint_and_a_point_lands_in_at_most_one(weights, coverage, n):
    ranges = bucket_ranges(len(weights), coverage, weights)
    for (s1, e1), (s2, _) in zip(ranges, ranges[1:], strict=False):
        assert s1 <= e1 <= s2 + 1e-12
    assert sum(s <= n < e for s, e in ranges) <= 1
    index = choose_variation(n, ranges)
    assert index == -1 or ranges[index][0] <= n < ranges[index][1]


def test_a_weight_change_moves_users_unless_their_assignment_is_sticky():
    store: StickyStore = LRUStickyStore()
    users = [f"u{i}" for i in range(2000)]
    for u in users:
        first = assign("sticky-exp", u, coverage=1, weights=[0.5, 0.5])
        store.set(sticky_key("sticky-exp", u), first.to_sticky())
    moved = plain = 0
    for u in users:
        before = store.get(sticky_key("sticky-exp", u))
        assert before is not None
        plain += assign("sticky-exp", u, coverage=1, weights=[0.2, 0.8]).variation != before["variation"]
        kept = assign("sticky-exp", u, coverage=1, weights=[0.2, 0.8], sticky=before)
        moved += kept.variation != before["variation"]
        assert kept.sticky_used
    assert plain > 400  # about 30% of users change arms when 50/50 becomes 20/80
    assert moved == 0


def test_a_new_bucket_version_ignores_old_sticky_assignments():
    old = Assignment(1, True, 0.1, bucket_version=0).to_sticky()
    fresh = assign("exp", "u-1", coverage=1, weights=[0.5, 0.5], sticky=old, bucket_version=1)
    assert not fresh.sticky_used and fresh.bucket_version == 1
    assert fresh.variation == choose_variation(hash_v2("exp", "u-1"), [(0, 0.5), (0.5, 1)])


def test_a_sticky_assignment_to_a_variation_that_no_longer_exists_is_ignored():
    got = assign("exp", "u-1", coverage=1, weights=[1.0], sticky={"variation": 3, "bucket_version": 0})
    assert not got.sticky_used and got.variation == 0


def test_the_lru_store_forgets_the_least_recently_used_first():
    store = LRUStickyStore(maxsize=2)
    store.set("a", {"variation": 0})
    store.set("b", {"variation": 1})
    assert store.get("a") == {"variation": 0}  # a is now the most recently used
    store.set("c", {"variation": 1})
    assert (store.get("a"), store.get("b"), store.get("c")) == ({"variation": 0}, None, {"variation": 1})
    assert len(store) == 2 and isinstance(store, StickyStore)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"coverage": "all", "weights": [0.5, 0.5]}, "coverage must be a number"),
        ({"coverage": 1, "weights": []}, "weights must be a non-empty list"),
        ({"coverage": 1, "weights": [0.5, -0.5]}, r"weights\[1\] must be a number >= 0"),
        ({"coverage": 1, "weights": [0.5, float("nan")]}, r"weights\[1\]"),
        ({"coverage": 1, "weights": [1.0], "seed": 5}, "seed must be a str"),
    ],
)
def test_bad_allocations_are_refused_by_name(kwargs, fragment):
    with pytest.raises(ContractConfigError, match=fragment):
        assign("exp", "u-1", **kwargs)


def test_a_bad_user_id_or_key_is_refused_by_name():
    with pytest.raises(ContractConfigError, match="user_id must be a str"):
        assign("exp", 42, coverage=1, weights=[1.0])  # type: ignore[arg-type]
    with pytest.raises(ContractConfigError, match="experiment_key must be a non-empty str"):
        assign("", "u", coverage=1, weights=[1.0])
    with pytest.raises(ContractConfigError, match="maxsize must be a positive int"):
        LRUStickyStore(0)


@pytest.mark.parametrize("package", ["llm_contracts.experiments", "llm_contracts.experiments.stats"])
def test_the_experiments_packages_export_what_they_list(package):
    import importlib

    module = importlib.import_module(package)
    assert list(module.__all__) == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name
