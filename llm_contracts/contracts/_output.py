"""Built-in contracts on the text of an answer: patterns, length and refusals."""

from __future__ import annotations

import re
from typing import Any

from .._exceptions import ContractConfigError
from .._regex import Pattern, compile_pattern
from ._base import Contract, ValidationContext, ValidationResult, stream_window, text_of
from ._types import LLMResponse

__all__ = ["LengthContract", "RefusalContract", "RegexContract", "answer_text"]


def answer_text(value: Any) -> str | None:
    """Return the text to judge, or None for a turn that only calls tools.

    A turn made only of tool calls is not the answer yet: judging its empty text
    would re-ask the model in the middle of a tool loop.
    """
    if isinstance(value, LLMResponse):
        if value.tool_calls and not value.text.strip():
            return None
        return value.text
    return text_of(value)


def _excerpt(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open_ended(text: str, end: int) -> bool:
    """Return True when a match ending at ``end`` of streamed text may still change.

    A match that ends on a word character at the end of the text so far can be undone
    by the next chunk ("secret" -> "secretary" against ``secret\\b``); the next chunk,
    or the final check of the whole answer, decides it.
    """
    return end >= len(text) and end > 0 and (text[end - 1].isalnum() or text[end - 1] == "_")


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContractConfigError(f"{name} must be an int >= 0 or None; got {value!r}")
    return value


class RegexContract(Contract):
    """Require (or forbid) a regular expression in the answer.

    Parameters:
        pattern: the expression (Python syntax), a string or a compiled ``re.Pattern``. It runs
            on RE2 (linear time, ASCII ``\\d``/``\\w``); one that needs a backreference or a
            lookaround runs on a backtracking engine with a 50 ms limit per match, and a
            match over the limit is an error of the contract, not a verdict.
        must_match: True: the answer must match; False: it must not contain a match.
        flags: ``re`` flags for a string pattern, or their names ("IGNORECASE|MULTILINE").
        fullmatch: match the whole answer (surrounding whitespace ignored), not a part.
        message: the violation message, instead of the default one.

    A forbidding contract (``must_match=False``, not ``fullmatch``) also checks
    streamed text as it arrives.

    Example::

        RegexContract(r"^TICKET-\\d+", flags=re.MULTILINE)
        RegexContract(r"(?i)as an ai", must_match=False)
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        *,
        must_match: bool = True,
        flags: int | re.RegexFlag | str = 0,
        fullmatch: bool = False,
        message: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kwargs.pop("name", None), **kwargs)
        if not isinstance(pattern, (str, re.Pattern)):
            raise ContractConfigError(f"pattern must be a str or a compiled re.Pattern; got {pattern!r}")
        if isinstance(pattern, re.Pattern) and flags:
            raise ContractConfigError("flags: cannot be given with a compiled pattern (it has its own)")
        # RE2 runs it in linear time; a pattern RE2 cannot express (a backreference, a
        # lookaround) runs on the backtracking engine under a hard time limit per match.
        self.regex = compile_pattern(pattern, flags, fallback=True)
        self.must_match = bool(must_match)
        self.fullmatch = bool(fullmatch)
        self.message = message
        # Streamed text can only prove a forbidden match; "must match" needs the end.
        self.supports_streaming = not self.must_match and not self.fullmatch

    def _judge(self, text: str, *, partial: bool = False, pos: int = 0) -> ValidationResult:
        found = self.regex.fullmatch(text.strip()) if self.fullmatch else self.regex.search(text, pos)
        if partial and found is not None and _open_ended(text, found.end()):
            return self.ok()
        if self.must_match:
            return self.ok() if found is not None else self._missing()
        if found is None:
            return self.ok()
        pattern = self.regex.pattern
        return self.fail(
            self.message
            or f"the answer contains forbidden text {_excerpt(found.group())!r} (pattern /{pattern}/)",
            suggestion="Leave out text like the one quoted.",
            span=list(found.span()),
        )

    def _missing(self) -> ValidationResult:
        """Return the violation of an answer without the required match."""
        pattern = self.regex.pattern
        how = "as a whole " if self.fullmatch else ""
        return self.fail(
            self.message or f"the answer does not match {how}the pattern /{pattern}/",
            suggestion=f"Make the answer {how}match the regular expression /{pattern}/.",
        )

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text = answer_text(value)
        if text is None:
            return self.ok(skipped="tool_calls")
        regex = self.regex
        # A search on RE2 needs no time limit and no match object for a verdict; only a
        # forbidden match is searched for again, for its text and span. (On the fallback
        # engine each search has its own time limit: one search a verdict there.)
        if regex.engine == "re2" and not self.fullmatch:
            hit = regex.contains(text)
            must = self.must_match
            if hit if must else not hit:
                # What self.ok() builds.
                return ValidationResult(True, "", self.severity, self.name, {})
            if must:
                return self._missing()
        return self._judge(text)

    def validate_partial(self, text: str, context: ValidationContext | None = None) -> ValidationResult:
        # Only the new text and an overlap are scanned (a match may straddle chunk
        # borders); searching from a position keeps lookbehinds and anchors exact.
        pos = stream_window(text, context)
        regex = self.regex
        if (
            regex.engine == "re2"
            and not self.fullmatch
            and not self.must_match
            and not regex.contains(text, pos)
        ):
            # No forbidden text so far (the usual chunk): what self.ok() builds.
            return ValidationResult(True, "", self.severity, self.name, {})
        return self._judge(text, partial=True, pos=pos)


class LengthContract(Contract):
    """Keep the answer within a number of characters and/or words.

    Parameters:
        min_chars, max_chars: bounds on the characters of the answer (whitespace at
            either end not counted).
        min_words, max_words: bounds on the words (runs of non-space characters).

    Maximums are also checked on streamed text as it arrives.

    Example::

        LengthContract(max_words=120)
    """

    def __init__(
        self,
        min_chars: int | None = None,
        max_chars: int | None = None,
        min_words: int | None = None,
        max_words: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(kwargs.pop("name", None), **kwargs)
        self.min_chars = _count(min_chars, "min_chars")
        self.max_chars = _count(max_chars, "max_chars")
        self.min_words = _count(min_words, "min_words")
        self.max_words = _count(max_words, "max_words")
        for low, high, unit in (
            (self.min_chars, self.max_chars, "chars"),
            (self.min_words, self.max_words, "words"),
        ):
            if low is not None and high is not None and high < low:
                raise ContractConfigError(f"max_{unit} ({high}) must be >= min_{unit} ({low})")
        if all(v is None for v in (self.min_chars, self.max_chars, self.min_words, self.max_words)):
            raise ContractConfigError(
                "LengthContract needs at least one of min_chars, max_chars, min_words, max_words"
            )
        self.supports_streaming = self.max_chars is not None or self.max_words is not None

    def _judge(self, text: str, *, partial: bool) -> ValidationResult:
        text = text.strip()
        chars = len(text)
        if self.max_chars is not None and chars > self.max_chars:
            return self.fail(
                f"the answer has {chars} characters, more than the maximum of {self.max_chars}",
                suggestion=f"Shorten the answer to at most {self.max_chars} characters.",
                chars=chars,
            )
        if not partial and self.min_chars is not None and chars < self.min_chars:
            return self.fail(
                f"the answer has {chars} characters, fewer than the minimum of {self.min_chars}",
                suggestion=f"Write at least {self.min_chars} characters.",
                chars=chars,
            )
        if self.max_words is None and (partial or self.min_words is None):
            return self.ok()
        words = len(text.split())
        if self.max_words is not None and words > self.max_words:
            return self.fail(
                f"the answer has {words} words, more than the maximum of {self.max_words}",
                suggestion=f"Shorten the answer to at most {self.max_words} words.",
                words=words,
            )
        if not partial and self.min_words is not None and words < self.min_words:
            return self.fail(
                f"the answer has {words} words, fewer than the minimum of {self.min_words}",
                suggestion=f"Write at least {self.min_words} words.",
                words=words,
            )
        return self.ok()

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text = answer_text(value)
        return self.ok(skipped="tool_calls") if text is None else self._judge(text, partial=False)

    def validate_partial(self, text: str, context: ValidationContext | None = None) -> ValidationResult:
        return self._judge(text, partial=True)


# Refusal openers. Each must start a sentence within the first few hundred characters,
# so an answer that merely says "sorry" somewhere ("Sorry for the wait, here it is")
# or quotes a refusal later on is not mistaken for one.
_CANT = (
    r"(?:can'?t|cannot|can not|won'?t|will not|am unable|'m unable|am not able|'m not able"
    r"|must decline|am not allowed|'m not allowed|do not feel comfortable|don'?t feel comfortable)"
)
_ACTS = (
    r"(?:help(?! but)|assist|comply|provide|fulfil|do (?:that|this)|support|answer|engage|create"
    r"|generate|write|share|give|discuss|offer)"
)
_REFUSAL_PATTERNS = (
    rf"(?:i'?m|i am) (?:really |very |so |truly )?sorry,? (?:but )?(?:i|we)(?: really)? {_CANT}",
    rf"(?:i )?apologi[sz]e,? (?:but )?(?:i|we) {_CANT}",
    rf"sorry,? (?:but )?(?:i|we) {_CANT}",
    rf"unfortunately,? (?:i|we) {_CANT}",
    rf"(?:i|we) (?:can'?t|cannot|can not|won'?t|will not|am unable to|'m unable to|am not able to"
    rf"|'m not able to) {_ACTS}",
    r"(?:i|we) must (?:respectfully )?decline",
    r"as an ai language model\b",
    rf"as an ai(?: model| assistant)?,? (?:i|we) {_CANT}",
)
_SENTENCE_START = r"(?:^|(?<=[.!?:\n])[\s\"'*_]*)"


class RefusalContract(Contract):
    """Reject answers in which the model refuses the request.

    Two signals: the provider's own refusal field (OpenAI's ``message.refusal``),
    and refusal phrases ("I'm sorry, but I can't", "I cannot help with", "As an AI
    language model") that start a sentence near the beginning of the answer.

    Parameters:
        window: how many leading characters may hold the refusal phrase.
        extra_patterns: more regular expressions (lower-case text, straight apostrophes)
            that mark a refusal where a sentence starts.
        use_provider_field: also trust the provider's refusal field.
    """

    def __init__(
        self,
        *,
        window: int = 200,
        extra_patterns: tuple[str, ...] | list[str] = (),
        use_provider_field: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(kwargs.pop("name", None), **kwargs)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ContractConfigError(f"window must be an int >= 1; got {window!r}")
        if isinstance(extra_patterns, str):
            raise ContractConfigError("extra_patterns must be a list of patterns, not one string")
        self.window = window
        self.use_provider_field = use_provider_field
        self._regex = re.compile(f"{_SENTENCE_START}(?:{'|'.join(f'(?:{p})' for p in _REFUSAL_PATTERNS)})")
        # The built-in phrases above are ours; the extra ones are contract data, so they
        # run on the linear-time engine (a sentence start there has no lookbehind: the
        # match may begin at the punctuation before the phrase).
        self._extra: list[Pattern] = []
        for pattern in extra_patterns:
            try:
                compile_pattern(pattern, fallback=True)
            except ContractConfigError as exc:
                raise ContractConfigError(f"extra_patterns: {exc}") from None
            self._extra.append(compile_pattern(f"(?:^|[.!?:\\n])[\\s\"'*_]*(?:{pattern})", fallback=True))
        self.supports_streaming = True

    def _judge(self, text: str, *, partial: bool = False) -> ValidationResult:
        # A phrase that starts inside the window may end past it.
        head = text[: self.window + 80].lstrip(" \t\r\n\"'*_>#")
        lowered = head.lower().replace("\u2019", "'")
        found: Any = self._regex.search(lowered)
        for extra in self._extra:
            hit = extra.search(lowered)
            if hit is not None and (found is None or hit.start() < found.start()):
                found = hit
        if found is None or found.start() > self.window:
            return self.ok()
        if partial and len(text) <= self.window + 80 and _open_ended(head, found.end()):
            return self.ok()  # "I can't help" may go on "... but notice"
        sentence = head[found.start() :].split("\n", 1)[0]
        return self.fail(f"the answer is a refusal: {_excerpt(sentence.strip(), 100)!r}", source="phrase")

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        if self.use_provider_field and isinstance(value, LLMResponse) and value.refusal:
            return self.fail(
                f"the model refused: {_excerpt(value.refusal.strip(), 100)!r}", source="provider"
            )
        text = answer_text(value)
        return self.ok(skipped="tool_calls") if text is None else self._judge(text)

    def validate_partial(self, text: str, context: ValidationContext | None = None) -> ValidationResult:
        return self._judge(text, partial=True)
