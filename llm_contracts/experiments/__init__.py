"""A/B experiments on contracts: bucketing shared by the SDK and the control plane, and statistics.

Bucketing is GrowthBook's (its FNV-1a "v2" hash and bucket ranges), so an assignment is
reproducible in any GrowthBook SDK. The statistics live in :mod:`llm_contracts.experiments.stats`
and need scipy (the ``experiments`` extra), imported on first use.
"""

from ._bucketing import (
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
    in_range,
    sticky_key,
)
from ._context import current_user_id, experiment_context
from ._rules import ActiveExperiment, ExperimentRules, Exposure, Variant

__all__ = [
    "ActiveExperiment",
    "Assignment",
    "ExperimentRules",
    "Exposure",
    "LRUStickyStore",
    "StickyStore",
    "Variant",
    "assign",
    "bucket_ranges",
    "choose_variation",
    "current_user_id",
    "equal_weights",
    "experiment_context",
    "fnv1a32",
    "growthbook_hash",
    "hash_v1",
    "hash_v2",
    "in_range",
    "sticky_key",
]
