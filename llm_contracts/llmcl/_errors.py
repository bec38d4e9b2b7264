"""Errors of the contract language, rendered like a compiler's diagnostics.

::

    LLMContractsError
     └── LLMCLError                 anything wrong with LLMCL source or a compiled spec
          ├── LLMCLSyntaxError      the text does not follow the grammar
          └── LLMCLSemanticError    it parses, but means nothing valid (unknown function,
                                    wrong types, unresolved import, conflicting clauses ...)

``str(error)`` gives every diagnostic of the error (one compile pass collects as many
as it can), each as ``file:line:column: error: message`` followed by the source line,
a caret under the offending text and a hint when one is obvious.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from .._exceptions import LLMContractsError

__all__ = ["LLMCLError", "LLMCLSemanticError", "LLMCLSyntaxError", "did_you_mean"]

_WIDTH = 100


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """Return a ``did you mean 'x'?`` hint for a misspelt ``word``, or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


class LLMCLError(LLMContractsError, ValueError):
    """Raise when LLMCL source (or a compiled spec) cannot be used.

    Attributes:
        message: what is wrong, for people.
        file: the source file's name (``<source>`` for text without a file).
        line, column: where, 1-based; None when the error has no place in a source.
        end_column: the column just past the offending text, on the same line.
        source_line: the text of that line.
        expected: what the parser would have accepted there, in words.
        hint: a suggestion, when one is obvious.
        errors: every diagnostic of this error, this one first.
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        end_column: int | None = None,
        source_line: str | None = None,
        expected: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file or "<source>"
        self.line = line
        self.column = column
        self.end_column = end_column
        self.source_line = source_line
        self.expected = list(expected)
        self.hint = hint
        self.errors: list[LLMCLError] = [self]

    @classmethod
    def at(
        cls,
        message: str,
        *,
        file: str | None,
        source: str | None,
        line: int | None,
        column: int | None,
        end_column: int | None = None,
        expected: Sequence[str] = (),
        hint: str | None = None,
    ) -> LLMCLError:
        """Return an error at ``line``:``column`` of ``source``, with that line quoted."""
        source_line = None
        if source is not None and line is not None:
            # Lines as the parser counts them: only "\n" ends one (not "\x0c" or "\u2028").
            lines = source.split("\n")
            source_line = lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""
        return cls(
            message,
            file=file,
            line=line,
            column=column,
            end_column=end_column,
            source_line=source_line,
            expected=expected,
            hint=hint,
        )

    def with_others(self, others: Sequence[LLMCLError]) -> LLMCLError:
        """Return this error carrying ``others`` as further diagnostics."""
        self.errors = [self, *(e for e in others if e is not self)]
        return self

    def render(self) -> str:
        """Return this one diagnostic, compiler style, without the others."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        lines = [f"{where}: {self.kind}: {self.message}"]
        if self.source_line is not None and self.column is not None:
            text = self.source_line.rstrip("\r\n")
            start = max(self.column - 1, 0)
            if len(text) > _WIDTH:
                # Show a window of a long line around the offending text.
                cut = max(0, min(start - _WIDTH // 2, len(text) - _WIDTH))
                text = text[cut : cut + _WIDTH]
                start -= cut
                if self.end_column:
                    self.end_column -= cut
            lines.append(f"    {text}")
            end = self.end_column - 1 if self.end_column and self.end_column > self.column else start + 1
            end = max(start + 1, min(end, len(text))) if len(text) > start else start + 1
            # Tabs stay tabs so the caret lines up in any terminal.
            pad = "".join("\t" if ch == "\t" else " " for ch in text[:start])
            lines.append(f"    {pad}{'^' * (end - start)}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        rendered = "\n".join(e.render() for e in self.errors)
        if len(self.errors) > 1:
            rendered += f"\n{len(self.errors)} errors"
        return rendered

    def to_dict(self) -> dict[str, object]:
        """Return this diagnostic as plain data (for editors and the control plane)."""
        return {
            "kind": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_column": self.end_column,
            "expected": self.expected,
            "hint": self.hint,
        }


class LLMCLSyntaxError(LLMCLError):
    """Raise when LLMCL source does not follow the grammar."""


class LLMCLSemanticError(LLMCLError):
    """Raise when LLMCL source parses but does not mean a valid contract."""


def combine(errors: Sequence[LLMCLError]) -> LLMCLError:
    """Return the first error (in source order) carrying all of ``errors``."""
    ordered = sorted(errors, key=lambda e: (e.file, e.line or 0, e.column or 0))
    return ordered[0].with_others(ordered)
