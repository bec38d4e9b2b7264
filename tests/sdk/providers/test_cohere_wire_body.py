"""The body a contracted cohere call judges is what cohere's own encoder makes of the request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

import pytest

cohere = pytest.importorskip("cohere")

from cohere.core.jsonable_encoder import jsonable_encoder  # noqa: E402

from llm_contracts.providers._cohere import _wire_body  # noqa: E402


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


CASES: list[Any] = [
    {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}], "n": 1.5},
    {"model": "m", "flag": True, "none": None, "skip": ..., "items": [1, ..., 2]},
    {"model": "m", "when": dt.date(2026, 1, 2), "color": Color.RED, "point": Point(3)},
    {"model": "m", "messages": ({"role": "user", "content": "tuple"},)},
    {"model": "m", "nested": {1: "int key"}},
]


@pytest.mark.parametrize("given", CASES)
def test_the_wire_body_is_cohere_s_encoding(given: dict[str, Any]) -> None:
    omit = object()
    body, _ = _wire_body({**given, "omitted": omit}, None, omit)
    assert body == dict(jsonable_encoder(given) or {})


def test_the_wire_body_shares_nothing_with_the_caller_s_messages() -> None:
    messages = [{"role": "user", "content": "hi"}]
    body, _ = _wire_body({"model": "m", "messages": messages}, None, None)
    messages.append({"role": "assistant", "content": "later"})
    messages[0]["content"] = "changed"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
