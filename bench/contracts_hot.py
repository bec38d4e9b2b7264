"""Hot time of the three bench contracts' ``validate`` calls, on the bench's own request and answer.

    python bench/contracts_hot.py                        # this checkout
    python bench/contracts_hot.py --base ../main         # and another checkout, interleaved
    python bench/contracts_hot.py --answer fenced        # JSON in a code fence (prose, invalid)
    python bench/contracts_hot.py --instructions --base ../main   # callgrind counts per call instead

Each round times every (checkout, contract) pair once (the best of ``--repeat`` loops of
``--number`` calls, garbage collector off), in a reshuffled order; the figure is the median
over the rounds. With ``--base`` the other checkout's package is imported under another
name (as bench/paired.py does), so both run in one process on the same machine state.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import random
import statistics
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.paired import ALIAS, _alias  # noqa: E402


def _answer(kind: str) -> str:
    from bench._fixtures import INVALID_ANSWER, VALID_ANSWER

    return {
        "valid": VALID_ANSWER,
        "fenced": f"Here is the ticket:\n```json\n{VALID_ANSWER}\n```",
        "prose": f"Sure. {VALID_ANSWER} Let me know if anything is missing.",
        "invalid": INVALID_ANSWER,
    }[kind]


def _calls(pkg: str, answer: str = "valid") -> dict[str, Any]:
    """Return the three ``validate`` calls built from package ``pkg``'s classes."""
    from bench._fixtures import MESSAGES, MODEL, TICKET_PATTERN, TICKET_SCHEMA
    from bench._scenarios import LIMIT

    c = importlib.import_module(f"{pkg}.contracts")
    views = importlib.import_module(f"{pkg}.providers._openai_requests")
    request = views.ChatCompletionsRequestView().read({"model": MODEL, "messages": MESSAGES})
    response = c.LLMResponse(text=_answer(answer), model=MODEL, finish_reason="stop")
    ctx = c.ValidationContext(request=request)
    length = c.PromptLengthContract(max_tokens=LIMIT).validate
    schema = c.JSONFormatContract(schema=TICKET_SCHEMA).validate
    regex = c.RegexContract(TICKET_PATTERN).validate
    for call, value in ((length, request), (schema, response), (regex, response)):
        assert call(value, ctx).is_valid or answer == "invalid"
    return {
        "PromptLength": lambda: length(request, ctx),
        "JSONFormat": lambda: schema(response, ctx),
        "Regex": lambda: regex(response, ctx),
    }


def _worker(answer: str, calls: int) -> None:
    """Run under callgrind: one dump of ``calls`` calls per contract, in order."""
    fns = _calls("llm_contracts", answer)
    gc.disable()
    for call in fns.values():
        for _ in range(50):
            call()
        os.getpgrp()  # dump: everything before this contract's calls
        for _ in range(calls):
            call()
        os.getpgrp()  # dump: this contract's calls
    print("\n".join(fns))


def _instructions(tree: Path, answer: str, calls: int) -> dict[str, float]:
    """Return the instructions per call of each contract on the checkout at ``tree``."""
    from bench.instructions import marked_counts

    with tempfile.TemporaryDirectory() as tmp:
        args = ["--answer", answer, "--number", str(calls)]
        names, per_block = marked_counts(tree, Path(__file__).resolve(), args, tmp)
        return {name: totals[0] / calls for name, (_, totals) in zip(names, per_block, strict=False)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--answer", choices=["valid", "fenced", "prose", "invalid"], default="valid", help="the answer judged"
    )
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.answer, args.number)
        return
    if args.instructions:
        calls = min(args.number, 200)
        trees = {"this": ROOT} if args.base is None else {"base": args.base.resolve(), "this": ROOT}
        counts = {name: _instructions(tree, args.answer, calls) for name, tree in trees.items()}
        print(f"{'call (Ir per call)':<18}" + "".join(f"{t:>12}" for t in trees))
        for row in [*counts["this"], "total"]:
            cells = {t: sum(c.values()) if row == "total" else c[row] for t, c in counts.items()}
            line = f"{row:<18}" + "".join(f"{v:>12,.0f}" for v in cells.values())
            if len(trees) > 1:
                line += f"  {100 * (cells['this'] / cells['base'] - 1):+7.1f}%"
            print(line)
        return
    trees = {"this": _calls("llm_contracts", args.answer)}
    if args.base is not None:
        tmp = tempfile.mkdtemp()
        _alias(args.base.resolve(), Path(tmp))
        sys.path.insert(0, tmp)
        trees = {"base": _calls(ALIAS, args.answer), **trees}
    pairs = [(tree, name) for tree, calls in trees.items() for name in calls]
    times: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
    gc.disable()
    for _ in range(args.rounds):
        random.shuffle(pairs)
        for tree, name in pairs:
            t = timeit.Timer(trees[tree][name]).repeat(args.repeat, args.number)
            times[tree, name].append(min(t) / args.number * 1e6)
    gc.enable()
    names = list(trees["this"])
    head = f"{'call (median µs)':<16}" + "".join(f"{t:>10}" for t in trees)
    print(head + ("    change" if len(trees) > 1 else ""))
    totals = dict.fromkeys(trees, 0.0)
    for name in [*names, "total"]:
        row = {}
        for tree in trees:
            row[tree] = totals[tree] if name == "total" else statistics.median(times[tree, name])
            if name != "total":
                totals[tree] += row[tree]
        line = f"{name:<16}" + "".join(f"{row[t]:>10.2f}" for t in trees)
        if len(trees) > 1:
            line += f"  {100 * (row['this'] / row['base'] - 1):+7.1f}%"
        print(line)


if __name__ == "__main__":
    main()
