"""Token counting: exact with the bundled tiktoken encodings, a labelled estimate otherwise.

tiktoken is optional (the ``tokens`` extra) and imported only when a count needs it.
Its BPE rank files ship with this package, gzipped, and are checked against the
SHA-256 tiktoken itself expects, so counting never downloads anything.

Per-text counts are kept in a bounded LRU cache: a conversation resends its system
prompt and its history on every call, and only the new messages need encoding.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import LLMContractsError
from ._limits import KNOWN_MODELS, ModelLimits
from ._types import Message

__all__ = [
    "ModelLimits",
    "TokenCount",
    "TokenizerDataError",
    "count_message_tokens",
    "count_tokens",
    "encoding_name_for",
    "estimate_tokens",
    "get_encoding",
    "KNOWN_MODELS",
    "load_bpe_ranks",
    "message_parts",
    "message_token_bound",
    "message_tokens",
    "model_limits",
    "tiktoken_available",
    "truncate_to_tokens",
    "utf8_len",
]

log = logging.getLogger("llm_contracts")

# Chat formatting overhead, as OpenAI documents it for every current chat model:
# each message costs 3 tokens plus its role (and its name plus 1), and the reply is
# primed with 3 more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

# The encodings whose rank files ship with the package: (sha256 of the rank file,
# split pattern, special tokens), copied from tiktoken_ext/openai_public.py.
_BUNDLED: dict[str, tuple[str, str, dict[str, int]]] = {
    "o200k_base": (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
        {
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
}
# Encodings that tokenize ordinary text exactly like a bundled one (they differ only in
# special tokens, which ordinary counting never produces).
_SAME_RANKS = {"o200k_harmony": "o200k_base"}


class TokenizerDataError(LLMContractsError, RuntimeError):
    """Raise when a bundled tokenizer file is missing or does not match its expected hash."""


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A number of tokens and how it was obtained.

    ``exact`` is True when the number comes from the model's own tokenizer
    (``method="tiktoken"``); an ``"estimate"`` is a heuristic, never below 1 token per
    4 characters and never above the UTF-8 length.
    """

    tokens: int
    exact: bool
    encoding: str | None
    method: str

    def to_dict(self) -> dict[str, Any]:
        """Return the count as plain data, for a result's details."""
        return {"tokens": self.tokens, "exact": self.exact, "encoding": self.encoding, "method": self.method}


# -- the model -> encoding map --------------------------------------------------------


def _import_tiktoken() -> Any:
    try:
        import tiktoken
    except ImportError:
        return None
    return tiktoken


def _model_key(model: str) -> str:
    """Return the base model name of a fine-tune (``ft:gpt-4o-mini:org::id`` -> ``gpt-4o-mini``)."""
    if model.startswith("ft:"):
        return model[3:].split(":", 1)[0]
    return model


_MODEL_ENCODINGS: dict[str, str | None] = {}


def encoding_name_for(model: str | None) -> str | None:
    """Return the name of ``model``'s encoding per tiktoken's tables, or None when unknown."""
    if not model:
        return None
    try:
        return _MODEL_ENCODINGS[model]
    except KeyError:
        pass
    name = _lookup_encoding_name(model)
    if tiktoken_available() and len(_MODEL_ENCODINGS) < 1024:
        _MODEL_ENCODINGS[model] = name
    return name


def tiktoken_available() -> bool:
    """Return True when tiktoken is installed (exact counts are possible)."""
    return _import_tiktoken() is not None


def _lookup_encoding_name(model: str) -> str | None:
    tiktoken = _import_tiktoken()
    if tiktoken is None:
        return None
    from tiktoken.model import encoding_name_for_model

    try:
        return str(encoding_name_for_model(model))
    except KeyError:
        pass
    base = _model_key(model)
    if base == model:
        return None
    try:
        return str(encoding_name_for_model(base))
    except KeyError:
        return None


# -- loading the bundled encodings ------------------------------------------------------


def load_bpe_ranks(path: str | os.PathLike[str], expected_sha256: str) -> dict[bytes, int]:
    """Read a gzipped tiktoken rank file; raise ``TokenizerDataError`` unless its hash matches."""
    import base64
    import gzip
    import hashlib

    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        data = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise TokenizerDataError(f"cannot read tokenizer file {os.fspath(path)!r}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise TokenizerDataError(
            f"tokenizer file {os.fspath(path)!r} is corrupt: sha256 {actual} != {expected_sha256}"
        )
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


_ENCODINGS: dict[str, Any] = {}
_FAILED: dict[str, str] = {}
_LOAD_LOCK = threading.Lock()


def _bundled_path(name: str) -> Any:
    from importlib import resources

    return resources.files("llm_contracts").joinpath("_data", f"{name}.tiktoken.gz")


def get_encoding(name: str) -> Any:
    """Return the ``tiktoken.Encoding`` ``name`` built from the bundled files, or None.

    None means tiktoken is not installed, the encoding is not bundled, or its file
    failed the hash check (logged once). Each encoding is loaded once per process.
    """
    enc = _ENCODINGS.get(name)
    if enc is not None:
        return enc
    source = _SAME_RANKS.get(name, name)
    if source not in _BUNDLED or name in _FAILED:
        return None
    tiktoken = _import_tiktoken()
    if tiktoken is None:
        return None
    with _LOAD_LOCK:
        # Another thread may have loaded it while this one waited for the lock.
        enc = _ENCODINGS.get(name)
        if enc is not None or name in _FAILED:
            return enc
        from importlib import resources

        sha, pat_str, special = _BUNDLED[source]
        try:
            with resources.as_file(_bundled_path(source)) as path:
                ranks = load_bpe_ranks(path, sha)
        except TokenizerDataError as exc:
            _FAILED[name] = str(exc)
            log.error("llm_contracts: %s; token counts fall back to estimates", exc)
            return None
        enc = tiktoken.Encoding(source, pat_str=pat_str, mergeable_ranks=ranks, special_tokens=special)
        _ENCODINGS[name] = enc
        return enc


# -- the per-text count cache -------------------------------------------------------------


class _CountCache:
    """A thread-safe LRU of token counts keyed by (encoding, text), bounded in entries and characters.

    The text itself is the key (not a digest of it): equal keys compare exactly, and a
    string's hash is computed once per string object, so a resent history costs a dict
    lookup per message.
    """

    def __init__(self, max_entries: int = 4096, max_chars: int = 8_000_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._data: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, encoding: str, texts: list[str]) -> list[int | None]:
        """Return the cached counts of ``texts`` (None where unknown), under one lock."""
        get = self._data.get
        touch = self._data.move_to_end
        out: list[int | None] = []
        misses = 0
        with self._lock:
            for text in texts:
                key = (encoding, text)
                n = get(key)
                if n is None:
                    misses += 1
                else:
                    touch(key)
                out.append(n)
            self.hits += len(out) - misses
            self.misses += misses
        return out

    def put_many(self, encoding: str, items: list[tuple[str, int]]) -> None:
        """Remember counts, evicting the least recently used beyond the bounds."""
        data = self._data
        with self._lock:
            for text, tokens in items:
                key = (encoding, text)
                if len(text) > self.max_chars or key in data:
                    continue
                data[key] = tokens
                self._chars += len(text)
            while len(data) > self.max_entries or self._chars > self.max_chars:
                (_, old), _n = data.popitem(last=False)
                self._chars -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._chars = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


_CACHE = _CountCache()


# -- counting ----------------------------------------------------------------------------


def utf8_len(text: str) -> int:
    """Return the UTF-8 length of ``text`` in bytes (an upper bound of its token count)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def estimate_tokens(text: str) -> int:
    """Return a tokenizer-free estimate of ``text``'s tokens (never above its UTF-8 length)."""
    if not text:
        return 0
    nbytes = utf8_len(text)
    guess = max(math.ceil(len(text) / 4), math.ceil(nbytes / 4), math.ceil(len(text.split()) * 1.3))
    return min(guess, nbytes)


class _Counter:
    """Count texts with one encoding (or the estimate), through the shared cache."""

    __slots__ = ("enc", "encoding", "exact", "key")

    def __init__(self, model: str | None, encoding: str | None) -> None:
        name = encoding or encoding_name_for(model)
        self.enc = get_encoding(name) if name else None
        self.exact = self.enc is not None
        self.encoding = name if self.exact else None
        # Encodings that share ranks share cache entries; estimates have their own key.
        self.key = self.enc.name if self.enc is not None else "~estimate"

    def _count(self, text: str) -> int:
        if self.enc is None:
            return estimate_tokens(text)
        # encode_ordinary: user text that spells a special token is plain text to the
        # API, and encode() would raise on it. One pass, no copies.
        return len(self.enc.encode_ordinary(text))

    def many(self, texts: list[str]) -> list[int]:
        cached = _CACHE.get_many(self.key, texts)
        fresh: list[tuple[str, int]] = []
        out: list[int] = []
        for text, n in zip(texts, cached, strict=True):
            if n is None:
                n = self._count(text) if text else 0
                fresh.append((text, n))
            out.append(n)
        if fresh:
            _CACHE.put_many(self.key, fresh)
        return out

    def __call__(self, text: str) -> int:
        return self.many([text])[0] if text else 0

    def small(self, text: str) -> int:
        """Count a role or a name: few distinct values, kept apart from the LRU."""
        table = _SMALL.get(self.key)
        if table is None:
            table = _SMALL.setdefault(self.key, {})
        n = table.get(text)
        if n is None:
            n = self._count(text) if text else 0
            if len(table) >= 4096:
                table.clear()  # names are user-controlled: never grow without bound
            table[text] = n
        return n

    def result(self, tokens: int) -> TokenCount:
        return TokenCount(tokens, self.exact, self.encoding, "tiktoken" if self.exact else "estimate")


# Per cache key: the counts of roles and names.
_SMALL: dict[str, dict[str, int]] = {}


def count_tokens(text: str, model: str | None = None, *, encoding: str | None = None) -> TokenCount:
    """Count the tokens of ``text`` for ``model`` (or a named ``encoding``)."""
    counter = _Counter(model, encoding)
    return counter.result(counter(text))


_Parts = list[tuple[str, str, str | None]]


def _parts(message: Message | Mapping[str, Any]) -> tuple[str, str, str | None]:
    if isinstance(message, Message):
        return message.role, message.content, message.name
    content = message.get("content")
    if not isinstance(content, str):
        content = _content_text(content)
    name = message.get("name")
    return str(message.get("role", "")), content, name if isinstance(name, str) else None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    if isinstance(content, (list, tuple)):
        return "\n".join(t for t in (_content_text(p) for p in content) if t)
    return ""


def message_parts(messages: Iterable[Message | Mapping[str, Any]]) -> _Parts:
    """Return (role, text, name) of each message, for the counting functions below."""
    return [(m.role, m.content, m.name) if type(m) is Message else _parts(m) for m in messages]


def count_message_tokens(
    messages: Iterable[Message | Mapping[str, Any]] | _Parts,
    model: str | None = None,
    *,
    encoding: str | None = None,
) -> TokenCount:
    """Count a chat prompt's tokens as the API bills them (message and reply overheads included)."""
    parts = _as_parts(messages)
    counter = _Counter(model, encoding)
    small = counter.small
    total = REPLY_PRIMING + TOKENS_PER_MESSAGE * len(parts)
    for (role, _content, name), n in zip(parts, counter.many([p[1] for p in parts]), strict=True):
        total += small(role) + n
        if name:
            total += small(name) + TOKENS_PER_NAME
    return counter.result(total)


def message_tokens(
    message: Message | Mapping[str, Any], model: str | None = None, *, encoding: str | None = None
) -> int:
    """Return one message's share of a prompt's tokens (overhead included, reply priming not)."""
    counter = _Counter(model, encoding)
    role, content, name = _parts(message)
    return (
        TOKENS_PER_MESSAGE
        + counter.small(role)
        + counter(content)
        + (counter.small(name) + TOKENS_PER_NAME if name else 0)
    )


def message_token_bound(
    messages: Iterable[Message | Mapping[str, Any]] | _Parts, *, stop_above: int | None = None
) -> int:
    """Return an upper bound of a chat prompt's tokens without tokenizing: every token is >= 1 byte.

    With ``stop_above``, counting stops once the bound exceeds it (a text never has
    fewer bytes than characters), so an over-long prompt costs no full UTF-8 pass.
    """
    parts = _as_parts(messages)
    total = REPLY_PRIMING + TOKENS_PER_MESSAGE * len(parts)
    for role, content, name in parts:
        n = len(content)
        if stop_above is not None and total + n > stop_above:
            return total + n
        total += (n if content.isascii() else utf8_len(content)) + utf8_len(role)
        if name:
            total += utf8_len(name) + TOKENS_PER_NAME
    return total


def _as_parts(messages: Iterable[Message | Mapping[str, Any]] | _Parts) -> _Parts:
    # Callers that count and bound the same messages split them once and pass the parts.
    if isinstance(messages, list) and (not messages or type(messages[0]) is tuple):
        return messages
    return message_parts(messages)  # type: ignore[arg-type]


def truncate_to_tokens(
    text: str, limit: int, model: str | None = None, *, encoding: str | None = None, keep: str = "head"
) -> str:
    """Return the longest head (or tail) of ``text`` that counts at most ``limit`` tokens."""
    if limit <= 0:
        return ""
    counter = _Counter(model, encoding)
    if counter(text) <= limit:
        return text
    if counter.enc is not None:
        ids = counter.enc.encode_ordinary(text)
        cut = limit
        while cut > 0:
            part = ids[:cut] if keep == "head" else ids[-cut:]
            # A cut inside a multi-byte character leaves a partial byte sequence: drop it.
            out: str = counter.enc.decode(part, errors="ignore")
            if len(counter.enc.encode_ordinary(out)) <= limit:
                return out
            cut -= 1
        return ""
    n = len(text)
    while n > 0:
        n = min(n - 1, int(n * limit / max(estimate_tokens(text[:n] if keep == "head" else text[-n:]), 1)))
        out = text[:n] if keep == "head" else text[len(text) - n :]
        if estimate_tokens(out) <= limit:
            return out
    return ""


# -- model limits --------------------------------------------------------------------------


# A dated snapshot of a known model: gpt-4o-2024-08-06, gpt-4-0613, o3-mini-2025-01-31.
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def model_limits(model: str | None) -> ModelLimits | None:
    """Return the limits of a known model (snapshots and fine-tunes included), or None."""
    if not model:
        return None
    name = _model_key(model)
    limits = KNOWN_MODELS.get(name)
    if limits is None:
        limits = KNOWN_MODELS.get(_SNAPSHOT.sub("", name))
    return limits
