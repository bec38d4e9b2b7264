"""The README's examples of the developer tools run and show what they say."""

from __future__ import annotations

import ast
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Developer tools", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, re.DOTALL)


def test_the_section_has_the_profiler_and_debugger_examples():
    assert len(BLOCKS) == 2


def test_the_profiler_example_names_the_rescanning_check():
    namespace: dict = {}
    exec(BLOCKS[0], namespace)  # noqa: S102 - the README's own example

    assert [r.kind for r in namespace["profile"].recommendations] == ["stream_rescan"]


def test_the_debugger_example_shows_the_steps_it_prints(capsys):
    lines = BLOCKS[1].splitlines()
    shown = [line[2:] for line in lines if line.startswith("# ")]
    code = [line for line in lines if not line.startswith("# ")]
    expression = lines[lines.index("# " + shown[0]) - 1]
    namespace: dict = {}

    exec("\n".join(code), namespace)  # noqa: S102

    assert eval(expression, namespace) == ast.literal_eval(" ".join(shown))  # noqa: S307
    out = capsys.readouterr().out
    assert "stopped at Reply.ensure[2]" in out
    assert "1 traces: 1 violated" in out
