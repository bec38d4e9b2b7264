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

The methods the standard decorator still writes (``__init__``, and ``__setattr__`` and
``__delattr__`` of a frozen class) are compiled ahead of time: ``_dataclass_fns`` holds
the text the standard decorator generates for each of the package's dataclasses, as real
functions in a module (so in its bytecode cache), and the decorator takes them from there
instead of compiling the same text again at every import. A class whose text is not there
(a changed class, another Python) is compiled as usual; a test keeps the module in step
(``python -m llm_contracts._dataclass`` writes it again).

Type checkers see :func:`dataclasses.dataclass` itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING, Any

__all__ = ["dataclass"]

_RECORD = "LLM_CONTRACTS_RECORD_DATACLASSES"


def digest(text: str) -> str:
    """Return the key of a generated method's text in ``_dataclass_fns``."""
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    import _thread
    import os
    import threading
    from operator import attrgetter
    from types import FunctionType

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
        with _PRECOMPILED:
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

    class _Precompiled:
        """While entered, the standard decorator's functions come from ``_dataclass_fns`` when there.

        The standard ``_create_fn`` compiles the text of each method with ``exec`` (a third
        of a millisecond each on a slow machine). The text is rebuilt here exactly as it
        builds it; the same text found in ``_dataclass_fns`` gives a function compiled
        ahead of time, made over the class's module globals as ``exec`` would; any other
        text goes to the standard ``_create_fn``. Only the classes of this module's
        decorator are affected: another thread's dataclass meets the same functions.
        """

        def __init__(self) -> None:
            self._lock = threading.RLock()
            self._depth = 0
            self._original: Any = getattr(dataclasses, "_create_fn", None)
            self._table: dict[str, Any] | None = None
            self.compiled: list[str] = []  # the methods compiled at import, for want of a text
            # With the variable set (by ``python -m llm_contracts._dataclass_write``), every
            # text the decorator meets is kept, to be written into ``_dataclass_fns``.
            self.recorded: dict[str, tuple[str, ...]] | None = {} if os.environ.get(_RECORD) else None

        def __enter__(self) -> None:
            if self._original is None:  # another Python's dataclasses: nothing to replace
                return
            self._lock.acquire()
            self._depth += 1
            if self._depth == 1:
                dataclasses._create_fn = self._create_fn  # type: ignore[attr-defined]

        def __exit__(self, *exc: object) -> None:
            if self._original is None:
                return
            self._depth -= 1
            if self._depth == 0:
                dataclasses._create_fn = self._original  # type: ignore[attr-defined]
            self._lock.release()

        def _lookup(self) -> dict[str, Any]:
            if self._table is None:
                try:
                    from ._dataclass_fns import FUNCTIONS
                except ImportError:  # not written yet
                    FUNCTIONS = {}  # noqa: N806
                self._table = FUNCTIONS
            return self._table

        def _create_fn(
            self,
            name: str,
            args: Any,
            body: Any,
            *,
            globals: dict[str, Any] | None = None,  # noqa: A002 (the standard signature)
            locals: dict[str, Any] | None = None,  # noqa: A002
            return_type: Any = dataclasses.MISSING,
        ) -> Any:
            # The standard text, built as the standard _create_fn builds it (Python 3.11).
            names = {} if locals is None else dict(locals)
            annotation = ""
            if return_type is not dataclasses.MISSING:
                names["_return_type"] = return_type
                annotation = "->_return_type"
            body_text = "\n".join(f"  {b}" for b in body)
            text = f" def {name}({','.join(args)}){annotation}:\n{body_text}"
            text = f"def __create_fn__({', '.join(names)}):\n{text}\n return {name}"
            if self.recorded is not None:
                self.recorded[text] = tuple(names)
            creator = self._lookup().get(digest(text))
            if creator is None:
                self.compiled.append(name)
                return self._original(
                    name, args, body, globals=globals, locals=locals, return_type=return_type
                )
            fn = creator(**names)
            made = FunctionType(fn.__code__, globals or {}, fn.__name__, fn.__defaults__, fn.__closure__)
            made.__kwdefaults__ = fn.__kwdefaults__
            made.__annotations__ = fn.__annotations__
            return made

    _PRECOMPILED = _Precompiled()

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
