"""Instructions per call of the drop-in clients, counted by callgrind: a figure machine load cannot move.

    python bench/instructions.py                       # every provider, 20 calls per row
    python bench/instructions.py --calls 50 --provider openai
    python bench/instructions.py --tree ../other-checkout   # the same rows on another checkout

The script runs itself again under ``valgrind --tool=callgrind``. Inside, each row is
warmed up, then its calls are counted between two markers (``os.getpgrp()``, on which
callgrind dumps its counters), so start-up, imports and warm-up are never counted. The
rows are the bench's: the raw client, the drop-in with no contracts and with the three
contracts of ``make bench``, and instructor where installed.

Instruction counts are not time: a call right after the vendor's HTTP stack runs on cold
caches and costs more per instruction. They are exact, though, and an A/B of two checkouts
with ``--tree`` shows what a change removes.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _rows(provider: str) -> list[tuple[str, Callable[[], Any]]]:
    """Return ``(name, call)`` of the rows of ``provider``."""
    from bench._scenarios import three_contracts

    if provider == "openai":
        from bench._fixtures import MESSAGES, MODEL, Transport, client_options, raw_client
        from llm_contracts import ContractOpenAI

        t = Transport()
        raw = raw_client(t.valid).chat.completions.create
        none = ContractOpenAI(**client_options(t.valid)).chat.completions.create
        three = ContractOpenAI(**client_options(t.valid), **three_contracts()).chat.completions.create
        return [
            ("raw", lambda: raw(model=MODEL, messages=MESSAGES)),
            ("no contracts", lambda: none(model=MODEL, messages=MESSAGES)),
            ("3 contracts", lambda: three(model=MODEL, messages=MESSAGES)),
        ]
    if provider == "anthropic":
        import anthropic

        from bench._anthropic import MODEL as AMODEL
        from bench._anthropic import SYSTEM, TURNS, _options
        from llm_contracts import ContractAnthropic

        araw = anthropic.Anthropic(**_options()).messages.create
        anone = ContractAnthropic(**_options()).messages.create
        athree = ContractAnthropic(**_options(), **three_contracts()).messages.create
        kw: dict[str, Any] = {"model": AMODEL, "max_tokens": 512, "system": SYSTEM, "messages": TURNS}
        return [
            ("raw", lambda: araw(**kw)),
            ("no contracts", lambda: anone(**kw)),
            ("3 contracts", lambda: athree(**kw)),
        ]
    if provider == "cohere":
        import cohere

        from bench._cohere import MODEL as CMODEL
        from bench._cohere import _options as coptions
        from bench._fixtures import MESSAGES as CMESSAGES
        from llm_contracts import ContractCohere

        craw = cohere.ClientV2(**coptions()).chat
        cnone = ContractCohere(**coptions()).chat
        cthree = ContractCohere(**coptions(), **three_contracts()).chat
        return [
            ("raw", lambda: craw(model=CMODEL, messages=CMESSAGES)),
            ("no contracts", lambda: cnone(model=CMODEL, messages=CMESSAGES)),
            ("3 contracts", lambda: cthree(model=CMODEL, messages=CMESSAGES)),
        ]
    raise SystemExit(f"unknown provider {provider!r}")


def _worker(providers: list[str], calls: int, warmup: int) -> None:
    """Run under callgrind: one dump of ``calls`` calls per row, in order."""
    import gc

    names = []
    rows = []
    for provider in providers:
        for name, call in _rows(provider):
            names.append(f"{provider}: {name}")
            rows.append(call)
    gc.disable()  # a collection would land on whichever row crosses the threshold
    for call in rows:
        for _ in range(warmup):
            call()
        gc.collect()
        os.getpgrp()  # dump: everything before this row's calls
        for _ in range(calls):
            call()
        os.getpgrp()  # dump: this row's calls
    print("\n".join(names))


_TOTALS = re.compile(r"^(?:totals|summary):((?:\s+\d+)+)", re.M)
_EVENTS = re.compile(r"^events:\s*(.*)$", re.M)


def _count(path: str) -> tuple[list[str], list[int]]:
    """Return the event names of a dump and their totals (instructions first)."""
    text = Path(path).read_text()
    found = _TOTALS.search(text)
    events = _EVENTS.search(text)
    if found is None or events is None:
        raise SystemExit(f"no totals in {path}")
    names = events.group(1).split()
    totals = [int(n) for n in found.group(1).split()]
    return names, totals + [0] * (len(names) - len(totals))  # trailing zeros may be left out


def marked_counts(
    tree: Path, script: Path, args: list[str], out_dir: str, cache_sim: bool = False
) -> tuple[list[str], list[tuple[list[str], list[int]]]]:
    """Run ``script --worker *args`` under callgrind on the checkout at ``tree``.

    The worker prints one name per counted block and calls ``os.getpgrp()`` before and
    after each block; return the names and, per block, its events and totals.
    """
    out = os.path.join(out_dir, "callgrind.out")
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{ROOT}", "PYTHONHASHSEED": "0"}
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        "--dump-instr=no",
        "--collect-jumps=no",
        "--dump-before=getpgrp",
        *(["--cache-sim=yes"] if cache_sim else []),
        sys.executable,
        str(script),
        "--worker",
        *args,
    ]
    done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"callgrind run failed:\n{done.stderr[-3000:]}")
    names = [n for n in done.stdout.split("\n") if n]
    dumps = sorted(glob.glob(out + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    # Dumps 1, 3, 5... hold the calls of blocks 0, 1, 2...
    per_block = [_count(p) for p in dumps][1::2]
    if len(per_block) < len(names):
        raise SystemExit(f"{len(dumps)} dumps for {len(names)} blocks")
    return names, per_block


def measure(
    tree: Path,
    providers: list[str],
    calls: int,
    warmup: int,
    cache_sim: bool = False,
    keep: str | None = None,
) -> dict[str, dict[str, float]]:
    """Return, per row, each event's count per call (``Ir``: instructions) on the checkout at ``tree``."""
    with tempfile.TemporaryDirectory() as tmp:
        if keep:
            os.makedirs(keep, exist_ok=True)
        args = ["--calls", str(calls), "--warmup", str(warmup)]
        args += [a for p in providers for a in ("--provider", p)]
        names, per_row = marked_counts(tree, Path(__file__).resolve(), args, keep or tmp, cache_sim)
        return {
            name: {e: n / calls for e, n in zip(events, totals, strict=True)}
            for name, (events, totals) in zip(names, per_row, strict=False)
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--provider", action="append", choices=["openai", "anthropic", "cohere"])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--tree", action="append", help="a checkout to count (repeatable); default: this one")
    parser.add_argument("--cache-sim", action="store_true", help="also count cache misses (slower)")
    parser.add_argument("--keep", help="leave callgrind's dumps in this folder (for callgrind_annotate)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    providers = args.provider or ["openai", "anthropic", "cohere"]
    if args.worker:
        _worker(providers, args.calls, args.warmup)
        return
    trees = [Path(t).resolve() for t in args.tree or [str(ROOT)]]
    results = [measure(tree, providers, args.calls, args.warmup, args.cache_sim, args.keep) for tree in trees]
    label = [str(i + 1) for i in range(len(trees))]
    print(f"per call ({args.calls} calls per row, after {args.warmup} warm-up calls)")
    for i, tree in enumerate(trees):
        print(f"  tree {label[i]}: {tree}")
    events = list(next(iter(results[0].values())))
    for event in events:
        print(f"\n{event} per call" + (" (instructions)" if event == "Ir" else ""))
        print(f"{'row':32}" + "".join(f"{'tree ' + name:>34}" for name in label))
        for row in results[0]:
            provider = row.split(":")[0]
            cells = []
            for r in results:
                value, raw = r[row][event], r[f"{provider}: raw"][event]
                extra = value - raw
                share = (
                    f"{extra:+,.0f} {100 * extra / raw:+6.2f}%" if raw and row != f"{provider}: raw" else ""
                )
                cells.append(f"{value:>14,.0f} {share:>19}")
            print(f"{row:32}" + "".join(cells))
    print()


if __name__ == "__main__":
    main()
