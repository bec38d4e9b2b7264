"""Experiment statistics from sufficient statistics (see :mod:`llm_contracts.experiments._stats`)."""

from ._stats import (
    DiffResult,
    NoTrafficResult,
    SequentialResult,
    SRMResult,
    chance_to_beat,
    diff_in_rates,
    no_traffic,
    rate_difference_cs,
    sequential_log_e,
    sequential_test,
    srm_check,
)

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
