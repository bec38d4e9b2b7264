"""Benchmark LLMCL: compiling a 200-line contract file, and judging with loaded contracts.

Usage: ``.venv/bin/python bench/llmcl_bench.py [--rounds N]``.

Goals: a 200-line file compiles in under 50 ms (median, parser already built), and a
loaded LLMCL contract judges an answer within 1.5x the time of the equivalent
hand-built Python contract, both measured in this run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llm_contracts.contracts import FunctionContract, LLMResponse, RegexContract  # noqa: E402
from llm_contracts.llmcl import compile_source, load_source  # noqa: E402

COMPILE_GOAL_MS = 50.0
EVAL_GOAL_RATIO = 1.5

_CLAUSES = [
    "require tokens(input) <= 4000",
    "require not matches(input, /ignore (all )?previous instructions/i) severity critical",
    "require not injection(input)",
    "require not pii(input) else fix redact",
    'ensure json(output) conforms {"type": "object", "required": ["id"], '
    '"properties": {"id": {"type": "integer"}}}',
    "ensure len(output) <= 2000 else fix truncate",
    "ensure not pii(output)",
    'ensure not contains(lowercase(output), "as an ai") and words(output) >= 3',
    'ensure_every_turn not contains(output, "As an AI")',
    "eventually within 3 turns: mentions(output, context.user_name)",
    "always: not refusal(output)",
    'never: contains(output, "guarantee")',
    'next after contains(input, "refund"): contains(output, "policy")',
    'until contains(output, "ticket #"): not contains(output, "resolved")',
]


def two_hundred_lines() -> str:
    """Return a realistic contract file of 200 lines: comments, settings, every kind of clause."""
    lines: list[str] = []
    n = 0
    while len(lines) + len(_CLAUSES) + 7 <= 200:
        n += 1
        lines += [
            f"# Contract {n}: the replies of bot {n}.",
            f"contract Bot{n} version {n} priority high{' extends Bot1' if n > 1 else ''} {{",
            f'  description "Replies of bot {n}"',
            "  enforcement strict",
        ]
        lines += [f"  {c} as c{n}_{i}" for i, c in enumerate(_CLAUSES)]
        lines += ['  on violation retry 2 with "Answer with the JSON object only."', "}", ""]
    lines += ["# end"] * (200 - len(lines))
    return "\n".join(lines[:200]) + "\n"


def median_s(fn: Callable[[], object], rounds: int, inner: int = 1) -> float:
    """Return the median seconds of one call of ``fn`` over ``rounds`` timed batches of ``inner`` calls."""
    times = []
    gc.collect()
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - started) / inner)
    return statistics.median(times)


def judge_all(contract: Any, answers: list[LLMResponse]) -> Callable[[], None]:
    """Return a function that judges every answer once."""
    validate = contract.validate

    def run() -> None:
        for answer in answers:
            validate(answer)

    return run


# (what, LLMCL clause, the hand-built Python contract that means the same)
PAIRS: list[tuple[str, str, Callable[[], object]]] = [
    (
        "forbidden phrase",
        'ensure not contains(output, "As an AI")',
        lambda: FunctionContract(lambda text: "As an AI" not in text, name="no_as_an_ai"),
    ),
    (
        "length and phrase",
        'ensure len(output) <= 2000 and not contains(lowercase(output), "guarantee")',
        lambda: FunctionContract(
            lambda text: len(text.strip()) <= 2000 and "guarantee" not in text.lower(),
            name="short_no_promise",
        ),
    ),
    (
        "words range",
        "ensure words(output) >= 3 and words(output) <= 300",
        lambda: FunctionContract(lambda text: 3 <= len(text.split()) <= 300, name="word_range"),
    ),
    (
        "regex (built-in)",
        "ensure matches(output, /ticket #\\d+/i)",
        lambda: RegexContract(r"ticket #\d+", flags="IGNORECASE"),
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds per measurement (default 30)")
    args = parser.parse_args(argv)

    source = two_hundred_lines()
    assert source.count("\n") == 200
    started = time.perf_counter()
    compile_source(source)
    cold_ms = (time.perf_counter() - started) * 1000
    compile_ms = median_s(lambda: compile_source(source), args.rounds) * 1000
    ok_compile = compile_ms < COMPILE_GOAL_MS
    print(
        f"compile a 200-line file: median {compile_ms:.1f} ms over {args.rounds} rounds "
        f"(first compile, building the parser: {cold_ms:.0f} ms); goal < {COMPILE_GOAL_MS:.0f} ms: "
        f"{'PASS' if ok_compile else 'FAIL'}"
    )

    text = "Your ticket #123 is open; we will get back to you within a day. " * 4
    # Distinct text objects, as real answers are: nothing may be remembered from one call to the next.
    answers = [LLMResponse(text=text[:-1] + text[-1]) for _ in range(64)]
    answer = answers[0]
    ok_eval = True
    print(f"\njudging one answer ({len(answer.text)} characters), median per call:")
    print(f"  {'check':<20} {'LLMCL':>10} {'Python':>10} {'ratio':>7}")
    for what, clause, hand_built in PAIRS:
        (loaded,) = list(load_source(f"contract C {{\n  {clause}\n}}\n"))
        python = hand_built()
        assert loaded.validate(answer).is_valid == python.validate(answer).is_valid  # type: ignore[attr-defined]
        inner = 2000
        ours, theirs = [], []
        for _ in range(3):  # interleaved, so drift hits both sides alike
            batches = inner // len(answers)
            ours.append(median_s(judge_all(loaded, answers), args.rounds, batches) / len(answers))
            theirs.append(median_s(judge_all(python, answers), args.rounds, batches) / len(answers))
        mine, base = min(ours), min(theirs)
        ratio = mine / base
        ok_eval &= ratio <= EVAL_GOAL_RATIO
        print(f"  {what:<20} {mine * 1e6:>8.2f}us {base * 1e6:>8.2f}us {ratio:>6.2f}x")
    verdict = "PASS" if ok_eval else "FAIL"
    print(f"evaluation goal: within {EVAL_GOAL_RATIO}x of the hand-built contract: {verdict}")
    return 0 if ok_compile and ok_eval else 1


if __name__ == "__main__":
    sys.exit(main())
