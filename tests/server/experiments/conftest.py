"""Experiments on project A of the server cast, and traffic written straight into the exposures."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from accounts.models import Project
from contracts_app.models import Contract, ContractVersion
from experiments import services
from experiments.models import CONTROL, TREATMENT, Experiment, Exposure
from telemetry.models import LATENCY_BUCKETS_MS

from ..conftest import Cast


def add_version(project: Project, name: str, version: int) -> ContractVersion:
    # The LLMCL compiler is tested in contracts_app; a stored spec is enough here.
    contract, _ = Contract.objects.get_or_create(project=project, name=name)
    return ContractVersion.objects.create(
        contract=contract,
        version=version,
        source=f"contract {name} {{}}\n// version {version}\n",
        spec={"spec_version": "1", "name": name, "version": version},
    )


@pytest.fixture
def versions(cast: Cast) -> dict[str, ContractVersion]:
    """Two versions of the project's "pii" contract and one of "json_format"."""
    return {
        "pii@1": add_version(cast.project_a, "pii", 1),
        "pii@2": add_version(cast.project_a, "pii", 2),
        "json@1": add_version(cast.project_a, "json_format", 1),
    }


MakeExperiment = Callable[..., Experiment]


@pytest.fixture
def make_experiment(cast: Cast, versions: dict[str, ContractVersion]) -> MakeExperiment:
    """Create a draft on project A: pii@1 against pii@2, 50/50, with the given fields."""

    def make(key: str = "stricter-pii", **fields: Any) -> Experiment:
        fields.setdefault(CONTROL, [versions["pii@1"].pk])
        fields.setdefault(TREATMENT, [versions["pii@2"].pk])
        return services.experiment_create(
            project=cast.project_a, key=key, actor=services.Actor.of_user(cast.owner), **fields
        )

    return make


_call_ids = itertools.count(1)


def add_traffic(
    experiment: Experiment,
    bucket: datetime,
    arm: str,
    calls: int,
    violations: int = 0,
    *,
    tokens_per_call: int = 100,
    llm_bucket: int = 7,
    fixes: tuple[int, int] = (0, 0),
) -> None:
    """Record ``calls`` calls of an arm at ``bucket``, as ingest would: one exposure per call.

    The first ``violations`` calls violated; the first ``fixes[0]`` attempted an auto-fix,
    ``fixes[1]`` of them successfully; LLM latencies fall in ``LATENCY_BUCKETS_MS`` bucket ``llm_bucket``.
    """
    lower = 0.0 if llm_bucket == 0 else LATENCY_BUCKETS_MS[llm_bucket - 1]
    latency = (lower + LATENCY_BUCKETS_MS[llm_bucket]) / 2
    attempted, succeeded = fixes
    Exposure.objects.bulk_create(
        Exposure(
            project_id=experiment.project_id,
            experiment=experiment.key,
            variant=arm,
            call_id=f"call-{next(_call_ids)}",
            at=bucket,
            violated=i < violations,
            fix_attempted=i < attempted,
            fix_failed=succeeded <= i < attempted,
            llm_latency_ms=latency,
            tokens=tokens_per_call,
        )
        for i in range(calls)
    )


def simulate_minute(
    experiment: Experiment,
    bucket: datetime,
    rng: random.Random,
    *,
    users: int,
    rates: dict[str, float],
    **kwargs: Any,
) -> None:
    """Write one minute of traffic: ``users`` calls, split by the experiment's coverage and weights."""
    experiment.refresh_from_db()
    for arm, weight in zip((CONTROL, TREATMENT), experiment.weights, strict=True):
        calls = round(users * experiment.coverage * weight)
        if calls:
            violations = sum(rng.random() < rates[arm] for _ in range(calls))
            add_traffic(experiment, bucket, arm, calls, violations, **kwargs)
