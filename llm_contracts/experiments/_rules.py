"""The running experiments an SDK pulled, and which contracts each caller's variant enforces.

The control plane answers ``GET /api/v1/experiments`` with the running experiments, each
with its allocation and, per variation, the contract versions (compiled LLMCL specs) it
enforces. :class:`ExperimentRules` turns that answer into :class:`ActiveExperiment`
objects, building each variant's contracts once per experiment version; a call then asks
:meth:`ExperimentRules.exposures` where its user lands.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..contracts._base import Contract
from ._bucketing import StickyStore, bucket_ranges, choose_variation, hash_v2, sticky_key, stored_variation

__all__ = ["ActiveExperiment", "ExperimentRules", "Exposure", "Variant"]

log = logging.getLogger("llm_contracts.reporting")

# (spec, contract name) -> the contracts that spec defines for that name
ContractBuilder = Callable[[Any, str], list[Contract]]


@dataclass(frozen=True, slots=True)
class Exposure:
    """One caller's place in one experiment: the variant and the contracts it brings.

    ``names`` are the server contracts the variant sets: they replace the client's and
    the project's contracts of the same name (and their clauses, ``Name.ensure[1]``...).
    """

    experiment: str
    variant: str
    variation: int
    contracts: tuple[Contract, ...] = ()
    names: frozenset[str] = frozenset()
    versions: Mapping[str, int] = field(default_factory=dict)

    def replaces(self, contract_name: str) -> bool:
        """Return True when this variant's contracts stand in for ``contract_name``."""
        return contract_name in self.names or contract_name.split(".", 1)[0] in self.names

    def owns(self, contract_name: str) -> bool:
        """Return True when ``contract_name`` is one of this variant's contracts."""
        return any(c.name == contract_name for c in self.contracts) or self.replaces(contract_name)

    def to_dict(self) -> dict[str, str]:
        return {"experiment": self.experiment, "variant": self.variant}


@dataclass(frozen=True, slots=True)
class Variant:
    """One variation of an experiment: its key and the exposure of the users who land in it."""

    key: str
    exposure: Exposure


@dataclass(frozen=True, slots=True)
class ActiveExperiment:
    """A running experiment as the SDK applies it: allocation, variants and stickiness."""

    key: str
    seed: str
    coverage: float
    weights: tuple[float, ...]
    variants: tuple[Variant, ...]
    sticky: bool = False
    bucket_version: int = 0
    ranges: tuple[tuple[float, float], ...] = ()

    def variation_for(self, user_id: str, store: StickyStore | None = None) -> int:
        """Return the variation ``user_id`` lands in (-1: outside the experiment's coverage)."""
        if self.sticky and store is not None:
            key = sticky_key(self.key, user_id)
            kept = stored_variation(store.get(key), len(self.variants), self.bucket_version)
            if kept is not None:
                return kept
            variation = choose_variation(hash_v2(self.seed, user_id), self.ranges)
            if variation >= 0:
                store.set(key, {"variation": variation, "bucket_version": self.bucket_version})
            return variation
        return choose_variation(hash_v2(self.seed, user_id), self.ranges)


class _Invalid(ValueError):
    """An experiment item the SDK cannot apply, with the reason."""


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid(f"{where} must be a number; got {value!r}")
    return float(value)


def _parse_allocation(item: Mapping[str, Any], key: str) -> tuple[str, float, tuple[float, ...], bool, int]:
    seed = item.get("seed") or key
    if not isinstance(seed, str):
        raise _Invalid(f"experiment {key!r}: seed must be a str; got {seed!r}")
    coverage = _number(f"experiment {key!r}: coverage", item.get("coverage", 1.0))
    weights = item.get("weights")
    if not isinstance(weights, list) or not weights:
        raise _Invalid(f"experiment {key!r}: weights must be a non-empty list; got {weights!r}")
    clean = tuple(_number(f"experiment {key!r}: weights[{i}]", w) for i, w in enumerate(weights))
    sticky = item.get("sticky", False)
    if not isinstance(sticky, bool):
        raise _Invalid(f"experiment {key!r}: sticky must be true or false; got {sticky!r}")
    version = item.get("bucket_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise _Invalid(f"experiment {key!r}: bucket_version must be an int; got {version!r}")
    return seed, coverage, clean, sticky, version


class ExperimentRules:
    """The running experiments pulled from the control plane, replaced whole on change.

    ``active`` is a tuple swapped by one assignment, so a call sees the old rules or the
    new ones, never a mix; ``generation`` grows with every change. An experiment whose
    contracts do not load keeps its previous version when there is one and is left out
    (its users get control) when there is none.
    """

    def __init__(self, build: ContractBuilder) -> None:
        self.build = build
        self.active: tuple[ActiveExperiment, ...] = ()
        self.generation = 0
        self._by_key: dict[str, tuple[str, ActiveExperiment]] = {}  # key -> (fingerprint, parsed)
        self._built: dict[tuple[str, Any, str], list[Contract]] = {}
        self._reported: set[str] = set()

    def update(self, items: Iterable[Any]) -> None:
        """Apply the server's list of experiments (the ``experiments`` of its answer)."""
        active: list[ActiveExperiment] = []
        by_key: dict[str, tuple[str, ActiveExperiment]] = {}
        built: dict[tuple[str, Any, str], list[Contract]] = {}
        for item in items:
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not key:
                log.warning("llm_contracts ignores a malformed experiment from the server: %r", item)
                continue
            if item.get("status", "running") != "running":
                continue
            fingerprint = json.dumps(item, sort_keys=True, default=str)
            previous = self._by_key.get(key)
            if previous is not None and previous[0] == fingerprint:
                parsed = previous[1]
            else:
                try:
                    parsed = self._parse(item, key, built)
                except _Invalid as exc:
                    if fingerprint not in self._reported:
                        self._reported.add(fingerprint)
                        kept = "its previous version stays in force" if previous else "its users get control"
                        log.error(
                            "llm_contracts cannot apply experiment %s from the server (%s); %s",
                            key,
                            exc,
                            kept,
                        )
                    if previous is None:
                        continue
                    fingerprint, parsed = previous
            by_key[key] = (fingerprint, parsed)
            active.append(parsed)
        self._built.update(built)
        if [f for f, _ in by_key.values()] == [f for f, _ in self._by_key.values()]:
            return
        self._by_key = by_key
        # Contracts of versions no experiment uses any more can go.
        used = {id(c) for exp in active for v in exp.variants for c in v.exposure.contracts}
        self._built = {k: cs for k, cs in self._built.items() if any(id(c) in used for c in cs)}
        self.active = tuple(active)
        self.generation += 1

    def _parse(
        self, item: Mapping[str, Any], key: str, built: dict[tuple[str, Any, str], list[Contract]]
    ) -> ActiveExperiment:
        seed, coverage, weights, sticky, bucket_version = _parse_allocation(item, key)
        raw_variations = item.get("variations")
        if not isinstance(raw_variations, list) or not raw_variations:
            raise _Invalid(f"experiment {key!r}: variations must be a non-empty list")
        variants = []
        for index, raw in enumerate(raw_variations):
            where = f"experiment {key!r} variation {index}"
            if not isinstance(raw, dict) or not isinstance(raw.get("key"), str) or not raw["key"]:
                raise _Invalid(f"{where}: needs a non-empty key")
            contracts, names, versions = self._variant_contracts(raw.get("contracts") or [], where, built)
            exposure = Exposure(key, raw["key"], index, tuple(contracts), frozenset(names), versions)
            variants.append(Variant(raw["key"], exposure))
        ranges = tuple(bucket_ranges(len(variants), coverage, weights))
        return ActiveExperiment(key, seed, coverage, weights, tuple(variants), sticky, bucket_version, ranges)

    def _variant_contracts(
        self, items: Any, where: str, built: dict[tuple[str, Any, str], list[Contract]]
    ) -> tuple[list[Contract], set[str], dict[str, int]]:
        if not isinstance(items, list):
            raise _Invalid(f"{where}: contracts must be a list")
        contracts: list[Contract] = []
        names: set[str] = set()
        versions: dict[str, int] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise _Invalid(f"{where}: a contract needs a name; got {item!r}")
            name, version = item["name"], item.get("version")
            version = version if isinstance(version, int) and not isinstance(version, bool) else 0
            cache_key = (name, version, json.dumps(item.get("spec"), sort_keys=True, default=str))
            objects = built.get(cache_key) or self._built.get(cache_key)
            if objects is None:
                try:
                    objects = self.build(item.get("spec"), name)
                except Exception as exc:
                    raise _Invalid(
                        f"{where}: contract {name} v{version} does not load ({type(exc).__name__}: {exc})"
                    ) from None
                for c in objects:
                    with contextlib.suppress(AttributeError):
                        c.version = version  # type: ignore[attr-defined]
            built[cache_key] = objects
            contracts.extend(objects)
            names.add(name)
            versions[name] = version
            for c in objects:
                versions[c.name] = version
        return contracts, names, versions

    def exposures(self, user_id: str, store: StickyStore | None = None) -> tuple[Exposure, ...]:
        """Return where ``user_id`` lands in each running experiment it is part of.

        Experiments on the same contract are mutually exclusive: once a user is in one,
        a later experiment (in key order, as the server lists them) that sets any of the
        same contracts is skipped for that user, so nobody gets two variants of one contract.
        """
        out = []
        taken: set[str] = set()
        for experiment in self.active:
            variation = experiment.variation_for(user_id, store)
            if 0 <= variation < len(experiment.variants):
                names = {n for v in experiment.variants for n in v.exposure.names}
                if names & taken:
                    continue
                taken |= names
                out.append(experiment.variants[variation].exposure)
        return tuple(out)
