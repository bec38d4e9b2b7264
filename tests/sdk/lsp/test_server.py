"""The LLMCL language server, driven over its real protocol: a subprocess on stdio."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient

from llm_contracts.cli import main as cli
from llm_contracts.llmcl import format_source
from llm_contracts.llmcl._functions import FUNCTIONS

from . import house_contracts

SERVER = [sys.executable, "-m", "llm_contracts.cli", "lsp", "--import", "tests.sdk.lsp.house_contracts"]

BROKEN = "contract Reply {\n  ensure lenn(output) <= 10\n  ensure len(output) >= 2 severity fatal\n}\n"
FIXED = "contract Reply {\n  ensure len(output) <= 10\n}\n"
MESSY = "contract   Reply  version 2{\n      ensure    len(output)<=10   # short\n}\n"
BASE = (
    'contract BaseReply severity warning {\n  description "What every reply keeps to"\n'
    '  ensure not contains(output, "lorem ipsum")\n}\n'
)
CHILD = 'import "base.llmcl"\n\ncontract Child extends BaseReply {\n  ensure use "house_tone"\n}\n'


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(T.InitializeParams(capabilities=T.ClientCapabilities()))
    lsp_client.server_capabilities = result.capabilities  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


async def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1) -> list[T.Diagnostic]:
    path.write_text(text)
    uri = uri_of(path)
    client.text_document_did_open(
        T.DidOpenTextDocumentParams(
            T.TextDocumentItem(uri=uri, language_id="llmcl", version=version, text=text)
        )
    )
    await client.wait_for_notification(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return client.diagnostics[uri]


def check_output(path: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, int, str]]:
    """Return (line, column, message) of every error ``llm-contracts check`` prints for ``path``."""
    assert cli(["check", str(path)]) == 1
    err = capsys.readouterr().err
    return [
        (int(line), int(col), msg)
        for line, col, msg in re.findall(rf"^{re.escape(str(path))}:(\d+):(\d+): error: (.*)$", err, re.M)
    ]


async def test_it_announces_what_it_can_do(client: LanguageClient):
    caps = client.server_capabilities
    assert caps.document_formatting_provider
    assert caps.hover_provider
    assert caps.definition_provider
    assert caps.completion_provider is not None


async def test_a_broken_file_gets_the_checks_errors_at_the_same_places(client, tmp_path, capsys):
    path = tmp_path / "reply.llmcl"

    diagnostics = await open_doc(client, path, BROKEN)

    expected = check_output(path, capsys)
    assert len(expected) == 2
    got = [
        (d.range.start.line + 1, d.range.start.character + 1, d.message.split("\n")[0]) for d in diagnostics
    ]
    assert got == expected
    # Each range covers the offending word: the unknown function, the unknown severity.
    lines = BROKEN.split("\n")
    words = [lines[d.range.start.line][d.range.start.character : d.range.end.character] for d in diagnostics]
    assert words == ["lenn", "fatal"]
    assert all(d.severity == T.DiagnosticSeverity.Error and d.source == "llmcl" for d in diagnostics)
    assert "hint: did you mean 'len'?" in diagnostics[0].message


async def test_fixing_the_file_clears_its_diagnostics(client, tmp_path):
    path = tmp_path / "reply.llmcl"
    assert await open_doc(client, path, BROKEN)
    uri = uri_of(path)

    client.text_document_did_change(
        T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=uri, version=2),
            [T.TextDocumentContentChangeWholeDocument(text=FIXED)],
        )
    )
    await client.wait_for_notification(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    assert list(client.diagnostics[uri]) == []


async def test_an_incremental_edit_is_checked_as_the_editor_sees_it(client, tmp_path):
    path = tmp_path / "reply.llmcl"
    assert list(await open_doc(client, path, FIXED)) == []
    uri = uri_of(path)

    # Replace "len" on line 2 by "lenn": the file on disk still holds the good text.
    client.text_document_did_change(
        T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=uri, version=2),
            [
                T.TextDocumentContentChangePartial(
                    range=T.Range(T.Position(1, 9), T.Position(1, 12)), text="lenn"
                )
            ],
        )
    )
    await client.wait_for_notification(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    [diagnostic] = client.diagnostics[uri]
    assert diagnostic.message.startswith("unknown function 'lenn'")
    assert (diagnostic.range.start, diagnostic.range.end) == (T.Position(1, 9), T.Position(1, 13))


async def test_a_syntax_error_is_placed_like_the_check_places_it(client, tmp_path, capsys):
    path = tmp_path / "broken.llmcl"
    text = "contract Reply {\n  ensure len(output) <=\n}\n"

    diagnostics = await open_doc(client, path, text)

    [(line, col, message)] = check_output(path, capsys)
    [d] = diagnostics
    assert (d.range.start.line + 1, d.range.start.character + 1) == (line, col)
    assert d.message.split("\n")[0] == message


async def test_columns_are_counted_in_the_clients_units(client, tmp_path):
    # An emoji is one character for the compiler and two UTF-16 units for the editor.
    path = tmp_path / "emoji.llmcl"
    text = 'contract Reply {\n  ensure contains(output, "🙂") and lenn(output) < 3\n}\n'

    [d] = await open_doc(client, path, text)

    line = text.split("\n")[1]
    start = len(line[: line.index("lenn")].encode("utf-16-le")) // 2
    assert (d.range.start.character, d.range.end.character) == (start, start + 4)


async def test_an_error_in_an_imported_file_shows_at_the_import(client, tmp_path):
    (tmp_path / "base.llmcl").write_text("contract BaseReply {\n  ensure wordz(output) < 3\n}\n")
    path = tmp_path / "child.llmcl"

    [d] = await open_doc(client, path, CHILD)

    assert (d.range.start.line, d.range.start.character) == (0, 7)  # the "base.llmcl" string
    assert "base.llmcl:2:10: unknown function 'wordz'" in d.message
    [related] = d.related_information
    assert related.location.uri == uri_of(tmp_path / "base.llmcl")
    assert related.location.range.start == T.Position(1, 9)


async def test_conflicting_clauses_are_warnings(client, tmp_path):
    text = "contract Reply {\n  ensure len(output) <= 10\n  ensure len(output) >= 20\n}\n"

    [d] = await open_doc(client, tmp_path / "c.llmcl", text)

    assert d.severity == T.DiagnosticSeverity.Warning
    assert d.message.startswith("conflicting clauses (bounds)")
    assert d.range.start.line == 2


async def test_formatting_returns_the_canonical_text(client, tmp_path):
    path = tmp_path / "messy.llmcl"
    await open_doc(client, path, MESSY)

    edits = await client.text_document_formatting_async(
        T.DocumentFormattingParams(
            T.TextDocumentIdentifier(uri_of(path)), T.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )

    [edit] = edits
    assert edit.new_text == format_source(MESSY)
    assert edit.range.start == T.Position(0, 0)
    assert edit.range.end == T.Position(3, 0)


async def test_formatting_a_formatted_or_broken_file_changes_nothing(client, tmp_path):
    good, bad = tmp_path / "good.llmcl", tmp_path / "bad.llmcl"
    await open_doc(client, good, format_source(MESSY))
    await open_doc(client, bad, "contract {\n")

    for path in (good, bad):
        edits = await client.text_document_formatting_async(
            T.DocumentFormattingParams(
                T.TextDocumentIdentifier(uri_of(path)), T.FormattingOptions(tab_size=2, insert_spaces=True)
            )
        )
        assert not edits


async def hover(client: LanguageClient, path: Path, line: int, character: int) -> T.Hover | None:
    return await client.text_document_hover_async(
        T.HoverParams(T.TextDocumentIdentifier(uri_of(path)), T.Position(line, character))
    )


async def test_hover_explains_functions_keywords_and_contracts(client, tmp_path):
    (tmp_path / "base.llmcl").write_text(BASE)
    path = tmp_path / "child.llmcl"
    text = CHILD.replace('ensure use "house_tone"', "ensure len(output) <= 10 severity warning")
    await open_doc(client, path, text)

    function = await hover(client, path, 3, 10)  # len
    keyword = await hover(client, path, 3, 3)  # ensure
    contract = await hover(client, path, 2, 25)  # BaseReply after extends
    value = await hover(client, path, 3, 37)  # warning

    assert "len(text) -> a number" in function.contents.value
    assert FUNCTIONS["len"].doc in function.contents.value
    assert function.range == T.Range(T.Position(3, 9), T.Position(3, 12))
    assert "postcondition, checked on the answer" in keyword.contents.value
    assert "contract BaseReply severity warning" in contract.contents.value
    assert "What every reply keeps to" in contract.contents.value
    assert "base.llmcl, line 1" in contract.contents.value
    assert "severity" in value.contents.value
    assert await hover(client, path, 1, 0) is None  # a blank line


async def test_hover_on_a_named_contract_says_where_it_comes_from(client, tmp_path):
    path = tmp_path / "child.llmcl"
    (tmp_path / "base.llmcl").write_text(BASE)
    await open_doc(client, path, CHILD)

    found = await hover(client, path, 3, 16)

    assert "tests.sdk.lsp.house_contracts.house_tone" in found.contents.value
    assert "Reject answers that call the customer" in found.contents.value


async def complete(client: LanguageClient, path: Path, line: int, character: int) -> list[str]:
    result = await client.text_document_completion_async(
        T.CompletionParams(T.TextDocumentIdentifier(uri_of(path)), T.Position(line, character))
    )
    return [item.label for item in result.items]


async def test_completion_offers_what_fits_where_the_cursor_is(client, tmp_path):
    (tmp_path / "base.llmcl").write_text(BASE)
    path = tmp_path / "child.llmcl"
    text = (
        'import "base.llmcl"\n\ncontract Child extends  {\n  \n  ensure \n'
        '  ensure len(output) <= 3 severity \n  ensure use "\n}\n'
    )
    await open_doc(client, path, text)

    assert await complete(client, path, 2, 23) == ["BaseReply"]
    clause_words = await complete(client, path, 3, 2)
    assert {"require", "ensure", "ensure_every_turn", "eventually", "on"} <= set(clause_words)
    assert "len" not in clause_words
    expression = await complete(client, path, 4, 9)
    assert set(FUNCTIONS) | {"input", "output", "not"} <= set(expression)
    assert await complete(client, path, 5, 36) == ["info", "warning", "error", "critical"]
    assert "house_tone" in await complete(client, path, 6, 14)


async def test_completion_at_the_top_level_offers_import_and_contract(client, tmp_path):
    path = tmp_path / "new.llmcl"
    await open_doc(client, path, "contract A {\n}\n")

    assert await complete(client, path, 2, 0) == ["import", "contract"]


async def definition(client: LanguageClient, path: Path, line: int, character: int) -> T.Location:
    return await client.text_document_definition_async(
        T.DefinitionParams(T.TextDocumentIdentifier(uri_of(path)), T.Position(line, character))
    )


async def test_go_to_definition_follows_import_extends_and_use(client, tmp_path):
    (tmp_path / "base.llmcl").write_text(BASE)
    path = tmp_path / "child.llmcl"
    await open_doc(client, path, CHILD)

    imported = await definition(client, path, 0, 10)
    base = await definition(client, path, 2, 27)
    named = await definition(client, path, 3, 16)

    assert imported.uri == uri_of(tmp_path / "base.llmcl")
    assert base.uri == uri_of(tmp_path / "base.llmcl")
    assert base.range == T.Range(T.Position(0, 9), T.Position(0, 18))
    assert named.uri == Path(house_contracts.__file__).resolve().as_uri()
    assert named.range.start.line == inspect.getsourcelines(house_contracts.house_tone)[1] - 1


async def test_an_unsaved_import_is_read_from_the_editor(client, tmp_path):
    base = tmp_path / "base.llmcl"
    await open_doc(client, base, BASE)
    client.text_document_did_change(
        T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=uri_of(base), version=2),
            [T.TextDocumentContentChangeWholeDocument(text=BASE.replace("BaseReply", "Base"))],
        )
    )
    await client.wait_for_notification(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    [d] = await open_doc(client, tmp_path / "child.llmcl", CHILD)

    assert d.message.startswith("contract 'Child' extends 'BaseReply', which is not defined")


async def test_changing_an_open_import_checks_the_files_that_import_it_again(client, tmp_path):
    base = tmp_path / "base.llmcl"
    await open_doc(client, base, BASE)
    child = tmp_path / "child.llmcl"
    assert list(await open_doc(client, child, CHILD)) == []

    client.text_document_did_change(
        T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=uri_of(base), version=2),
            [T.TextDocumentContentChangeWholeDocument(text=BASE.replace("BaseReply", "Base"))],
        )
    )
    # The changed file is checked first, then the one that imports it.
    for _ in range(200):
        if client.diagnostics[uri_of(child)]:
            break
        await asyncio.sleep(0.05)

    [d] = client.diagnostics[uri_of(child)]
    assert d.message.startswith("contract 'Child' extends 'BaseReply', which is not defined")


def test_without_pygls_the_command_says_which_extra_to_install():
    code = (
        "import sys; sys.modules['pygls'] = None; from llm_contracts.cli import main; sys.exit(main(['lsp']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )

    assert done.returncode == 1
    assert "pip install 'llm-contracts[lsp]'" in done.stderr and "Traceback" not in done.stderr
