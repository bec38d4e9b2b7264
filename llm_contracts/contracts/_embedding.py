"""Text embeddings for semantic contracts: the ``Embedder`` protocol and the offline default.

The default embedder is WordLlama: static token embeddings whose weights and tokenizer
ship inside its wheel, so nothing is downloaded and nothing leaves the machine. It is an
optional extra (``pip install 'llm-contracts[semantic]'``), imported on first use and
never with the SDK; the model is loaded once per process and shared by every contract
(the prompt injection stage included).

Any object with ``embed(texts) -> list of vectors`` is an embedder, so a team can plug
the embeddings of its own provider instead (:class:`OpenAIEmbedder` does it with an
OpenAI-compatible client, contracted or not).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .._exceptions import ContractConfigError

__all__ = [
    "SEMANTIC_EXTRA",
    "Embedder",
    "OpenAIEmbedder",
    "WordLlamaEmbedder",
    "cosine",
    "default_embedder",
    "load_wordllama",
]

SEMANTIC_EXTRA = "pip install 'llm-contracts[semantic]'"

# One answer is embedded from its first characters only: a giant answer stays cheap, and
# the topic of an answer shows in its opening far more than in its last pages.
MAX_EMBED_CHARS = 8000


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors; similar meanings give vectors with a high cosine."""

    def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        """Return one vector per text, in order."""
        ...


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Return the cosine similarity of two vectors (0.0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


_lock = threading.Lock()
_model: Any = None


def load_wordllama() -> Any:
    """Return the shared WordLlama model, loaded from the wheel on first use.

    Raises ``ImportError`` when wordllama is not installed (checked on every call, so a
    process that lost the package never gets a stale model).
    """
    global _model
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama
    finally:
        # wordllama's inference module calls logging.basicConfig() on import, which would
        # change the host app's root logger; put it back as it was.
        # Only the plain StreamHandler basicConfig makes is taken off: a handler another
        # thread added meanwhile (a test's log capture, the app's own) stays.
        for handler in root.handlers[:]:
            if handler not in handlers and type(handler) is logging.StreamHandler:
                root.removeHandler(handler)
        if root.level != level:
            root.setLevel(level)
    if _model is None:
        with _lock:
            if _model is None:
                # The wheel holds the default model and its tokenizer; pointing cache_dir at
                # the package makes WordLlama read them from there and never download.
                _model = wordllama.WordLlama.load(
                    cache_dir=Path(wordllama.__file__).parent, disable_download=True
                )
    return _model


class WordLlamaEmbedder:
    """The offline default: WordLlama's shipped model, normalized vectors (numpy rows)."""

    def __init__(self) -> None:
        try:
            self.model = load_wordllama()
        except ImportError:
            raise ContractConfigError(
                f"semantic contracts need wordllama, which is not installed ({SEMANTIC_EXTRA}), "
                "or pass embedder= with your own embeddings"
            ) from None

    def embed(self, texts: Sequence[str]) -> Any:
        """Return a numpy array with one normalized row per text."""
        return self.model.embed([t[:MAX_EMBED_CHARS] for t in texts], norm=True)


def default_embedder() -> WordLlamaEmbedder:
    """Return a WordLlama embedder (one shared model); without wordllama, raise naming the extra."""
    return WordLlamaEmbedder()


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible client's ``embeddings.create``.

    Example::

        SimilarityContract(reference="...", embedder=OpenAIEmbedder(client, model="text-embedding-3-small"))
    """

    def __init__(self, client: Any, *, model: str = "text-embedding-3-small", **params: Any) -> None:
        if not hasattr(getattr(client, "embeddings", None), "create"):
            raise ContractConfigError(
                f"OpenAIEmbedder needs a client with embeddings.create(); got {client!r}"
            )
        self.client = client
        self.model = model
        self.params = params

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one vector per text, from one ``embeddings.create`` call."""
        answer = self.client.embeddings.create(
            model=self.model, input=[t[:MAX_EMBED_CHARS] for t in texts], **self.params
        )
        rows = sorted(answer.data, key=lambda d: d.index)
        return [list(d.embedding) for d in rows]
