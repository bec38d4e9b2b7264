"""The classifier stage of PromptInjectionContract: a linear model over words and letter runs.

The rules know phrases and the semantic stage knows sentences close to known attacks; this
stage knows which words, word pairs and runs of three to five letters (within a word, so it
reads Chinese and Japanese as well as German compounds) make a text more or less likely to
be an attack. It is a logistic regression trained offline (``bench/train_injection_model.py``)
on the attack and ordinary-request corpora of the semantic stage, the tuning splits of the
labelled set in ``tests/sdk/detection`` and generated documents with and without an
injected order; only its weights ship (``_injection_model.json.gz``, the features it kept
and their weights). Inference is a dictionary lookup per feature, in plain Python: no
NumPy, no model download.

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
# (``bench/train_injection_model.py --cv --floor 0.97``: precision 0.97 out of fold, two
# points above the goal, for the false positives of the rules and the semantic stage that
# the splits they were tuned on cannot show), never on the sealed splits. A message is a
# violation when the whole text or one of its sentences reaches its threshold; below
# VETO_LOGIT for both, the classifier overrules the rules and the semantic stage (the bound
# that keeps 98% of the attacks they caught out of fold).
WHOLE_LOGIT = 2.5
SENTENCE_LOGIT = 1.75
VETO_LOGIT = -1.54
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


def features(text: str) -> set[str]:
    """Return the features of ``text``: words, word pairs and letter runs of each word."""
    words = _WORD.findall(text.lower())
    out: set[str] = set(words)
    out.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    for word in set(words):
        out.update(_letter_runs(word))
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
        return self.bias + sum(get(f, 0.0) for f in feats) / math.sqrt(len(feats))

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
