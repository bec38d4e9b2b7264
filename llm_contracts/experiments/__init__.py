"""A/B experiments on contracts: bucketing shared by the SDK and the control plane, and statistics.

Bucketing is GrowthBook's (its FNV-1a "v2" hash and bucket ranges), so an assignment is
reproducible in any GrowthBook SDK. The statistics live in :mod:`llm_contracts.experiments.stats`
and need scipy (the ``experiments`` extra), imported on first use.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
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
    from ._context import (
        current_user_id,
        experiment_context,
    )
    from ._rules import (
        ActiveExperiment,
        ExperimentRules,
        Exposure,
        Variant,
    )

_LAZY = {
    "Assignment": "._bucketing",
    "LRUStickyStore": "._bucketing",
    "StickyStore": "._bucketing",
    "assign": "._bucketing",
    "bucket_ranges": "._bucketing",
    "choose_variation": "._bucketing",
    "equal_weights": "._bucketing",
    "fnv1a32": "._bucketing",
    "growthbook_hash": "._bucketing",
    "hash_v1": "._bucketing",
    "hash_v2": "._bucketing",
    "in_range": "._bucketing",
    "sticky_key": "._bucketing",
    "current_user_id": "._context",
    "experiment_context": "._context",
    "ActiveExperiment": "._rules",
    "ExperimentRules": "._rules",
    "Exposure": "._rules",
    "Variant": "._rules",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

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
