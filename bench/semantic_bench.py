"""Measure TopicContract (LLMCL ``on_topic``) on the shipped labelled set: precision and recall.

Usage: ``.venv/bin/python bench/semantic_bench.py [--misses]``.

The set is ``tests/sdk/semantic/data/{on,off}_topic.txt``: answers of a support assistant
whose topics are billing, shipping and returns, and answers about anything else, written
for this set. Lines alternate between a dev split (even lines) and a holdout split (odd
lines). The default threshold (``DEFAULT_TOPIC_SIMILARITY``) is the one that maximizes the
mean F1 over both topic phrasings below on the dev split only; this script shows that
choice and the figures at the default on the holdout split, which played no part in it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llm_contracts.contracts import TopicContract  # noqa: E402
from llm_contracts.contracts._semantic import DEFAULT_TOPIC_SIMILARITY  # noqa: E402

DATA = ROOT / "tests" / "sdk" / "semantic" / "data"
# The topics as single words (as in the LLMCL example) and as short phrases.
PHRASINGS = {
    "words": ["billing", "shipping", "returns"],
    "phrases": ["billing and payments", "shipping and delivery", "returns and refunds"],
}
CANDIDATES = [round(t / 100, 2) for t in range(0, 41)]


def labelled() -> list[tuple[bool, str, str]]:
    """Return (on_topic, split, answer) for every answer of the set."""
    out = []
    for name, label in (("on_topic.txt", True), ("off_topic.txt", False)):
        lines = [
            ln.strip()
            for ln in (DATA / name).read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.startswith("#")
        ]
        out += [(label, "dev" if i % 2 == 0 else "holdout", text) for i, text in enumerate(lines)]
    return out


def precision_recall(rows: list[tuple[bool, float]], threshold: float) -> tuple[float, float]:
    """Return precision and recall of "on topic" (score >= threshold) over (label, score) rows."""
    tp = sum(1 for on, s in rows if on and s >= threshold)
    fp = sum(1 for on, s in rows if not on and s >= threshold)
    fn = sum(1 for on, s in rows if on and s < threshold)
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def scores(allowed: list[str]) -> list[tuple[bool, str, float, str]]:
    contract = TopicContract(allowed=allowed)
    return [(on, split, max(contract.scores(text)[0]), text) for on, split, text in labelled()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="print the holdout answers judged wrongly")
    args = parser.parse_args()
    scored = {name: scores(allowed) for name, allowed in PHRASINGS.items()}
    rows = labelled()
    print(
        f"labelled set: {sum(on for on, _, _ in rows)} on-topic, {sum(not on for on, _, _ in rows)} "
        f"off-topic answers; dev {sum(s == 'dev' for _, s, _ in rows)}, "
        f"holdout {sum(s == 'holdout' for _, s, _ in rows)}"
    )

    def dev_f1(t: float) -> float:
        return sum(
            _f1(*precision_recall([(on, s) for on, sp, s, _ in sc if sp == "dev"], t))
            for sc in scored.values()
        ) / len(scored)

    chosen = max(CANDIDATES, key=lambda t: (dev_f1(t), -t))
    print(
        f"threshold with the best mean dev F1: {chosen:.2f} (F1 {dev_f1(chosen):.3f}); "
        f"DEFAULT_TOPIC_SIMILARITY = {DEFAULT_TOPIC_SIMILARITY:.2f}"
    )
    for name, sc in scored.items():
        for split in ("dev", "holdout"):
            p, r = precision_recall([(on, s) for on, sp, s, _ in sc if sp == split], DEFAULT_TOPIC_SIMILARITY)
            print(
                f"  topics as {name:<8} {split:<8} precision {p:.3f}  recall {r:.3f}  "
                f"at {DEFAULT_TOPIC_SIMILARITY:.2f}"
            )
        if args.misses:
            for on, sp, s, text in sc:
                if sp == "holdout" and (s >= DEFAULT_TOPIC_SIMILARITY) != on:
                    print(f"    {'missed' if on else 'false alarm'} {s:+.3f} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
