"""Benchmark the PII redactor on the shipped labelled set, and check that its cost grows linearly.

Usage: ``.venv/bin/python bench/pii_bench.py [--rounds N] [--misses]``.

The set is ``tests/sdk/detection/pii_eval.jsonl``: texts holding one piece of personal
data (``label`` pii, with its ``kind`` and ``value``) and look-alikes that hold none
(``clean``: order numbers, dates, versions, timestamps, tracking numbers, hashes,
UUIDs...). ``split`` is ``dev`` for the rows read while the patterns were written and
``holdout`` for rows generated afterwards with other templates and other look-alikes.
A positive counts as found when a finding of its kind covers its value; a clean text
with any finding is a false positive.

Linearity: hostile inputs (long runs of digits and separators, colons, "eyJ", "sk-",
"@") are timed at 30,000 and 300,000 characters; the goal is a per-character cost at
300k within 2x of the cost at 30k (a quadratic pattern would show 10x).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llm_contracts.contracts import _pii  # noqa: E402

SET = ROOT / "tests" / "sdk" / "detection" / "pii_eval.jsonl"
LINEAR_GOAL = 2.0
HOSTILE = {
    "digit groups": "1 2-3 45 6 ",
    "colons": "a:1:b::",
    "jwt starts": "eyJ.eyJa",
    "key starts": "sk-a_",
    "at signs": "a@b.",
    "dotted numbers": "1.2.3.",
    "many findings": "x@ex.io 8.8.4.4 ",
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time(text: str, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        _pii._find.__wrapped__(text, _pii.PII_KINDS)  # uncached
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (best per text)")
    parser.add_argument("--misses", action="store_true", help="print misses and false positives")
    args = parser.parse_args()

    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    ok = True
    print(f"find_pii on {SET.relative_to(ROOT)} ({len(rows)} texts)")
    for split in ("all", "dev", "holdout"):
        found: collections.Counter[str] = collections.Counter()
        total: collections.Counter[str] = collections.Counter()
        false_positives, misses, times = [], [], []
        for row in rows:
            if split != "all" and row.get("split", "dev") != split:
                continue
            times.append(_time(row["text"], args.rounds) * 1000)
            findings = _pii.find_pii(row["text"])
            if row["label"] == "clean":
                if findings:
                    false_positives.append(row["text"])
                continue
            start = row["text"].index(row["value"])
            end = start + len(row["value"])
            total[row["kind"]] += 1
            hit = any(f.kind == row["kind"] and f.start <= start and f.end >= end for f in findings)
            found[row["kind"]] += hit
            if not hit:
                misses.append(row["text"])
        tp = sum(found.values())
        clean = len(times) - sum(total.values())
        recall = tp / sum(total.values())
        precision = tp / (tp + len(false_positives)) if tp + len(false_positives) else 1.0
        print(
            f"{split}: {sum(total.values())} positives, {clean} look-alikes: recall {recall:.3f}  "
            f"precision {precision:.3f}  (fp {len(false_positives)})  p50 {_pct(times, 0.5):.3f} ms  "
            f"p99 {_pct(times, 0.99):.3f} ms"
        )
        by_kind = (f"{k} {found[k]}/{total[k]}" for k in _pii.PII_KINDS if total[k])
        print("  recall by kind: " + ", ".join(by_kind))
        if args.misses:
            for text in misses:
                print(f"  missed: {text[:100]!r}")
            for text in false_positives:
                print(f"  false positive: {text[:100]!r}")

    print("linearity (per-character cost at 300k / at 30k characters):")
    for name, unit in HOSTILE.items():
        small = (unit * (30_000 // len(unit) + 1))[:30_000]
        large = (unit * (300_000 // len(unit) + 1))[:300_000]
        t_small = _time(small, args.rounds + 2)
        t_large = _time(large, args.rounds + 2)
        ratio = (t_large / 300_000) / (t_small / 30_000)
        met = ratio <= LINEAR_GOAL
        ok &= met
        print(
            f"  {name:<15} 30k {t_small * 1000:8.2f} ms  300k {t_large * 1000:8.2f} ms  ratio {ratio:4.2f}"
            f"  {'ok' if met else 'NOT linear'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
