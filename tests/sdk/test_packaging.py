"""The wheel ships ``py.typed``, so type checkers read the package's own annotations (PEP 561)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("dist")
    builder = WheelBuilder(str(ROOT))
    (path,) = builder.build(directory=str(out), versions=["standard"])
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_marks_the_package_typed(wheel):
    names = wheel.namelist()

    assert "llm_contracts/py.typed" in names
    # ...next to the modules whose annotations it vouches for.
    assert "llm_contracts/providers/_openai.py" in names


def test_the_wheel_ships_the_injection_classifiers_weights(wheel):
    # PromptInjectionContract's classifier stage loads them from the package at first use.
    assert "llm_contracts/contracts/_injection_model.json.gz" in wheel.namelist()
