"""The experiments API's request and response shapes (docs/protocol.md)."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field, NonNegativeFloat, NonNegativeInt


class ContractRef(Schema):
    """A contract version named as a deployment pipeline knows it."""

    name: str = Field(min_length=1, max_length=200)
    version: NonNegativeInt


class RampStepIn(Schema):
    coverage: float
    hold: Literal["minutes", "sample", "approval"] = "minutes"
    hold_value: NonNegativeInt = 0


class ExperimentIn(Schema):
    key: str = Field(min_length=1, max_length=100)
    description: str = ""
    seed: str = Field(default="", max_length=100)
    coverage: float = 0.0
    weights: list[float] = Field(default_factory=lambda: [0.5, 0.5])
    sticky: bool = False
    control: list[ContractRef] = Field(default_factory=list)
    treatment: list[ContractRef] = Field(default_factory=list)
    ramp: list[RampStepIn] = Field(default_factory=list)
    alpha: float = 0.05
    max_p95_latency_regression: NonNegativeFloat = 0.2
    max_fix_failure_regression: NonNegativeFloat = 0.05
    max_cost_regression: NonNegativeFloat = 0.1
    guardrail_min_calls: NonNegativeInt = 200


class CoverageIn(Schema):
    coverage: float


class ExperimentOut(Schema):
    key: str
    description: str
    status: str
    coverage: float
    weights: list[float]
    sticky: bool
    seed: str
    current_step: int | None
    control: list[ContractRef]
    treatment: list[ContractRef]


class ShipIn(Schema):
    """Which arm's contract versions become the active ones when the experiment finishes."""

    arm: Literal["control", "treatment"]
