"""Every LLMCL example in docs/llmcl.md parses, formats, and (given its files) compiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llm_contracts.llmcl import compile_source, format_source, parse

from .conftest import COMMON, TICKET_SCHEMA

DOC = Path(__file__).resolve().parents[3] / "docs" / "llmcl.md"
EXAMPLES = re.findall(r"```llmcl\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
FILES = {"common.llmcl": COMMON}


def test_the_reference_has_examples():
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_every_example_parses_formats_and_compiles(example, registry, tmp_path):
    assert parse(format_source(example)) == parse(example)
    (tmp_path / "ticket.schema.json").write_text(TICKET_SCHEMA)

    spec = compile_source(
        example,
        path=tmp_path / "doc.llmcl",
        registry=registry,
        resolver=lambda target, importer: (FILES[target], target),
    )

    assert spec["contracts"]
