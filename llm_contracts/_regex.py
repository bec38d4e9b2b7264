"""Regular expressions from contracts and data, run where they cannot hang the host.

Python's ``re`` backtracks: ``(a+)+$`` against 31 characters takes seconds, and every
extra character doubles it. Every pattern that comes from a contract (``RegexContract``,
LLMCL, JSON Schema ``pattern``) or from data is therefore compiled here, and the control
plane uses this module too, so a pattern means the same thing on both sides:

- RE2 (``google-re2``) runs every pattern it can express: matching takes time linear in
  the text, whatever the pattern. Its ``\\d``, ``\\w`` and ``\\b`` are ASCII-only.
- Backreferences, lookaround and possessive repeats are features RE2 lacks. With
  ``fallback=False`` (LLMCL, the control plane) such a pattern is refused with
  :class:`PatternError` (``reason == "unsupported"``); with ``fallback=True`` (a
  ``RegexContract`` written in Python, JSON Schema keywords) it runs on the ``regex``
  package with a hard time limit per match, and a match that hits the limit raises
  :class:`PatternTimeout` (the engine counts that as the contract's error).
- A pattern too large for RE2 (a repeat count over 1,000, ``(a{100}){100}``, or past its
  memory budget) is ``reason == "too expensive"``: refused without ``fallback``, bounded
  with it.

Model and user text is never compiled as a pattern unless a contract says so explicitly
(LLMCL's ``matches(output, context.pattern)``); LLMCL refuses ``matches(output, input)``.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from ._exceptions import ContractConfigError, LLMContractsError

__all__ = [
    "MATCH_TIMEOUT_S",
    "Match",
    "Pattern",
    "PatternError",
    "PatternTimeout",
    "compile_pattern",
    "schema_patterns",
    "schema_validator_class",
]

# The hard limit of one match on the fallback engine: long enough for any sane pattern
# on an answer, short enough that a catastrophic one costs the call next to nothing.
MATCH_TIMEOUT_S = 0.05

_SUPPORTED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII | re.UNICODE
_LEADING_FLAGS = re.compile(r"\A\(\?([aiLmsux]+)\)")


class PatternError(ContractConfigError):
    """Raise when a pattern is invalid, needs what RE2 lacks, or is too large for it.

    ``reason`` is ``"invalid"``, ``"unsupported"`` or ``"too expensive"``; ``offset`` is
    the 0-based position in the pattern of what is wrong, when known.
    """

    def __init__(
        self, message: str, *, pattern: str, reason: str, offset: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message
        self.pattern = pattern
        self.reason = reason
        self.offset = offset


class PatternTimeout(LLMContractsError):
    """Raise when a match on the fallback engine hits its hard time limit."""


class Match(Protocol):
    """What a match of either engine offers."""

    def group(self, *args: Any) -> Any: ...
    def span(self, group: int = ...) -> tuple[int, int]: ...
    def start(self, group: int = ...) -> int: ...
    def end(self, group: int = ...) -> int: ...


class Pattern:
    """A compiled pattern; ``engine`` says which engine runs it (``"re2"`` or ``"regex"``)."""

    __slots__ = ("_anchors", "_compiled", "_raw", "_raw_match", "engine", "flags", "pattern", "timeout")

    def __init__(self, pattern: str, flags: int, engine: str, compiled: Any, timeout: float) -> None:
        self.pattern = pattern
        self.flags = flags
        self.engine = engine
        self._compiled = compiled
        self.timeout = timeout
        # The bindings' own search wraps one C++ call in a generator and a match object
        # (about 4 µs a call, paid per chunk of a stream); the call alone is under 1 µs.
        self._anchors = _anchors() if engine == "re2" else None
        self._raw = getattr(compiled, "_regexp", None) if self._anchors is not None else None
        self._raw_match = self._raw.Match if self._raw is not None else None

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r}, engine={self.engine!r})"

    def _bounded(self, method: Callable[..., Any], text: str, *args: Any) -> Any:
        try:
            return method(text, *args, timeout=self.timeout)
        except TimeoutError:
            raise PatternTimeout(
                f"the pattern /{_clip(self.pattern)}/ is too expensive: one match on {len(text)} characters "
                f"took longer than {self.timeout * 1000:g} ms"
            ) from None

    def _span(self, data: bytes, pos: int, whole: bool) -> tuple[int, int] | None:
        if self._raw is not None:
            start, end = self._raw.Match(self._anchors[whole], data, pos, len(data))[0]  # type: ignore[index]
            return None if start < 0 else (start, end)
        found = self._compiled.fullmatch(data) if whole else self._compiled.search(data, pos)
        return None if found is None else found.span()

    def _re2(self, text: str, pos: int = 0, *, whole: bool = False) -> Match | None:
        # RE2 runs on UTF-8 bytes. Its wrapper converts str offsets char by char in Python
        # (about 12 ns a character, on every call: quadratic over a stream checked chunk by
        # chunk), so the bytes are handed over here and only the match is converted back.
        if text.isascii():
            span = self._span(text.encode("ascii"), pos, whole)
            return None if span is None else _Found(text, *span)
        encoded = text.encode("utf-8", "surrogatepass")
        span = self._span(encoded, len(text[:pos].encode("utf-8", "surrogatepass")), whole)
        if span is None:
            return None
        start, end = span
        first = len(encoded[:start].decode("utf-8", "surrogatepass"))
        return _Found(text, first, first + len(encoded[start:end].decode("utf-8", "surrogatepass")))

    def contains(self, text: str, pos: int = 0) -> bool:
        """Return True when ``text`` holds a match from ``pos``: ``search(text, pos) is not None``.

        On RE2 no match object is made and no offset converted back.
        """
        match = self._raw_match
        if match is None:
            return self.search(text, pos) is not None
        data = text.encode("utf-8", "surrogatepass")
        if pos and len(data) != len(text):
            pos = len(text[:pos].encode("utf-8", "surrogatepass"))
        return match(self._anchors[0], data, pos, len(data))[0][0] >= 0  # type: ignore[index,no-any-return]

    def search(self, text: str, pos: int = 0) -> Match | None:
        """Return the first match in ``text`` from ``pos``, or None."""
        if self.engine == "re2":
            return self._re2(text, pos)
        return self._bounded(self._compiled.search, text, pos)  # type: ignore[no-any-return]

    def fullmatch(self, text: str) -> Match | None:
        """Return the match of the whole of ``text``, or None."""
        if self.engine == "re2":
            return self._re2(text, whole=True)
        return self._bounded(self._compiled.fullmatch, text)  # type: ignore[no-any-return]


class _Found:
    """A match of RE2, in str offsets (the whole match only: no contract reads groups)."""

    __slots__ = ("_end", "_start", "_text")

    def __init__(self, text: str, start: int, end: int) -> None:
        self._text, self._start, self._end = text, start, end

    def group(self, *args: Any) -> Any:
        if args not in ((), (0,)):
            raise IndexError("only the whole match (group 0) is kept")
        return self._text[self._start : self._end]

    def span(self, group: int = 0) -> tuple[int, int]:
        return self._start, self._end

    def start(self, group: int = 0) -> int:
        return self._start

    def end(self, group: int = 0) -> int:
        return self._end


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _re2() -> Any:
    import re2

    return re2


@functools.cache
def _anchors() -> tuple[Any, Any] | None:
    """Return RE2's (unanchored, whole-text) anchors when the bindings expose them."""
    anchor = getattr(_re2(), "_Anchor", None)
    if anchor is None or not hasattr(anchor, "UNANCHORED") or not hasattr(anchor, "ANCHOR_BOTH"):
        return None
    return anchor.UNANCHORED, anchor.ANCHOR_BOTH


@functools.cache
def _options() -> Any:
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on the host's stderr
    return options


def _strip_verbose(pattern: str) -> str:
    """Return ``pattern`` without the whitespace and comments verbose mode ignores."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch.isspace():
            i += 1
            continue
        elif ch == "#":
            end = pattern.find("\n", i)
            i = len(pattern) if end < 0 else end + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _to_re2(pattern: str, flags: int) -> str:
    """Return ``pattern`` (Python syntax, ``flags``) in RE2's syntax, flags written inline."""
    lead = _LEADING_FLAGS.match(pattern)
    if lead is not None:
        for letter in lead.group(1):
            flags |= {
                "i": re.IGNORECASE,
                "m": re.MULTILINE,
                "s": re.DOTALL,
                "x": re.VERBOSE,
                "a": re.ASCII,
                "u": re.UNICODE,
                "L": re.LOCALE,
            }[letter]
        pattern = pattern[lead.end() :]
    if flags & re.VERBOSE:
        pattern = _strip_verbose(pattern)
    # Python's end of text is \Z; RE2 spells it \z (and has no \Z).
    pattern = re.sub(r"(?<!\\)((?:\\\\)*)\\Z", r"\1\\z", pattern)
    inline = "".join(
        letter
        for flag, letter in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
        if flags & flag
    )
    return f"(?{inline}){pattern}" if inline else pattern


def _flags(flags: int | str) -> int:
    if isinstance(flags, str):
        value = 0
        for name in filter(None, (n.strip().upper() for n in re.split(r"[|,]", flags))):
            flag = getattr(re.RegexFlag, name, None)
            if not isinstance(flag, re.RegexFlag):
                raise ContractConfigError(f"flags: unknown regular expression flag {name!r}")
            value |= flag
        return value
    return int(flags)


def _python_check(pattern: str, flags: int) -> None:
    """Raise ``PatternError`` when Python itself would refuse ``pattern``."""
    try:
        re.compile(pattern, flags)
    except re.error as exc:
        detail = exc.msg + (f" at position {exc.pos}" if exc.pos is not None else "")
        raise PatternError(
            f"/{_clip(pattern)}/ is not a valid regular expression: {detail}",
            pattern=pattern,
            reason="invalid",
            offset=exc.pos,
            detail=detail,
        ) from None


def _refusal(pattern: str, message: str) -> PatternError:
    if "too large" in message or "too big" in message or "repetition size" in message:
        detail = f"it does not fit the linear-time engine's memory budget ({message})"
        return PatternError(
            f"/{_clip(pattern)}/ is too expensive: {detail}",
            pattern=pattern,
            reason="too expensive",
            detail=detail,
        )
    fragment = message.rpartition(": ")[2]
    offset = pattern.find(fragment) if fragment else -1
    detail = (
        f"it needs a feature the linear-time engine (RE2) does not have ({message}); "
        "backreferences, lookaround and possessive repeats are not available"
    )
    return PatternError(
        f"/{_clip(pattern)}/ is unsupported: {detail}",
        pattern=pattern,
        reason="unsupported",
        offset=offset if offset >= 0 else None,
        detail=detail,
    )


@functools.lru_cache(maxsize=512)
def _compile(pattern: str, flags: int, fallback: bool, timeout: float) -> Pattern:
    if flags & ~_SUPPORTED_FLAGS:
        raise ContractConfigError(f"flags: {re.RegexFlag(flags & ~_SUPPORTED_FLAGS)!r} is not supported")
    re2 = _re2()
    try:
        compiled = re2.compile(_to_re2(pattern, flags), _options())
    except re2.error as exc:
        message = (
            exc.args[0].decode("utf-8", "replace")
            if exc.args and isinstance(exc.args[0], bytes)
            else str(exc)
        )
        _python_check(pattern, flags)
        refusal = _refusal(pattern, message)
        if not fallback:
            raise refusal from None
        import regex

        return Pattern(pattern, flags, "regex", regex.compile(pattern, flags), timeout)
    # Report inline flags too, as a compiled re.Pattern does (composition reads them);
    # RE2-only syntax such as \z keeps the given flags.
    with contextlib.suppress(re.error):
        flags = re.compile(pattern, flags).flags & ~re.UNICODE
    return Pattern(pattern, flags, "re2", compiled, timeout)


def compile_pattern(
    pattern: str | re.Pattern[str],
    flags: int | str = 0,
    *,
    fallback: bool = False,
    timeout: float = MATCH_TIMEOUT_S,
) -> Pattern:
    """Compile ``pattern`` (Python syntax) on RE2, or on the bounded fallback engine.

    Raise :class:`PatternError` for an invalid, unsupported (without ``fallback``) or
    too expensive pattern, ``ContractConfigError`` for flags it cannot honour.
    """
    if isinstance(pattern, re.Pattern):
        flags = _flags(flags) | (pattern.flags & ~re.UNICODE)
        pattern = pattern.pattern
    if not isinstance(pattern, str):
        raise ContractConfigError(f"pattern must be a str or a compiled re.Pattern; got {pattern!r}")
    return _compile(pattern, _flags(flags) & ~re.UNICODE, fallback, timeout)


# -- JSON Schema ----------------------------------------------------------------------------
# jsonschema evaluates "pattern", "patternProperties" and the "regex" format with Python's
# re; a schema is contract data, so these keywords are replaced by ones on this module.


def _search(pattern: str, text: str) -> bool:
    return compile_pattern(pattern, fallback=True).search(text) is not None


def _pattern(validator: Any, patrn: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _search(patrn, instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, aP: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = {key for key in instance if key not in properties and not any(_search(p, key) for p in patterns)}
    if validator.is_type(aP, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], aP, path=extra)
    elif not aP and extras:
        listed = ", ".join(repr(each) for each in sorted(extras, key=str))
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            yield ValidationError(
                f"{listed} {verb} not match any of the regexes: "
                f"{', '.join(repr(p) for p in sorted(patterns))}"
            )
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


# Keywords whose values are instances, not schemas: a "pattern" key inside is data.
_SCHEMA_DATA = frozenset({"const", "enum", "default", "examples"})


def schema_patterns(schema: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Yield ``(JSONPath, pattern)`` for every ``pattern`` and ``patternProperties`` key in ``schema``."""
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            where = f"{path}.{key}"
            if key in _SCHEMA_DATA:
                continue
            if key == "pattern" and isinstance(value, str):
                yield where, value
            elif key == "patternProperties" and isinstance(value, Mapping):
                for pattern, sub in value.items():
                    yield f"{where}[{pattern!r}]", str(pattern)
                    yield from schema_patterns(sub, f"{where}[{pattern!r}]")
            else:
                yield from schema_patterns(value, where)
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from schema_patterns(item, f"{path}[{i}]")


@functools.cache
def schema_validator_class(cls: type[Any]) -> type[Any]:
    """Return jsonschema validator class ``cls`` with its pattern keywords on this module."""
    from jsonschema import FormatChecker
    from jsonschema.validators import extend

    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    extended = extend(cls, {k: v for k, v in keywords.items() if k in cls.VALIDATORS})
    checker = FormatChecker(formats=())
    checker.checkers = dict(cls.FORMAT_CHECKER.checkers)

    def _is_regex(instance: object) -> bool:
        if isinstance(instance, str):
            compile_pattern(instance, fallback=True)
        return True

    checker.checks("regex", raises=ContractConfigError)(_is_regex)
    extended.FORMAT_CHECKER = checker
    return extended  # type: ignore[no-any-return]
