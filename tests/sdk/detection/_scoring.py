"""Load the labelled sets under this folder and score a detector on them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load(name: str) -> list[dict[str, Any]]:
    """Return the rows of a JSONL file in this folder."""
    with (HERE / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f} recall {self.recall:.3f} "
            f"(tp {self.tp}, fp {self.fp}, fn {self.fn}, tn {self.tn})"
        )


def score(rows: Iterable[dict[str, Any]], flagged: Callable[[dict[str, Any]], bool], positive: str) -> Score:
    """Count a detector's hits and misses; ``positive`` is the label it should flag."""
    tp = fp = fn = tn = 0
    for row in rows:
        hit, real = flagged(row), row["label"] == positive
        tp += hit and real
        fp += hit and not real
        fn += real and not hit
        tn += not real and not hit
    return Score(tp, fp, fn, tn)
