"""Train the classifier stage of PromptInjectionContract and write its weights into the package.

Usage: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/train_injection_model.py [--cv] [--write]``
(needs SciPy, a dev dependency; the SDK reads the weights without it).

Training data, all of it open (the sealed splits holdout4 and holdout5 of
``tests/sdk/detection/injection_eval.jsonl`` are never read here):

- the attack and ordinary-request corpora of the semantic stage (``_data/*.txt`` and
  :mod:`llm_contracts.contracts._injection_corpus`, generated here at full scale);
- documents assembled from ordinary sentences, half of them with one attack sentence
  inserted somewhere (an order hidden in an email, a page, a code comment, a tool result);
- the tuning splits dev, holdout, holdout2 and holdout3.

``--cv`` scores each tuning split with a model trained without it (leave one split out,
the corpora always in) and prints the thresholds that keep precision at 0.95 or above on
those out-of-fold scores, alone and together with the rules and the semantic stage. The
thresholds the contract uses are chosen there, never on the sealed splits.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, sparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llm_contracts.contracts import _injection_corpus, _input  # noqa: E402
from llm_contracts.contracts._injection_model import MODEL_FILE, features  # noqa: E402
from llm_contracts.contracts._semantic_injection import segments  # noqa: E402

SET = ROOT / "tests" / "sdk" / "detection" / "injection_eval.jsonl"
OPEN = ("dev", "holdout", "holdout2", "holdout3")
OUT = ROOT / "llm_contracts" / "contracts" / MODEL_FILE
SEED = 7
L2 = 0.03  # on the sum of the losses (each example weighs 1); chosen by --cv
MIN_DF = 2
KEEP_ABS = 0.02  # weights smaller than this are dropped from the shipped file
DOCS = 3000  # generated documents, half with an injected order
QUOTES = 1500  # generated ordinary requests that quote an attack to discuss it
REPEAT = 3  # each labelled prompt counts this many times


def _lines(name: str) -> list[str]:
    text = (ROOT / "llm_contracts" / "_data" / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


_WRAPPERS = [
    "Summarise this email:\n\n{}",
    "Please summarise the following page.\n{}",
    "Translate this document into English:\n{}",
    "Here are my meeting notes, list the action items:\n{}",
    'Tool result: {{"status": "ok", "content": "{}"}}',
    "Review this file:\n```\n{}\n```",
    "What is the main point of this text? {}",
    "{}",
    "Extract the dates from this message:\n---\n{}\n---",
    "Answer the customer based on this ticket:\n{}",
]
_COMMENT = ["{}", "# {}", "// {}", "<!-- {} -->", "[{}]", "P.S. {}", "Note: {}", "({})"]


def corpus_sentences(scale: float) -> list[tuple[int, str]]:
    old = _injection_corpus.SCALE
    _injection_corpus.SCALE = scale
    try:
        generated = list(_injection_corpus.corpus())
    finally:
        _injection_corpus.SCALE = old
    return (
        [(1, s) for s in _lines("injection_attacks.txt")]
        + [(0, s) for s in _lines("injection_benign.txt")]
        + generated
    )


def documents(sentences: list[tuple[int, str]], n: int, rng: random.Random) -> list[tuple[int, str]]:
    """Documents of ordinary sentences; half of them carry one attack sentence."""
    attacks = [s for label, s in sentences if label]
    ordinary = [s for label, s in sentences if not label]
    out = []
    for k in range(n):
        body = rng.sample(ordinary, rng.randint(2, 6))
        label = k % 2
        if label:
            body.insert(rng.randint(0, len(body)), rng.choice(_COMMENT).format(rng.choice(attacks)))
        sep = rng.choice([" ", "\n", "\n\n", ". "])
        out.append((label, rng.choice(_WRAPPERS).format(sep.join(body))))
    return out


_META = [
    "Is this a prompt injection? '{}'",
    'Explain why "{}" is considered a jailbreak attempt.',
    "Write a regex that would catch messages like '{}'.",
    'Our logs show users typing "{}". How should the support bot respond?',
    "Add this to the test cases of our input filter: {}",
    "For a security awareness slide, explain the risk of a message such as '{}'.",
    'How would you detect inputs like "{}" in a chatbot?',
    "Classify the following user message as safe or malicious and explain why: {}",
    'What attack technique does this example show? "{}"',
    "In our red-team report, one probe was '{}'. Summarise what it tried to do.",
    "Why do language models sometimes obey text like '{}'?",
    "Write a unit test asserting that our detector flags: {}",
]


def quotes(sentences: list[tuple[int, str]], n: int, rng: random.Random) -> list[tuple[int, str]]:
    """Ordinary requests that quote an attack in order to discuss, test or detect it."""
    attacks = [s for label, s in sentences if label]
    return [(0, rng.choice(_META).format(rng.choice(attacks))) for _ in range(n)]


def prepare(text: str) -> str:
    return _input._plain(text)


class Vocabulary:
    def __init__(self, texts: list[str]) -> None:
        df: dict[str, int] = {}
        for t in texts:
            for f in features(prepare(t)):
                df[f] = df.get(f, 0) + 1
        self.index = {f: i for i, f in enumerate(sorted(f for f, c in df.items() if c >= MIN_DF))}

    def matrix(self, texts: list[str]) -> sparse.csr_matrix:
        rows, cols, vals = [], [], []
        for r, t in enumerate(texts):
            feats = features(prepare(t))
            if not feats:
                continue
            v = 1.0 / math.sqrt(len(feats))
            for f in feats:
                j = self.index.get(f)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
                    vals.append(v)
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.index)))


EMB = 0.0  # scale of the WordLlama embedding features (0: none)
_model: Any = None


def embed(texts: list[str]) -> np.ndarray:
    global _model
    if _model is None:
        from llm_contracts.contracts._embedding import load_wordllama

        _model = load_wordllama()
    return np.asarray(_model.embed([prepare(t) for t in texts], norm=True))


def train(examples: list[tuple[int, str]]) -> tuple[dict[str, float], float]:
    texts = [t for _, t in examples]
    y = np.array([1.0 if label else -1.0 for label, _ in examples])
    vocab = Vocabulary(texts)
    x = vocab.matrix(texts)
    if EMB:
        x = sparse.hstack([x, sparse.csr_matrix(EMB * embed(texts))]).tocsr()
    pos = (y > 0).sum()
    sample = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * (len(y) - pos)))  # balanced

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        z = y * (x @ w + b)
        lz = np.logaddexp(0, -z)
        g = -y * sample / (1 + np.exp(z))
        grad = np.empty_like(params)
        grad[:-1] = x.T @ g + L2 * w
        grad[-1] = g.sum()
        return float((sample * lz).sum() + 0.5 * L2 * w @ w), grad

    res = optimize.minimize(
        loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500}
    )
    w = res.x[:-1]
    names = sorted(vocab.index, key=vocab.index.__getitem__)
    names += [f"@emb{k}" for k in range(x.shape[1] - len(names))]
    weights = {names[j]: round(float(w[j]), 4) for j in np.flatnonzero(np.abs(w) >= KEEP_ABS)}
    return weights, float(res.x[-1])


def logit(weights: dict[str, float], bias: float, text: str) -> float:
    feats = features(text)
    dense = 0.0
    if EMB:
        v = embed([text])[0]
        dense = EMB * sum(weights.get(f"@emb{k}", 0.0) * float(v[k]) for k in range(len(v)))
    if not feats:
        return bias + dense
    return bias + dense + sum(weights.get(f, 0.0) for f in feats) / math.sqrt(len(feats))


def text_scores(weights: dict[str, float], bias: float, text: str) -> tuple[float, float]:
    """The whole text's score and its highest sentence's (the whole text's for one sentence)."""
    plain = prepare(text)
    whole = logit(weights, bias, plain)
    segs = segments(plain)
    return whole, max([logit(weights, bias, s) for s in segs] if len(segs) > 1 else [whole])


def text_score(weights: dict[str, float], bias: float, text: str) -> float:
    return max(text_scores(weights, bias, text))


def training_set(rows: list[dict[str, Any]], splits: tuple[str, ...]) -> list[tuple[int, str]]:
    rng = random.Random(SEED)
    sentences = corpus_sentences(1.0)
    docs = documents(sentences, DOCS, rng) + quotes(sentences, QUOTES, rng)
    labelled = [(int(r["label"] == "injection"), r["text"]) for r in rows if r.get("split", "dev") in splits]
    return sentences + docs + labelled * REPEAT


def _rate(results: list[dict[str, Any]], flag: Any) -> tuple[float, float]:
    tp = sum(1 for x in results if x["label"] and flag(x))
    fp = sum(1 for x in results if not x["label"] and flag(x))
    return (tp / (tp + fp) if tp + fp else 1.0), tp / sum(x["label"] for x in results)


def cross_validate(rows: list[dict[str, Any]], floor: float) -> None:
    from llm_contracts.contracts import PromptInjectionContract
    from llm_contracts.providers._openai_requests import CHAT

    results: list[dict[str, Any]] = []
    rules = PromptInjectionContract(classifier=False)
    for held in OPEN:
        weights, bias = train(training_set(rows, tuple(s for s in OPEN if s != held)))
        for r in rows:
            if r.get("split", "dev") == held:
                whole, sentence = text_scores(weights, bias, r["text"])
                req = CHAT.read({"model": "m", "messages": [{"role": "user", "content": r["text"]}]})
                label = int(r["label"] == "injection")
                caught = not rules.validate(req).is_valid
                results.append(
                    {"split": held, "label": label, "whole": whole, "sentence": sentence, "rules": caught}
                )
        print(f"fold {held}: {len(weights)} weights", flush=True)
    # The classifier's two thresholds: the pair with the best recall at precision >= floor.
    grid = [x / 4 for x in range(-8, 33)]
    best = (0.0, 0.0, 0.0, 0.0)
    for t_whole in grid:
        for t_sentence in grid:
            prec, rec = _rate(results, lambda x: x["whole"] >= t_whole or x["sentence"] >= t_sentence)  # noqa: B023
            if prec >= floor and rec > best[3]:
                best = (t_whole, t_sentence, prec, rec)
    t_whole, t_sentence = best[0], best[1]
    print(
        f"classifier alone, out of fold: WHOLE_LOGIT {t_whole}, SENTENCE_LOGIT {t_sentence}: "
        f"precision {best[2]:.3f} recall {best[3]:.3f}"
    )
    # The overruling bound: keeps 98% of the attacks the rules and the semantic stage caught.
    found = sorted(max(x["whole"], x["sentence"]) for x in results if x["label"] and x["rules"])
    veto = found[int(0.02 * len(found))]
    print(f"VETO_LOGIT {veto:.2f} (2nd percentile of the classifier's score on the attacks the rules caught)")
    for name, flag in (
        ("rules + semantic", lambda x: x["rules"]),
        ("classifier", lambda x: x["whole"] >= t_whole or x["sentence"] >= t_sentence),
        (
            "all three",
            lambda x: (
                x["whole"] >= t_whole
                or x["sentence"] >= t_sentence
                or (x["rules"] and max(x["whole"], x["sentence"]) >= veto)
            ),
        ),
    ):
        cells = [(split, _rate([x for x in results if x["split"] == split], flag)) for split in OPEN]
        cells.append(("all", _rate(results, flag)))
        print(f"{name:<17} " + "  ".join(f"{split} {prec:.3f}/{rec:.3f}" for split, (prec, rec) in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="leave-one-split-out scores and thresholds")
    parser.add_argument("--floor", type=float, default=0.95, help="precision the thresholds keep (--cv)")
    parser.add_argument("--write", action="store_true", help=f"train on all open data, write {MODEL_FILE}")
    args = parser.parse_args()
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("split", "dev") in OPEN]  # the sealed splits are never read
    if args.cv:
        cross_validate(rows, args.floor)
    if args.write:
        weights, bias = train(training_set(rows, OPEN))
        data = {"bias": round(bias, 4), "weights": weights, "meta": {"trained_on": list(OPEN)}}
        OUT.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False, sort_keys=True).encode(), mtime=0))
        print(f"wrote {OUT.relative_to(ROOT)}: {len(weights)} weights, {OUT.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
