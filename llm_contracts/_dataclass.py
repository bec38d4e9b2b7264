"""``dataclass`` without compiling ``__repr__``, ``__eq__`` and ``__hash__`` at import.

The standard decorator writes each generated method as source and compiles it, which
costs about a third of a millisecond per method on a slow machine; the core's twenty
dataclasses made half of ``import llm_contracts``. This one lets the standard decorator do
everything else (fields, ``__init__``, frozen attributes, slots, ``__match_args__``) and
gives ``__repr__``, ``__eq__`` and ``__hash__`` as closures over the field names, with the
same results as the generated ones: the same text, the same tuple comparison, the same
hash, ``NotImplemented`` for another class, ``...`` for a recursive repr, and methods the
class defines itself left alone. ``dataclasses.fields``, ``replace`` and ``asdict`` work
as before, and ``__dataclass_params__`` records what was asked for.

Type checkers see :func:`dataclasses.dataclass` itself.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

__all__ = ["dataclass"]

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    import _thread
    from operator import attrgetter

    def dataclass(cls: type | None = None, /, **options: Any) -> Any:
        """Return ``cls`` made a dataclass, as ``dataclasses.dataclass(cls, **options)`` would."""

        def wrap(cls: type) -> type:
            return _process(cls, **options)

        return wrap if cls is None else wrap(cls)

    def _process(
        cls: type, *, repr: bool = True, eq: bool = True, frozen: bool = False, **options: Any
    ) -> type:
        if options.get("order") or options.get("unsafe_hash"):
            return dataclasses.dataclass(cls, repr=repr, eq=eq, frozen=frozen, **options)
        own = cls.__dict__
        # As the standard decorator decides it: a __hash__ the class sets itself stays.
        class_hash = own.get("__hash__", dataclasses.MISSING)
        explicit_hash = not (class_hash is dataclasses.MISSING or (class_hash is None and "__eq__" in own))
        define_repr = repr and "__repr__" not in own
        define_eq = eq and "__eq__" not in own
        cls = dataclasses.dataclass(cls, repr=False, eq=False, frozen=frozen, **options)
        fields = dataclasses.fields(cls)
        if define_repr:
            _set(cls, "__repr__", _repr_fn(tuple(f.name for f in fields if f.repr)))
        if define_eq:
            _set(cls, "__eq__", _eq_fn(tuple(f.name for f in fields if f.compare)))
        if eq and not explicit_hash:
            if frozen:
                hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
                _set(cls, "__hash__", _hash_fn(hashed))
            else:
                cls.__hash__ = None  # type: ignore[assignment]
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        params.repr, params.eq = repr, eq
        return cls

    def _set(cls: type, name: str, fn: Any) -> None:
        fn.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, fn)

    def _values(names: tuple[str, ...]) -> Any:
        """Return a function giving the tuple of ``names``' values of an object (a tuple, always)."""
        if len(names) > 1:
            return attrgetter(*names)
        if names:
            get = attrgetter(names[0])
            return lambda obj: (get(obj),)
        return lambda obj: ()

    def _repr_fn(names: tuple[str, ...]) -> Any:
        running: set[tuple[int, int]] = set()

        def __repr__(self: Any) -> str:
            key = id(self), _thread.get_ident()
            if key in running:
                return "..."
            running.add(key)
            try:
                inner = ", ".join([f"{name}={getattr(self, name)!r}" for name in names])
                return f"{self.__class__.__qualname__}({inner})"
            finally:
                running.discard(key)

        return __repr__

    def _eq_fn(names: tuple[str, ...]) -> Any:
        values = _values(names)

        def __eq__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return values(self) == values(other)
            return NotImplemented

        return __eq__

    def _hash_fn(names: tuple[str, ...]) -> Any:
        values = _values(names)

        def __hash__(self: Any) -> int:
            return hash(values(self))

        return __hash__
