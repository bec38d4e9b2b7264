"""The classifier stage of PromptInjectionContract: a linear model over words and letter runs.

The rules know phrases and the semantic stage knows sentences close to known attacks; this
stage knows which words, word pairs and runs of three to five letters (within a word, so it
reads German compounds) or, in Chinese, Japanese, Korean and Thai, pairs and triples of
characters make a text more or less likely to be an attack. It is a logistic regression
trained offline (``bench/train_injection_model.py``) on the attack and ordinary-request
corpora of the semantic stage, sentences generated in the languages those corpora have few
of, the tuning splits of the labelled set in ``tests/sdk/detection`` and generated documents
with and without an injected order; only its weights ship (``_injection_model.json.gz``, the
features it kept and their weights). Inference is a dictionary lookup per feature, in plain
Python: no NumPy, no model download. A text it can hardly read (few of its features have a
weight) is never called clearly ordinary.

A text is judged as a whole and sentence by sentence (an order hidden in a long document
would otherwise be diluted by the document); its score is the largest.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
import threading
from importlib import resources
from typing import Any

__all__ = ["InjectionModel", "features", "injection_model", "scores"]

# Log-odds thresholds, chosen by leave-one-split-out cross-validation on the tuning splits
# (``bench/train_injection_model.py --cv --floor 0.96``: the two thresholds and the
# overruling bound that give the rules, the semantic stage and this stage together the best
# recall at precision 0.96 out of fold, a point above the goal for the false positives of
# the rules and the semantic stage that the splits they were tuned on cannot show), never on
# the sealed split. A message is a violation when the whole text or one of its sentences
# reaches its threshold; below VETO_LOGIT for both, the classifier overrules the rules and
# the semantic stage.
WHOLE_LOGIT = 3.75
SENTENCE_LOGIT = 2.25
VETO_LOGIT = -1.25
# Below this share of features with a weight, a text's score is at least UNSURE_LOGIT
# (between VETO_LOGIT and the thresholds): the model does not know it well enough to call it
# ordinary (a Hindi or Arabic message it has no word of scored its bias, -5.95).
MIN_KNOWN_SHARE = 0.3
UNSURE_LOGIT = 0.0
# The whole text is read up to this many characters; its sentences as the semantic stage
# picks them (24 of the first 50,000 characters).
MAX_WHOLE_CHARS = 8_000

_WORD = re.compile(r"\w+")
# A word longer than this is read for its letter runs up to this length only (a hash or a
# URL says nothing more past it, and a long Chinese sentence is one "word" to \w+).
_MAX_WORD_CHARS = 48
_NGRAMS = (3, 4, 5)


@functools.lru_cache(maxsize=32_768)
def _letter_runs(word: str) -> tuple[str, ...]:
    # Cached: words repeat across a text's sentences and across prompts.
    padded = f"<{word[:_MAX_WORD_CHARS]}>"
    return tuple("#" + padded[i : i + n] for n in _NGRAMS for i in range(len(padded) - n + 1))


# Scripts written without spaces between words (Chinese, Japanese kana, Thai), and Hangul,
# whose words carry their particles: a run of them is one "word" to \w+, so a word holding
# one is read as the pairs and triples of characters of its runs, all along them, instead of
# its letter runs (a two-character word is the commonest in Chinese, and the letter runs
# see only the first 48 characters, mostly as runs of four and five no other text shares).
_DENSE = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]{2,}")


@functools.lru_cache(maxsize=8_192)
def _character_runs(word: str) -> tuple[str, ...]:
    out: list[str] = []
    for run in _DENSE.findall(word):
        out.extend("~" + run[i : i + 2] for i in range(len(run) - 1))
        out.extend("~" + run[i : i + 3] for i in range(len(run) - 2))
    return tuple(out)


def features(text: str) -> set[str]:
    """Return the features of ``text``: words, word pairs and letter runs of each word (and
    the character pairs and triples of a run of Chinese, Japanese, Korean or Thai)."""
    words = _WORD.findall(text.lower())
    out: set[str] = set(words)
    out.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    for word in set(words):
        if word.isascii() or not _DENSE.search(word):
            out.update(_letter_runs(word))
        else:
            out.update(_character_runs(word))
    return out


class InjectionModel:
    """The weights of the classifier, and how it scores a text."""

    def __init__(self, weights: dict[str, float], bias: float, meta: dict[str, Any]) -> None:
        self.weights = weights
        self.bias = bias
        self.meta = meta

    def logit(self, text: str) -> float:
        """Return the model's log-odds that ``text`` (judged as a whole) is an attack."""
        feats = features(text)
        if not feats:
            return self.bias
        get = self.weights.get
        known = [w for w in map(get, feats) if w is not None]
        score = self.bias + sum(known) / math.sqrt(len(feats))
        # A text in a script or vocabulary the model barely knows scores near its bias, which
        # reads as "clearly ordinary": it is not, it is unknown, and must not overrule the rules.
        if len(known) < MIN_KNOWN_SHARE * len(feats):
            return max(score, UNSURE_LOGIT)
        return score

    def probability(self, text: str) -> float:
        """Return the model's probability that ``text`` (judged as a whole) is an attack."""
        return 1.0 / (1.0 + math.exp(-self.logit(text)))


def scores(text: str) -> tuple[float, float]:
    """Return the log-odds of ``text`` as a whole and of its most suspicious sentence (the
    whole text's again for a text of one sentence)."""
    from ._semantic_injection import segments

    model = injection_model()
    whole = model.logit(text[:MAX_WHOLE_CHARS])
    parts = segments(text)
    if len(parts) <= 1:
        return whole, whole
    return whole, max(model.logit(part) for part in parts)


_lock = threading.Lock()
_model: InjectionModel | None = None

MODEL_FILE = "_injection_model.json.gz"


def load(raw: bytes) -> InjectionModel:
    """Return the model stored in ``raw`` (the gzip-compressed JSON the trainer writes)."""
    data = json.loads(gzip.decompress(raw).decode("utf-8"))
    return InjectionModel(
        {str(k): float(v) for k, v in data["weights"].items()}, float(data["bias"]), data.get("meta", {})
    )


def injection_model() -> InjectionModel:
    """Return the shipped model (read once, on first use)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                raw = resources.files("llm_contracts.contracts").joinpath(MODEL_FILE).read_bytes()
                _model = load(raw)
    return _model
