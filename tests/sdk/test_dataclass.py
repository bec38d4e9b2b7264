"""The core's dataclass decorator behaves as ``dataclasses.dataclass`` does, without compiling methods."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import field
from typing import Any, ClassVar

import pytest

from llm_contracts._dataclass import dataclass as fast


def both(**options: Any) -> tuple[type, type]:
    """Return the same class body made a dataclass by the standard decorator and by ours."""

    def body() -> dict[str, Any]:
        return {
            "__annotations__": {"a": "int", "b": "list[int]", "c": "str", "d": "float"},
            "__module__": __name__,
            "__doc__": "A class.",
            "b": field(default_factory=list),
            "c": field(default="x", repr=False),
            "d": field(default=0.0, compare=False),
        }

    std = dataclasses.dataclass(type("Sample", (), body()), **options)
    ours = fast(**options)(type("Sample", (), body()))
    return std, ours


OPTIONS = [
    {},
    {"slots": True},
    {"frozen": True},
    {"frozen": True, "slots": True},
    {"eq": False},
    {"repr": False},
]


def outcome(fn: Any) -> Any:
    """Return what ``fn()`` returns, or the type of the TypeError it raises."""
    try:
        return fn()
    except TypeError as exc:
        return type(exc)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_the_methods_give_what_the_standard_ones_give(options):
    std, ours = both(**options)
    nan = float("nan")
    for args in [(1,), (1, [2, 3], "y", 2.5), (nan,), (2, [nan])]:
        s1, s2, o1, o2 = std(*args), std(*args), ours(*args), ours(*args)
        if options.get("repr", True):
            assert repr(o1) == repr(s1)
        assert (o1 == o2) == (s1 == s2)
        assert (o1 != o2) == (s1 != s2)
        assert (o1 == ours(9)) == (s1 == std(9))
        assert o1.__eq__(object()) is s1.__eq__(object())
        if std.__hash__ is None:
            assert ours.__hash__ is None
        elif options.get("frozen") and options.get("eq", True):
            assert outcome(lambda: hash(o1)) == outcome(lambda: hash(s1))  # noqa: B023
    assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(std)]
    assert ours.__match_args__ == std.__match_args__
    assert hasattr(ours, "__slots__") == hasattr(std, "__slots__")
    for name in ("init", "repr", "eq", "order", "unsafe_hash", "frozen"):
        assert getattr(ours.__dataclass_params__, name) == getattr(std.__dataclass_params__, name), name


def test_frozen_instances_refuse_assignment_and_copy_replace_pickle_work():
    Point = fast(frozen=True, slots=True)(
        type("Point", (), {"__annotations__": {"x": "int"}, "__module__": __name__})
    )
    p = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[attr-defined]
    assert dataclasses.replace(p, x=2) == Point(2)
    assert dataclasses.asdict(p) == {"x": 1}
    assert copy.deepcopy(p) == p
    assert {p, Point(1)} == {p}


@fast
class Node:
    value: int
    children: list[Node] = field(default_factory=list)
    kind: ClassVar[str] = "node"


def test_a_recursive_repr_shows_dots_and_pickles():
    node = Node(1)
    node.children.append(node)
    assert repr(node) == "Node(value=1, children=[...])"
    assert [f.name for f in dataclasses.fields(Node)] == ["value", "children"]
    assert pickle.loads(pickle.dumps(Node(2, [Node(3)]))) == Node(2, [Node(3)])


def test_methods_the_class_defines_stay_and_subclasses_compare_their_own_fields():
    @fast
    class Custom:
        a: int

        def __repr__(self) -> str:
            return "custom"

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 7

    assert repr(Custom(1)) == "custom"
    assert Custom(1) == Custom(2)
    assert hash(Custom(1)) == 7

    @fast(frozen=True)
    class Base:
        a: int

    @fast(frozen=True)
    class Child(Base):
        b: int = 0

    assert repr(Child(1, 2)).endswith(".<locals>.Child(a=1, b=2)")
    assert Child(1, 2) != Child(1, 3)
    assert Child(1, 2) != Base(1)
    assert hash(Child(1, 2)) == hash((1, 2))


def test_the_core_types_are_made_by_it():
    from llm_contracts.contracts._types import LLMRequest, Message, ParamSpec

    assert Message.__repr__.__module__ == "llm_contracts._dataclass"
    assert LLMRequest.__hash__ is None
    assert hash(ParamSpec("output_tokens", 1)) == hash(ParamSpec("output_tokens", 1))
    assert repr(Message("user", "hi")).startswith("Message(role='user', content='hi'")


def test_the_precompiled_methods_are_current():
    # The same check as `python -m llm_contracts._dataclass_write --check`: every method the
    # standard decorator writes for the package's dataclasses is in _dataclass_fns.
    from llm_contracts import _dataclass_write

    assert _dataclass_write.main(["--check"]) == 0, "run python -m llm_contracts._dataclass_write"


def test_importing_the_package_compiles_none_of_its_dataclass_methods():
    import subprocess
    import sys

    code = (
        "import llm_contracts, llm_contracts.enforcement._streaming, llm_contracts.debugging._trace\n"
        "from llm_contracts import _dataclass\n"
        "print(_dataclass._PRECOMPILED.compiled)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_precompiled_method_is_the_standard_one_over_the_class_module():
    import inspect
    import sys

    from llm_contracts.contracts import _types
    from llm_contracts.contracts._base import ValidationResult

    init = _types.Message.__init__
    assert init.__code__.co_filename.endswith("_dataclass_fns.py")
    assert init.__globals__ is sys.modules["llm_contracts.contracts._types"].__dict__
    assert init.__qualname__ == "Message.__init__"

    standard = dataclasses.dataclass(slots=True)(
        type(
            "Message",
            (),
            {
                "__annotations__": dict(_types.Message.__annotations__),
                "name": None,
                "tool_call_id": None,
                "tool_calls": (),
            },
        )
    )
    assert inspect.signature(init) == inspect.signature(standard.__init__)
    verdict = ValidationResult(True)
    assert (verdict.message, verdict.details, verdict.error) == ("", {}, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        _types.ParamSpec("output_tokens", 1).low = 2  # type: ignore[misc]
