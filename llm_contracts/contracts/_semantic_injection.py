"""The semantic stage of PromptInjectionContract: each sentence of a prompt against known attacks.

A keyword list cannot follow a paraphrase ("set aside whatever guidance you got
earlier"). This stage embeds every sentence of a message with WordLlama (static token
embeddings whose weights ship inside its wheel, so nothing is downloaded) and compares
it with two corpora: known attacks (``_data/injection_attacks.txt`` and the sentences
:mod:`._injection_corpus` assembles by attack family, in several languages) and ordinary
requests that share their words (``_data/injection_benign.txt`` and the generated
look-alikes). A sentence counts when it is closer to some attack than to every ordinary
request by at least a margin.

WordLlama is an optional extra (``pip install 'llm-contracts[semantic]'``). It is
imported on first use, never with the SDK; without it :func:`semantic_index` returns
the reason, and the contract runs its keyword stage alone and says so.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["SemanticIndex", "SemanticMatch", "semantic_index"]

# Chosen on the tuning splits of the labelled set in tests/sdk/detection (dev, holdout,
# holdout2) and then measured once on holdout3, which played no part in choosing them
# (bench/injection_bench.py).
STRONG_MARGIN = 0.18  # alone, a violation
WEAK_MARGIN = 0.09  # a weak signal that adds up with a weak keyword rule

# Bounds that keep one giant prompt cheap: of the first _MAX_SCAN_CHARS characters, the
# first _HEAD_SEGMENTS sentences and the ones most likely to speak to the model are judged,
# _MAX_SEGMENTS in all (each embedded sentence costs about 60 µs).
_MAX_SEGMENTS = 24
_HEAD_SEGMENTS = 8
_MAX_SCAN_CHARS = 50_000
_MAX_SEGMENT_CHARS = 400
_MIN_SEGMENT_CHARS = 8
# A sentence runs to . ! ? ; before white space, to 。！？, or to a line break. Matched as
# runs of text (findall) rather than split at a lookbehind, which re tried at every position.
_SENTENCE = re.compile(r"(?:[^.!?;。！？\n]+|[.!?;](?!\s))*(?:[.!?;]+|[。！？]+|\n|$)")
_STRIP = " \n\r\t#*>-–—\"'`<>/!|[](){}"
# Words of a sentence that speaks to the model or about its rules: in a long document, the
# sentences worth embedding after its opening (a set lookup: a regex per sentence cost 5 ms
# on 50 KB).
_CUES = frozenset(
    {
        *("you", "your", "yourself", "ai", "assistant", "model", "llm", "bot", "chatbot", "copilot"),
        *("agent", "ignore", "disregard", "forget", "instruction", "instructions", "rule", "rules"),
        *("prompt", "system", "reveal", "pretend", "now", "must", "never", "always", "instead"),
        *("override", "policy", "guidelines", "restrictions", "filter", "filters", "persona"),
    }
)
_PUNCTUATION = str.maketrans({ch: " " for ch in ".,:;!?\"'()[]{}<>*#/\\|`"})


def _cue_count(sentence: str) -> int:
    return len(_CUES.intersection(sentence.lower().translate(_PUNCTUATION).split()))


@dataclass(frozen=True, slots=True)
class SemanticMatch:
    """The sentence of a text closest to a known attack, and by how much."""

    margin: float  # similarity to the nearest attack minus similarity to the nearest ordinary request
    similarity: float  # cosine similarity to the nearest attack
    nearest_attack: str  # that attack, from the shipped corpus (never the user's text)
    segment: int  # which sentence of the text, counted from 0


def _lines(name: str) -> list[str]:
    text = resources.files("llm_contracts").joinpath("_data", name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def segments(text: str) -> list[str]:
    """Return the sentences of ``text`` worth judging (a short text is one sentence)."""
    parts = (p.strip(_STRIP) for p in _SENTENCE.findall(text[:_MAX_SCAN_CHARS]))
    out = [p[:_MAX_SEGMENT_CHARS] for p in parts if len(p) >= _MIN_SEGMENT_CHARS]
    if not out:
        stripped = text.strip(_STRIP)[:_MAX_SEGMENT_CHARS]
        return [stripped] if stripped else []
    if len(out) <= _MAX_SEGMENTS:
        return out
    # A long document: its opening, then the sentences with the most words that address the
    # model or name its rules (an injected note hides anywhere), in document order.
    rest = range(_HEAD_SEGMENTS, len(out))
    ranked = sorted(rest, key=lambda i: -_cue_count(out[i]))[: _MAX_SEGMENTS - _HEAD_SEGMENTS]
    return out[:_HEAD_SEGMENTS] + [out[i] for i in sorted(ranked)]


class SemanticIndex:
    """The embedded corpora and the model that embeds prompts the same way."""

    def __init__(self, model: Any, attacks: list[str], benign: list[str]) -> None:
        self.model = model
        self.attacks = attacks
        self.benign = benign
        self.attack_vectors = model.embed(attacks, norm=True)
        self.benign_vectors = model.embed(benign, norm=True)

    def match(self, text: str) -> SemanticMatch | None:
        """Return the sentence of ``text`` with the largest margin, or None for a text with no words."""
        segs = segments(text)
        if not segs:
            return None
        vectors = self.model.embed(segs, norm=True)
        to_attacks = vectors @ self.attack_vectors.T
        to_benign = vectors @ self.benign_vectors.T
        margins = to_attacks.max(axis=1) - to_benign.max(axis=1)
        best = int(margins.argmax())
        nearest = int(to_attacks[best].argmax())
        return SemanticMatch(
            round(float(margins[best]), 4),
            round(float(to_attacks[best, nearest]), 4),
            self.attacks[nearest],
            best,
        )


_lock = threading.Lock()
_index: SemanticIndex | None = None
_unavailable: str | None = None


def _load_model() -> Any:
    from ._embedding import load_wordllama

    return load_wordllama()  # shared with the semantic contracts: one model per process


def semantic_index() -> SemanticIndex | str:
    """Return the loaded index, or why the semantic stage is unavailable (loaded once, on first use)."""
    global _index, _unavailable
    if _index is not None:
        return _index
    if _unavailable is not None:
        return _unavailable
    with _lock:
        if _index is None and _unavailable is None:
            try:
                model = _load_model()
            except ImportError:
                _unavailable = (
                    "wordllama is not installed (pip install 'llm-contracts[semantic]'); "
                    "only the keyword stage ran"
                )
            except Exception as exc:  # a broken install must not break the host's calls
                _unavailable = (
                    f"the wordllama model could not be loaded ({type(exc).__name__}: {exc}); "
                    "only the keyword stage ran"
                )
            else:
                from ._injection_corpus import corpus

                generated = list(corpus())
                attacks = _lines("injection_attacks.txt") + [line for label, line in generated if label]
                benign = _lines("injection_benign.txt") + [line for label, line in generated if not label]
                _index = SemanticIndex(model, attacks, benign)
    return _index if _index is not None else _unavailable  # type: ignore[return-value]
