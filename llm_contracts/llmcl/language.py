"""The words of LLMCL and a lexer that never raises, for tools that work on text being edited.

An editor's text is often broken: :func:`tokens` returns the tokens up to the first
character the language cannot start a token with (an unclosed string, a stray ``'``)
instead of raising, so completion and hover keep working on the rest.

Example::

    from llm_contracts.llmcl.language import FUNCTIONS, tokens

    [t.type for t in tokens('ensure len(output) <= 10')]
    # ['ENSURE', 'NAME', 'LPAR', 'OUTPUT', 'RPAR', 'COMP_OP', 'NUMBER']
"""

from __future__ import annotations

from dataclasses import dataclass

from lark.exceptions import UnexpectedInput

from ._compiler import ENFORCEMENTS, FIXES, PRIORITIES, SEVERITIES
from ._functions import FUNCTIONS, TYPE_WORDS, Signature
from ._grammar import BODY_KEYWORDS, KEYWORDS
from ._parser import parser

__all__ = [
    "BODY_KEYWORDS",
    "ENFORCEMENTS",
    "FIXES",
    "FUNCTIONS",
    "KEYWORDS",
    "PRIORITIES",
    "SEVERITIES",
    "TYPE_WORDS",
    "Signature",
    "Token",
    "tokens",
]


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its terminal's name (``NAME``, ``STRING``, ``ENSURE`` ...), text and place.

    Lines and columns are 1-based and count characters; ``end_column`` is exclusive;
    ``offset`` is the index of the first character in the source.
    """

    type: str
    text: str
    line: int
    column: int
    end_line: int
    end_column: int
    offset: int


def tokens(source: str, *, comments: bool = False) -> list[Token]:
    """Return the tokens of ``source`` up to the first one that cannot be lexed (line ends left out)."""
    out: list[Token] = []
    try:
        for tok in parser().lex(source, dont_ignore=True):
            if tok.type in ("WS", "_NL") or (tok.type == "COMMENT" and not comments):
                continue
            out.append(
                Token(
                    tok.type,
                    str(tok),
                    tok.line or 0,
                    tok.column or 0,
                    tok.end_line or 0,
                    tok.end_column or 0,
                    tok.start_pos or 0,
                )
            )
    except UnexpectedInput:
        pass
    return out
