"""The VS Code extension: its grammar tokenises every reference example, its manifest holds together."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from textmate_grammar.parsers.base import LanguageParser

from llm_contracts.cli import _parser as cli_parser
from llm_contracts.llmcl.language import KEYWORDS, tokens

ROOT = Path(__file__).resolve().parents[3]
EXTENSION = ROOT / "editors" / "vscode"
GRAMMAR = EXTENSION / "syntaxes" / "llmcl.tmLanguage.json"
DOC = ROOT / "docs" / "llmcl.md"
EXAMPLES = re.findall(r"```llmcl\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)

# The scope each kind of LLMCL token must get from the grammar.
EXPECTED = {
    "STRING": "string.quoted.double.llmcl",
    "REGEX": "string.regexp.llmcl",
    "NUMBER": "constant.numeric.llmcl",
    "COMMENT": "comment.line",
    "COMP_OP": "keyword.operator.comparison.llmcl",
}


@pytest.fixture(scope="module")
def grammar() -> LanguageParser:
    return LanguageParser(json.loads(GRAMMAR.read_text(encoding="utf-8")))


def scopes_by_position(grammar: LanguageParser, source: str) -> dict[tuple[int, int], str]:
    element = grammar.parse_string(source)
    assert element is not None
    return {(line, column): scopes[-1] for (line, column), _text, scopes in element.flatten()}


def expected_scope(token_type: str, text: str, next_type: str | None) -> str:
    if token_type in EXPECTED:
        return EXPECTED[token_type]
    if token_type == "NAME":
        return "entity.name.function.llmcl" if next_type == "LPAR" else "variable.other.llmcl"
    if text in ("and", "or", "not", "conforms"):
        return "keyword.operator.logical.llmcl"
    if text in ("true", "false", "null"):
        return "constant.language.llmcl"
    if text in ("input", "output", "context"):
        return "variable.language.llmcl"
    assert text in KEYWORDS, text
    return "keyword.control.llmcl"


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_the_grammar_gives_every_token_of_every_reference_example_its_scope(grammar, example):
    scopes = scopes_by_position(grammar, example)
    toks = [
        t
        for t in tokens(example, comments=True)
        if t.type
        not in ("LBRACE", "RBRACE", "LPAR", "RPAR", "LSQB", "RSQB", "COMMA", "COLON", "DOT", "EQUAL")
    ]
    assert toks, "the example has tokens"
    everything = tokens(example, comments=True)
    for tok in toks:
        after = everything[everything.index(tok) + 1].type if tok is not everything[-1] else None
        got = scopes.get((tok.line - 1, tok.column - 1))
        want = expected_scope(tok.type, tok.text, after)
        assert got is not None and got.startswith(want), (tok, got, want)


def test_the_reference_examples_lex_to_the_end():
    # The tokens above must be all of each example: the lexer stops at a bad character.
    for example in EXAMPLES:
        last = tokens(example, comments=True)[-1]
        assert example[last.offset :].strip() == last.text


def manifest() -> dict:
    return json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))


def test_the_extension_uses_the_one_shared_grammar():
    [grammar_entry] = manifest()["contributes"]["grammars"]
    assert (EXTENSION / grammar_entry["path"]).resolve() == GRAMMAR
    assert grammar_entry["scopeName"] == json.loads(GRAMMAR.read_text())["scopeName"]
    [language] = manifest()["contributes"]["languages"]
    assert grammar_entry["language"] == language["id"] == "llmcl"
    assert language["extensions"] == [".llmcl"]
    config = json.loads((EXTENSION / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"


def test_the_client_starts_the_command_that_exists():
    script = (EXTENSION / manifest()["main"]).read_text(encoding="utf-8")
    assert 'const args = ["lsp", ...config.get("server.args", [])];' in script
    settings = manifest()["contributes"]["configuration"]["properties"]
    assert settings["llmcl.server.command"]["default"] == "llm-contracts"
    assert cli_parser().parse_args(["lsp", "--stdio"]).command == "lsp"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed here")
def test_the_client_script_is_valid_javascript():
    done = subprocess.run(
        ["node", "--check", str(EXTENSION / "extension.js")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
