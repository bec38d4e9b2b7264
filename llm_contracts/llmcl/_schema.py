"""The JSON Schema of compiled specs (``spec.schema.json``, shipped in the package)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["spec_errors", "spec_schema"]


@functools.cache
def _schema_text() -> str:
    return resources.files(__package__).joinpath("spec.schema.json").read_text(encoding="utf-8")


def spec_schema() -> dict[str, Any]:
    """Return the JSON Schema that every compiled spec matches."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(spec_schema())


def spec_errors(spec: Any, *, limit: int = 5) -> list[str]:
    """Return up to ``limit`` problems of ``spec`` against the schema, ``"<path>: <problem>"``."""
    from ..contracts._json import json_path

    errors = sorted(_validator().iter_errors(spec), key=lambda e: list(e.absolute_path))
    return [f"{json_path(e.absolute_path)}: {e.message[:200]}" for e in errors[:limit]]
