"""The SDK's import structure: no import cycles, and the layers of pyproject's import-linter contract.

The graph is grimp's (import-linter's own graph library). It holds every ``import`` and
``from ... import`` statement it finds in a module, module-level and inside functions
alike; it leaves out imports made only for type checking (under ``if TYPE_CHECKING:``)
and cannot see imports made at run time by name (``importlib.import_module``,
``__import__``, entry points).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def import_graph(package: str) -> grimp.ImportGraph:
    return grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Return each group of modules that import one another (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        # An explicit stack of (module, the imports still to visit): no recursion limit to hit.
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, pending = work[-1]
            for imported in pending:
                if imported not in index:
                    index[imported] = low[imported] = len(index)
                    stack.append(imported)
                    on_stack.add(imported)
                    work.append((imported, iter(sorted(graph.find_modules_directly_imported_by(imported)))))
                    break
                if imported in on_stack:
                    low[module] = min(low[module], index[imported])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def describe(graph: grimp.ImportGraph, group: list[str]) -> str:
    """Return one cycle through ``group``, each import with its line."""
    start = group[0]
    members = set(group)
    nxt = next(m for m in sorted(graph.find_modules_directly_imported_by(start)) if m in members)
    chain = [start, *graph.find_shortest_chain(nxt, start)]
    steps = []
    for importer, imported in zip(chain, chain[1:], strict=False):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = f" (line {details[0]['line_number']}: {details[0]['line_contents']})" if details else ""
        steps.append(f"  {importer} -> {imported}{where}")
    return "\n".join(steps)


def test_no_module_of_the_sdk_imports_itself_back() -> None:
    graph = import_graph("llm_contracts")

    cycles = import_cycles(graph)

    assert not cycles, "import cycles in llm_contracts:\n" + "\n\n".join(describe(graph, c) for c in cycles)


def test_the_sdk_keeps_its_layers() -> None:
    # A process of its own: import-linter configures logging, which would silence ours here.
    config = str(ROOT / "pyproject.toml")
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={config!r}, no_cache=True, no_logo=True))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr


Builder = Callable[[str, dict[str, str]], grimp.ImportGraph]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Builder]:
    """Return a function that writes a throwaway package and returns its import graph."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def build(name: str, modules: dict[str, str]) -> grimp.ImportGraph:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        for module, source in modules.items():
            (tmp_path / name / f"{module}.py").write_text(textwrap.dedent(source))
        return import_graph(name)

    yield build
    for name in [m for m in sys.modules if m.startswith("cycle_demo")]:
        del sys.modules[name]


def test_the_check_sees_an_import_inside_a_function(package: Builder) -> None:
    graph = package(
        "cycle_demo_a",
        {
            "first": "from . import second\n",
            "second": "def late():\n    from . import first\n    return first\n",
        },
    )

    assert import_cycles(graph) == [["cycle_demo_a.first", "cycle_demo_a.second"]]


def test_the_check_leaves_out_imports_made_only_for_type_checking(package: Builder) -> None:
    graph = package(
        "cycle_demo_b",
        {
            "first": "from . import second\n",
            "second": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import first\n",
        },
    )

    assert import_cycles(graph) == []
