"""Compile LLMCL source (or a file) and load one of its contracts, in one step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contracts._registry import ContractRegistry
from ._compiler import compile_file, compile_source
from ._loader import ContractSet, load_spec

__all__ = ["load_file", "load_source"]


def load_source(
    source: str,
    *,
    path: str | Path | None = None,
    contract: str | None = None,
    strict: bool = False,
    registry: ContractRegistry | None = None,
    judge: Any = None,
) -> ContractSet:
    """Compile LLMCL ``source`` and load one of its contracts; see :func:`load_spec`."""
    spec = compile_source(source, path=path, strict=strict, registry=registry)
    return load_spec(spec, contract=contract, registry=registry, judge=judge)


def load_file(path: str | Path, **kwargs: Any) -> ContractSet:
    """Compile the LLMCL file at ``path`` and load one of its contracts."""
    contract = kwargs.pop("contract", None)
    judge = kwargs.pop("judge", None)
    spec = compile_file(path, **kwargs)
    return load_spec(spec, contract=contract, registry=kwargs.get("registry"), judge=judge)
