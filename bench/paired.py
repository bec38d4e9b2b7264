"""Paired timing of the drop-in clients against the raw ones, and against another checkout.

    python bench/paired.py                                  # every provider, this checkout
    python bench/paired.py --base ../main --rounds 400      # the same rows on ../main too

Each round runs every row once (the best of ``--repeat`` calls, with the garbage
collector off), in an order reshuffled every round; the figure of a row is the median over
the rounds of its difference from the raw client of the same round. On a shared machine the
rounds' neighbours move together, so their differences are steadier than two medians.

With ``--base``, the other checkout's package is copied under another name
(``llm_contracts_base``) and imported into the same process, so old and new run
interleaved on the same machine state: the clients of each are built from their own
package's classes.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ALIAS = "llm_contracts_base"


def _alias(base: Path, into: Path) -> None:
    """Copy ``base``'s package into ``into`` as ``llm_contracts_base``."""
    target = into / ALIAS
    shutil.copytree(base / "llm_contracts", target)
    word = re.compile(r"\bllm_contracts\b")
    for path in target.rglob("*.py"):
        text = path.read_text()
        path.write_text(word.sub(ALIAS, text))


def _contracts(pkg: str) -> dict[str, Any]:
    from bench._fixtures import TICKET_PATTERN, TICKET_SCHEMA
    from bench._scenarios import LIMIT

    c = importlib.import_module(f"{pkg}.contracts")
    return {
        "input_contracts": [c.PromptLengthContract(max_tokens=LIMIT)],
        "output_contracts": [c.JSONFormatContract(schema=TICKET_SCHEMA), c.RegexContract(TICKET_PATTERN)],
    }


def _rows(provider: str, packages: list[tuple[str, str]]) -> list[tuple[str, Callable[[], Any]]]:
    rows: list[tuple[str, Callable[[], Any]]] = []
    if provider == "openai":
        from bench._fixtures import MESSAGES, MODEL, Transport, client_options, raw_client

        t = Transport()
        raw = raw_client(t.valid).chat.completions.create
        rows.append(("raw", lambda: raw(model=MODEL, messages=MESSAGES)))
        for label, pkg in packages:
            cls = importlib.import_module(pkg).ContractOpenAI
            for name, kw in (("no contracts", {}), ("3 contracts", _contracts(pkg))):
                create = cls(**client_options(t.valid), **kw).chat.completions.create
                rows.append((f"{label} {name}", lambda c=create: c(model=MODEL, messages=MESSAGES)))
    elif provider == "anthropic":
        import anthropic

        from bench._anthropic import MODEL as AMODEL
        from bench._anthropic import SYSTEM, TURNS, _options

        kwargs: dict[str, Any] = {"model": AMODEL, "max_tokens": 512, "system": SYSTEM, "messages": TURNS}
        araw = anthropic.Anthropic(**_options()).messages.create
        rows.append(("raw", lambda: araw(**kwargs)))
        for label, pkg in packages:
            cls = importlib.import_module(pkg).ContractAnthropic
            for name, kw in (("no contracts", {}), ("3 contracts", _contracts(pkg))):
                create = cls(**_options(), **kw).messages.create
                rows.append((f"{label} {name}", lambda c=create: c(**kwargs)))
    else:
        import cohere

        from bench._cohere import MODEL as CMODEL
        from bench._cohere import _options as coptions
        from bench._fixtures import MESSAGES

        craw = cohere.ClientV2(**coptions()).chat
        rows.append(("raw", lambda: craw(model=CMODEL, messages=MESSAGES)))
        for label, pkg in packages:
            cls = importlib.import_module(pkg).ContractCohere
            for name, kw in (("no contracts", {}), ("3 contracts", _contracts(pkg))):
                chat = cls(**coptions(), **kw).chat
                rows.append((f"{label} {name}", lambda c=chat: c(model=CMODEL, messages=MESSAGES)))
    return rows


def run(provider: str, packages: list[tuple[str, str]], rounds: int, repeat: int, seed: int) -> None:
    rows = _rows(provider, packages)
    for _, call in rows:
        for _ in range(100):
            call()
    clock = time.perf_counter_ns
    samples: dict[str, list[int]] = {name: [] for name, _ in rows}
    rng = random.Random(seed)
    order = list(rows)
    for _ in range(rounds):
        rng.shuffle(order)
        gc.disable()
        try:
            for name, call in order:
                best = None
                for _ in range(repeat):
                    t0 = clock()
                    call()
                    took = clock() - t0
                    best = took if best is None or took < best else best
                samples[name].append(best or 0)
        finally:
            gc.enable()
    raw = samples["raw"]
    base = statistics.median(raw)
    print(f"{provider}: raw {base / 1e3:,.1f} µs (median of {rounds} rounds, best of {repeat} calls each)")
    for name, _ in rows[1:]:
        diffs = [b - a for a, b in zip(raw, samples[name], strict=True)]
        extra = statistics.median(diffs)
        print(f"  {name:28} {extra / 1e3:+8.1f} µs  {100 * extra / base:+6.2f}% of raw")
    if len(packages) == 2:
        (new, _), (old, _) = packages
        for name in ("no contracts", "3 contracts"):
            diffs = [b - a for a, b in zip(samples[f"{old} {name}"], samples[f"{new} {name}"], strict=True)]
            change = statistics.median(diffs) / 1e3
            print(f"  {new} - {old}, {name:14} {change:+8.1f} µs (median of differences)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--provider", action="append", choices=["openai", "anthropic", "cohere"])
    parser.add_argument("--base", help="another checkout to time in the same process")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    packages = [("new", "llm_contracts")]
    with tempfile.TemporaryDirectory() as tmp:
        if args.base:
            _alias(Path(args.base).resolve(), Path(tmp))
            sys.path.insert(0, tmp)
            packages.append(("old", ALIAS))
        for provider in args.provider or ["openai", "anthropic", "cohere"]:
            run(provider, packages, args.rounds, args.repeat, args.seed)


if __name__ == "__main__":
    main()
