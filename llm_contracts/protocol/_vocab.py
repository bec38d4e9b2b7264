"""The protocol's vocabularies, bounds and text cleaning: cheap to import, needed by the core."""

from __future__ import annotations

import enum
import re

__all__ = [
    "COUNTER_MAX",
    "EXCERPT_MAX",
    "INT32_MAX",
    "LATENCY_MAX_MS",
    "MAX_BATCH",
    "MAX_TRACE_STEPS",
    "MESSAGE_MAX",
    "TOKENS_MAX",
    "Category",
    "Enforcement",
    "Outcome",
    "Severity",
    "Stage",
    "clean_text",
]

# -- the vocabularies ---------------------------------------------------------------------------


class Severity(enum.StrEnum):
    """How bad a violation is; ordered INFO < WARNING < ERROR < CRITICAL."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}


class Category(enum.StrEnum):
    """What a contract is about; input contracts run before the call, the rest after."""

    INPUT = "input"
    OUTPUT = "output"
    TEMPORAL = "temporal"
    SEMANTIC = "semantic"
    PERFORMANCE = "performance"
    SECURITY = "security"


class Enforcement(enum.StrEnum):
    """What a violation does: STRICT raises, WARN logs and counts, MONITOR only counts."""

    STRICT = "strict"
    WARN = "warn"
    MONITOR = "monitor"


class Outcome(enum.StrEnum):
    """How a call ended: every value ``ContractReport.outcome`` (and so an event) can take."""

    PASSED = "passed"
    REPAIRED = "repaired"
    WARNED = "warned"
    VIOLATED = "violated"
    SKIPPED = "skipped"
    FALLBACK = "fallback"


class Stage(enum.StrEnum):
    """The stages of a call, as the steps of its trace record them, in the order they happen."""

    REQUEST = "request"
    INPUT_CONTRACT = "input_contract"
    MODEL_CALL = "model_call"
    OUTPUT_CONTRACT = "output_contract"
    REASK = "reask"
    OUTCOME = "outcome"


# -- bounds and field types -----------------------------------------------------------------------

MAX_BATCH = 1000  # events per POST /events
MAX_TRACE_STEPS = 1000
MESSAGE_MAX = 2000
EXCERPT_MAX = 2000
# Each number fits its column exactly, so nothing is truncated on the way in, and a
# rollup's sums over many items cannot overflow.
INT32_MAX = 2**31 - 1
TOKENS_MAX = 10**12
LATENCY_MAX_MS = 7 * 24 * 3600 * 1000.0
COUNTER_MAX = 2**63 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Return ``value`` without NUL characters, with lone surrogates replaced by U+FFFD.

    Postgres text cannot hold NUL and UTF-8 cannot encode a lone surrogate.
    """
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
    return value
