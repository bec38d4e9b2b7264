"""The LLMCL language server on pygls: diagnostics, formatting, hover, completion, definitions."""

from __future__ import annotations

import logging
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from .._version import __version__
from ..contracts._registry import ContractRegistry, default_registry
from ._analysis import Analysis, Place

__all__ = ["LLMCLServer", "create_server"]

log = logging.getLogger("llm_contracts.lsp")

# How many other open documents a change checks again (each check compiles one file).
_RECHECK_LIMIT = 20

_COMPLETION_KINDS = {
    "keyword": T.CompletionItemKind.Keyword,
    "function": T.CompletionItemKind.Function,
    "contract": T.CompletionItemKind.Class,
    "value": T.CompletionItemKind.EnumMember,
    "file": T.CompletionItemKind.File,
}


class LLMCLServer(LanguageServer):
    """A pygls server that knows the registry named contracts come from."""

    def __init__(self, registry: ContractRegistry) -> None:
        super().__init__(
            "llm-contracts-lsp", __version__, text_document_sync_kind=T.TextDocumentSyncKind.Incremental
        )
        self.registry = registry

    def analysis(self, uri: str) -> tuple[TextDocument, Analysis]:
        doc = self.workspace.get_text_document(uri)
        path = to_fs_path(uri) if uri.startswith("file:") else None
        return doc, Analysis(doc.source, path, registry=self.registry, read=self.read)

    def read(self, path: str) -> str:
        """Return the text of ``path``: the open buffer when the editor has one, else the file."""
        uri = from_fs_path(str(Path(path).resolve()))
        if uri is not None and uri in self.workspace.text_documents:
            source: str = self.workspace.text_documents[uri].source
            return source
        return Path(path).read_text(encoding="utf-8")


def _range(doc: TextDocument | None, place: Place) -> T.Range:
    server = ServerTextRange(
        ServerTextPosition(place.line, place.column), ServerTextPosition(place.end_line, place.end_column)
    )
    if doc is None:  # another file, not open: LLMCL is mostly ASCII, columns pass as they are
        return T.Range(T.Position(place.line, place.column), T.Position(place.end_line, place.end_column))
    return doc.range_to_client_units(server)


def _at(doc: TextDocument, position: T.Position) -> tuple[int, int]:
    """Return the 0-based line and character column of a client position."""
    if position.line >= len(doc.lines):  # the empty line after a final line break
        return position.line, 0
    at = doc.position_from_client_units(position)
    return at.line, at.character


def _location(server: LLMCLServer, place: Place) -> T.Location | None:
    if place.path is None:
        return None
    uri = from_fs_path(str(Path(place.path).resolve()))
    if uri is None:
        return None
    doc = server.workspace.text_documents.get(uri)
    return T.Location(uri, _range(doc, place))


def _publish(server: LLMCLServer, uri: str) -> None:
    doc, analysis = server.analysis(uri)
    try:
        problems = analysis.problems()
    except Exception:  # the server must outlive any document
        log.exception("checking %s failed", uri)
        problems = []
    diagnostics = []
    for p in problems:
        related = []
        for place, message in p.related:
            location = _location(server, place)
            if location is not None:
                related.append(T.DiagnosticRelatedInformation(location, message))
        severity = T.DiagnosticSeverity.Error if p.severity == "error" else T.DiagnosticSeverity.Warning
        diagnostics.append(
            T.Diagnostic(
                range=_range(doc, p.place),
                message=p.message,
                severity=severity,
                source="llmcl",
                related_information=related or None,
            )
        )
    server.text_document_publish_diagnostics(
        T.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=diagnostics)
    )


def create_server(registry: ContractRegistry | None = None) -> LLMCLServer:
    """Return a language server for LLMCL that resolves ``use "name"`` in ``registry``."""
    server = LLMCLServer(registry or default_registry)

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LLMCLServer, params: T.DidOpenTextDocumentParams) -> None:
        _publish(ls, params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LLMCLServer, params: T.DidChangeTextDocumentParams) -> None:
        changed = params.text_document.uri
        _publish(ls, changed)
        # Another open file may import this one: check the others again (a few at most).
        others = [uri for uri in ls.workspace.text_documents if uri != changed]
        for uri in others[:_RECHECK_LIMIT]:
            _publish(ls, uri)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LLMCLServer, params: T.DidSaveTextDocumentParams) -> None:
        _publish(ls, params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LLMCLServer, params: T.DidCloseTextDocumentParams) -> None:
        ls.text_document_publish_diagnostics(
            T.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )

    @server.feature(T.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: LLMCLServer, params: T.DocumentFormattingParams) -> list[T.TextEdit] | None:
        doc, analysis = ls.analysis(params.text_document.uri)
        formatted = analysis.formatted()
        if formatted is None or formatted == doc.source:
            return [] if formatted is not None else None
        lines = doc.lines
        end = doc.position_to_client_units(ServerTextPosition(len(lines), 0))
        return [T.TextEdit(T.Range(T.Position(0, 0), end), formatted)]

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(ls: LLMCLServer, params: T.HoverParams) -> T.Hover | None:
        doc, analysis = ls.analysis(params.text_document.uri)
        found = analysis.hover(*_at(doc, params.position))
        if found is None:
            return None
        text, place = found
        return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, text), _range(doc, place))

    @server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=['"', " ", ","]))
    def completion(ls: LLMCLServer, params: T.CompletionParams) -> T.CompletionList:
        doc, analysis = ls.analysis(params.text_document.uri)
        items = [
            T.CompletionItem(
                label=c.label,
                kind=_COMPLETION_KINDS.get(c.kind, T.CompletionItemKind.Text),
                detail=c.detail or None,
                documentation=T.MarkupContent(T.MarkupKind.Markdown, c.documentation)
                if c.documentation
                else None,
            )
            for c in analysis.completions(*_at(doc, params.position))
        ]
        return T.CompletionList(is_incomplete=False, items=items)

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: LLMCLServer, params: T.DefinitionParams) -> T.Location | None:
        doc, analysis = ls.analysis(params.text_document.uri)
        place = analysis.definition(*_at(doc, params.position))
        return _location(ls, place) if place is not None else None

    return server
