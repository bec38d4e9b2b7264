"""Deterministic assignment of users to experiment variations, as GrowthBook's SDKs do it.

The hash is GrowthBook's FNV-1a based one, so an assignment made here is the one any
GrowthBook SDK makes for the same seed, user and allocation: ``hash_v2(seed, user)``
places the user at a point of [0, 1), and each variation owns the range that starts at
the cumulative weight of the variations before it and is ``coverage * weight`` long.
Growing coverage only lengthens the ranges from their fixed starts, so a user already
in the experiment keeps their variation when coverage moves up.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .._exceptions import ContractConfigError

__all__ = [
    "Assignment",
    "LRUStickyStore",
    "StickyStore",
    "assign",
    "bucket_ranges",
    "choose_variation",
    "equal_weights",
    "fnv1a32",
    "growthbook_hash",
    "hash_v1",
    "hash_v2",
    "in_range",
    "sticky_key",
    "stored_variation",
]

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a32(text: str) -> int:
    """Return the 32-bit FNV-1a hash of ``text``'s UTF-16 code units (what JavaScript's charCodeAt sees)."""
    h = _FNV_OFFSET
    if text.isascii():
        for byte in text.encode("ascii"):
            h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
        return h
    # GrowthBook's reference SDK hashes UTF-16 code units; beyond the ASCII fast path,
    # hash those so a user id with an emoji lands where the JavaScript SDK puts it.
    data = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | data[i + 1] << 8)) * _FNV_PRIME) & 0xFFFFFFFF
    return h


@functools.lru_cache(maxsize=65536)
def hash_v2(seed: str, value: str) -> float:
    """Return GrowthBook's version 2 hash of ``value`` under ``seed``: a point of [0, 1) in steps of 1e-4."""
    return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000


def hash_v1(seed: str, value: str) -> float:
    """Return GrowthBook's version 1 hash of ``value`` under ``seed``: a point of [0, 1) in steps of 1e-3."""
    return (fnv1a32(value + seed) % 1000) / 1000


def growthbook_hash(seed: str, value: str, version: int) -> float | None:
    """Return GrowthBook's hash of the given version (1 or 2); None for a version it does not know."""
    if version == 2:
        return hash_v2(seed, value)
    if version == 1:
        return hash_v1(seed, value)
    return None


def equal_weights(num_variations: int) -> list[float]:
    """Return ``num_variations`` equal weights (none for zero or fewer variations)."""
    if num_variations <= 0:
        return []
    return [1 / num_variations] * num_variations


def bucket_ranges(
    num_variations: int, coverage: float = 1.0, weights: Sequence[float] | None = None
) -> list[tuple[float, float]]:
    """Return each variation's [start, end) range of the hash, as GrowthBook's ``getBucketRanges``.

    Coverage is clamped to [0, 1]. Weights that are missing, of the wrong length, or
    whose sum is off 1 by more than 0.01 are replaced by equal weights.
    """
    coverage = min(max(float(coverage), 0.0), 1.0)
    equal = equal_weights(num_variations)
    chosen = list(weights) if weights is not None else equal
    if len(chosen) != num_variations:
        chosen = equal
    total = sum(chosen)
    if total < 0.99 or total > 1.01:
        chosen = equal
    ranges = []
    cumulative = 0.0
    for w in chosen:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def in_range(n: float, bucket: tuple[float, float] | Sequence[float]) -> bool:
    """Return True when ``n`` lies in the half-open range [start, end)."""
    return bucket[0] <= n < bucket[1]


def choose_variation(n: float, ranges: Sequence[tuple[float, float] | Sequence[float]]) -> int:
    """Return the index of the range holding ``n``, or -1 when it is in none (not in the experiment)."""
    for i, bucket in enumerate(ranges):
        if bucket[0] <= n < bucket[1]:
            return i
    return -1


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one user landed in one experiment.

    ``variation`` is the index of the variation (-1 when the user is outside the
    experiment's coverage); ``hash_value`` the user's point of [0, 1);
    ``sticky_used`` says the variation came from a stored assignment, not the hash.
    """

    variation: int
    in_experiment: bool
    hash_value: float
    bucket_version: int = 0
    sticky_used: bool = False

    def to_sticky(self) -> dict[str, int]:
        """Return the document a :class:`StickyStore` keeps for this assignment."""
        return {"variation": self.variation, "bucket_version": self.bucket_version}


@runtime_checkable
class StickyStore(Protocol):
    """Where sticky assignments live: ``get(key) -> dict | None`` and ``set(key, dict)``."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any]) -> None: ...


class LRUStickyStore:
    """A bounded in-memory :class:`StickyStore`: the least recently used assignment goes first."""

    def __init__(self, maxsize: int = 100_000) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ContractConfigError(f"LRUStickyStore maxsize must be a positive int; got {maxsize!r}")
        self.maxsize = maxsize
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._data[key] = dict(value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def stored_variation(
    sticky: Mapping[str, Any] | None, num_variations: int, bucket_version: int
) -> int | None:
    """Return the variation a sticky document holds, when it still exists under ``bucket_version``."""
    if not isinstance(sticky, Mapping):
        return None
    variation = sticky.get("variation")
    if (
        isinstance(variation, int)
        and not isinstance(variation, bool)
        and 0 <= variation < num_variations
        and sticky.get("bucket_version", 0) == bucket_version
    ):
        return variation
    return None


def sticky_key(experiment_key: str, user_id: str) -> str:
    """Return the key under which a user's sticky assignment to an experiment is stored."""
    return f"{experiment_key}||{user_id}"


def _check_allocation(where: str, coverage: Any, weights: Any) -> list[float]:
    if isinstance(coverage, bool) or not isinstance(coverage, (int, float)) or not math.isfinite(coverage):
        raise ContractConfigError(f"{where}: coverage must be a number (clamped to [0, 1]); got {coverage!r}")
    if isinstance(weights, (str, bytes, Mapping)) or not isinstance(weights, Sequence) or not weights:
        raise ContractConfigError(f"{where}: weights must be a non-empty list of numbers; got {weights!r}")
    for i, w in enumerate(weights):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ContractConfigError(f"{where}: weights[{i}] must be a number >= 0; got {w!r}")
    return [float(w) for w in weights]


def assign(
    experiment_key: str,
    user_id: str,
    *,
    coverage: float,
    weights: Sequence[float],
    seed: str | None = None,
    sticky: Mapping[str, Any] | None = None,
    bucket_version: int = 0,
) -> Assignment:
    """Assign ``user_id`` to a variation of ``experiment_key`` (hash seeded with ``seed`` or the key).

    ``sticky`` is the assignment stored for this user earlier (``Assignment.to_sticky()``);
    when it names a variation that still exists under the same ``bucket_version`` it is
    returned as is, so a change of weights does not move the user. Raises
    ``ContractConfigError`` naming the bad argument.
    """
    if not isinstance(experiment_key, str) or not experiment_key:
        raise ContractConfigError(f"assign: experiment_key must be a non-empty str; got {experiment_key!r}")
    if not isinstance(user_id, str):
        raise ContractConfigError(f"assign: user_id must be a str; got {user_id!r}")
    if seed is not None and not isinstance(seed, str):
        raise ContractConfigError(f"assign: seed must be a str or None; got {seed!r}")
    where = f"experiment {experiment_key!r}"
    clean = _check_allocation(where, coverage, weights)
    n = hash_v2(seed or experiment_key, user_id)
    kept = stored_variation(sticky, len(clean), bucket_version)
    if kept is not None:
        return Assignment(kept, True, n, bucket_version, sticky_used=True)
    variation = choose_variation(n, bucket_ranges(len(clean), coverage, clean))
    return Assignment(variation, variation >= 0, n, bucket_version)
