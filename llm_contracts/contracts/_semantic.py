"""Semantic contracts: how close an answer's meaning is to a reference, to topics, to the question.

They compare embeddings (see ``_embedding``): offline WordLlama by default, or any
``Embedder``. Embeddings of references and topics are computed once per contract, on its
first check, and kept; only the answer is embedded per call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from .._exceptions import ContractConfigError
from ._base import Category, Contract, ValidationContext, ValidationResult
from ._embedding import Embedder, cosine, default_embedder
from ._output import answer_text

__all__ = [
    "DEFAULT_RELEVANCE",
    "DEFAULT_SIMILARITY",
    "DEFAULT_TOPIC_SIMILARITY",
    "RelevanceContract",
    "SimilarityContract",
    "TopicContract",
]

# Chosen on the development split of the labelled set in tests/sdk/semantic/data (WordLlama's
# shipped model) and measured on its holdout split, which played no part in choosing them.
DEFAULT_TOPIC_SIMILARITY = 0.15
# Paraphrases of a reference scored 0.69-0.81 and unrelated answers below 0.1 on that model.
DEFAULT_SIMILARITY = 0.5
# Not calibrated on a labelled set of questions and answers (there is none yet): a low bar
# that only catches answers about something else entirely. Calibrate it on your own calls.
DEFAULT_RELEVANCE = 0.10


def _texts(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Sequence) else None
    if items is None or not all(isinstance(t, str) for t in items):
        raise ContractConfigError(f"{what} must be a string or a list of strings; got {value!r}")
    items = [t for t in items if t.strip()]
    return items


def _bound(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0:
        raise ContractConfigError(
            f"{name} must be a number from -1 to 1 (a cosine similarity) or None; got {value!r}"
        )
    return float(value)


def _embedder(embedder: Any) -> Embedder:
    if embedder is None:
        return default_embedder()
    if not callable(getattr(embedder, "embed", None)):
        raise ContractConfigError(f"embedder must have an embed(texts) method; got {embedder!r}")
    return embedder  # type: ignore[no-any-return]


class _Semantic(Contract):
    """Shared machinery: the embedder, the cached reference vectors, scoring."""

    default_category = Category.SEMANTIC

    def __init__(self, *, embedder: Embedder | None = None, **kwargs: Any) -> None:
        super().__init__(kwargs.pop("name", None), **kwargs)
        self.embedder = _embedder(embedder)
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _references(self, key: str, texts: list[str]) -> Any:
        """Return the vectors of ``texts``, embedded once per contract."""
        vectors = self._cache.get(key)
        if vectors is None:
            with self._lock:
                vectors = self._cache.get(key)
                if vectors is None:
                    vectors = self._cache[key] = self.embedder.embed(texts) if texts else []
        return vectors

    def _scores(self, vector: Any, references: Any) -> list[float]:
        """Return the cosine of an answer's ``vector`` with each reference vector."""
        if len(references) == 0:
            return []
        if hasattr(references, "shape") and hasattr(vector, "shape"):
            # numpy rows, normalized by the default embedder: one matrix product.
            return [round(float(s), 4) for s in references @ vector]
        return [round(cosine(vector, ref), 4) for ref in references]

    def _vector(self, text: str) -> Any:
        return self.embedder.embed([text])[0]

    def _embedder_name(self) -> str:
        return type(self.embedder).__name__


class SimilarityContract(_Semantic):
    """Keep the answer's meaning close to (or away from) a reference text.

    Parameters:
        reference: the reference answer, or a list of them (the closest one counts).
        min_similarity: the answer must have at least this cosine similarity with a
            reference (stays close to a reference answer).
        max_similarity: the answer must stay below this similarity with every reference
            (does not repeat the system prompt or a secret text).
        embedder: an ``Embedder`` (default: WordLlama, offline, ``llm-contracts[semantic]``).

    With neither bound, ``min_similarity`` is ``DEFAULT_SIMILARITY``.

    Example::

        SimilarityContract(reference="Refunds take 5 to 7 business days.", min_similarity=0.6)
        SimilarityContract(reference=SYSTEM_PROMPT, max_similarity=0.9, name="no_prompt_leak")
    """

    def __init__(
        self,
        reference: str | Sequence[str],
        *,
        min_similarity: float | None = None,
        max_similarity: float | None = None,
        embedder: Embedder | None = None,
        **kwargs: Any,
    ) -> None:
        self.references = _texts(reference, "reference")
        if not self.references:
            raise ContractConfigError("SimilarityContract needs a reference text that is not empty")
        self.min_similarity = _bound(min_similarity, "min_similarity")
        self.max_similarity = _bound(max_similarity, "max_similarity")
        if self.min_similarity is None and self.max_similarity is None:
            self.min_similarity = DEFAULT_SIMILARITY
        if (
            self.min_similarity is not None
            and self.max_similarity is not None
            and self.min_similarity > self.max_similarity
        ):
            raise ContractConfigError(
                f"min_similarity ({self.min_similarity}) is above max_similarity "
                f"({self.max_similarity}): no answer could pass"
            )
        super().__init__(embedder=embedder, **kwargs)

    def similarity(self, text: str) -> tuple[float, int]:
        """Return the highest similarity of ``text`` with a reference, and which reference it is."""
        scores = self._scores(self._vector(text), self._references("references", self.references))
        best = max(range(len(scores)), key=scores.__getitem__)
        return scores[best], best

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text = answer_text(value)
        if text is None:
            return self.ok(skipped="tool_calls")
        score, nearest = self.similarity(text)
        details: dict[str, Any] = {
            "similarity": score,
            "nearest_reference": nearest,
            "min_similarity": self.min_similarity,
            "max_similarity": self.max_similarity,
            "embedder": self._embedder_name(),
        }
        if self.min_similarity is not None and score < self.min_similarity:
            return self.fail(
                f"the answer is not close enough to the reference (similarity {score:.2f} < "
                f"{self.min_similarity:.2f})",
                suggestion="Stay close to the expected answer's content.",
                **details,
            )
        if self.max_similarity is not None and score >= self.max_similarity:
            return self.fail(
                f"the answer is too close to a reference text it must not repeat (similarity "
                f"{score:.2f} >= {self.max_similarity:.2f})",
                suggestion="Answer in your own words; do not repeat the reference text.",
                **details,
            )
        return self.ok(**details)


class TopicContract(_Semantic):
    """Keep the answer on allowed topics and off forbidden ones.

    Parameters:
        allowed: topics the answer must be about (a word, a phrase or a sentence each);
            the answer passes when its similarity with one of them reaches ``min_similarity``.
            Empty: any topic not forbidden.
        forbidden: topics the answer must not be about; it fails when its similarity with
            one of them reaches ``min_similarity`` and beats every allowed topic.
        min_similarity: the threshold (default ``DEFAULT_TOPIC_SIMILARITY``, chosen on a
            labelled set for WordLlama; calibrate it on your own answers for another embedder).

    Example::

        TopicContract(allowed=["billing", "shipping"], forbidden=["politics"])
    """

    def __init__(
        self,
        allowed: Sequence[str] = (),
        forbidden: Sequence[str] = (),
        *,
        min_similarity: float = DEFAULT_TOPIC_SIMILARITY,
        embedder: Embedder | None = None,
        **kwargs: Any,
    ) -> None:
        self.allowed = _texts(list(allowed) if not isinstance(allowed, str) else allowed, "allowed")
        self.forbidden = _texts(list(forbidden) if not isinstance(forbidden, str) else forbidden, "forbidden")
        if not self.allowed and not self.forbidden:
            raise ContractConfigError("TopicContract needs allowed topics, forbidden topics or both")
        threshold = _bound(min_similarity, "min_similarity")
        if threshold is None:
            raise ContractConfigError("min_similarity must be a number from -1 to 1")
        self.min_similarity = threshold
        super().__init__(embedder=embedder, **kwargs)

    def scores(self, text: str) -> tuple[list[float], list[float]]:
        """Return the similarity of ``text`` with each allowed and each forbidden topic."""
        vector = self._vector(text)
        allowed = self._scores(vector, self._references("allowed", self.allowed))
        forbidden = self._scores(vector, self._references("forbidden", self.forbidden))
        return allowed, forbidden

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text = answer_text(value)
        if text is None:
            return self.ok(skipped="tool_calls")
        allowed, forbidden = self.scores(text)
        best_allowed = max(allowed, default=None)
        details: dict[str, Any] = {
            "allowed": dict(zip(self.allowed, allowed, strict=True)),
            "forbidden": dict(zip(self.forbidden, forbidden, strict=True)),
            "min_similarity": self.min_similarity,
            "embedder": self._embedder_name(),
        }
        if forbidden:
            worst = max(range(len(forbidden)), key=forbidden.__getitem__)
            if forbidden[worst] >= self.min_similarity and (
                best_allowed is None or forbidden[worst] > best_allowed
            ):
                return self.fail(
                    f"the answer is about a forbidden topic: {self.forbidden[worst]!r} "
                    f"(similarity {forbidden[worst]:.2f})",
                    suggestion=f"Do not discuss {self.forbidden[worst]}.",
                    **details,
                )
        if best_allowed is not None and best_allowed < self.min_similarity:
            topics = ", ".join(self.allowed)
            return self.fail(
                f"the answer is off topic: no allowed topic reaches similarity "
                f"{self.min_similarity:.2f} (best {best_allowed:.2f}; allowed: {topics})",
                suggestion=f"Keep the answer to these topics: {topics}.",
                **details,
            )
        return self.ok(**details)


class RelevanceContract(_Semantic):
    """Require the answer to be about the question: the last user message of the request.

    Parameters:
        min_similarity: the least similarity between question and answer
            (default ``DEFAULT_RELEVANCE``, a low bar not calibrated on labelled data).

    A call with no user message passes, saying so in its details.
    """

    def __init__(
        self, *, min_similarity: float = DEFAULT_RELEVANCE, embedder: Embedder | None = None, **kwargs: Any
    ) -> None:
        threshold = _bound(min_similarity, "min_similarity")
        if threshold is None:
            raise ContractConfigError("min_similarity must be a number from -1 to 1")
        self.min_similarity = threshold
        super().__init__(embedder=embedder, **kwargs)

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text = answer_text(value)
        if text is None:
            return self.ok(skipped="tool_calls")
        request = context.request if context is not None else None
        questions = [m.content for m in request.messages if m.role == "user"] if request is not None else []
        question = next((q for q in reversed(questions) if q.strip()), None)
        if question is None:
            return self.ok(skipped="no user message")
        vectors = self.embedder.embed([question, text])
        score = round(float(cosine(list(vectors[0]), list(vectors[1]))), 4)
        details: dict[str, Any] = {
            "similarity": score,
            "min_similarity": self.min_similarity,
            "embedder": self._embedder_name(),
        }
        if score < self.min_similarity:
            return self.fail(
                f"the answer does not address the question (similarity {score:.2f} < "
                f"{self.min_similarity:.2f})",
                suggestion="Answer the question that was asked.",
                **details,
            )
        return self.ok(**details)
