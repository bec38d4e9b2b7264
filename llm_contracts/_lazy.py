"""Names a package exports but imports on first use (PEP 562), so ``import llm_contracts`` stays cheap.

A package lists ``name -> submodule``; its module ``__getattr__`` imports the submodule
the first time the name is read and keeps the value in the package, so later reads cost
nothing. Type checkers see the same names through the package's ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, table: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of ``package`` for the lazily imported names.

    ``table`` maps each name to the module (relative to ``package``) that defines it.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module protocol's name
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the module protocol's name
        return sorted({*vars(sys.modules[package]), *table})

    return __getattr__, __dir__
