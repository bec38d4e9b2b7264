"""Benchmark the contracted client against the raw openai client, a hand-written loop and instructor.

Usage: ``make bench`` or ``python bench/run.py [--quick] [--rounds N] [--seed S]
[--profile SCENARIO]``. See bench/README.md for how to read the output.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import platform
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import _imports  # noqa: E402
from bench._anthropic import (  # noqa: E402
    ANTHROPIC_INSTRUCTOR,
    ANTHROPIC_NONE,
    ANTHROPIC_THREE,
    RAW_ANTHROPIC,
    anthropic_scenarios,
)
from bench._cohere import COHERE_INSTRUCTOR, COHERE_NONE, COHERE_THREE, RAW_COHERE, cohere_scenarios  # noqa: E402
from bench._fixtures import STREAM_CHUNKS  # noqa: E402
from bench._harness import Row, format_table, run_rounds, summarize, warm_up  # noqa: E402
from bench._scenarios import (  # noqa: E402
    INSTRUCTOR,
    INSTRUCTOR_RETRIES,
    RAW,
    RETRY_HAND,
    RETRY_WRAP,
    SEM_SIMILARITY,
    SEM_TOPIC,
    STREAM_HOLD,
    STREAM_RAW,
    STREAM_WRAP,
    TOK_BYTES,
    TOK_FRESH,
    TOK_INCREMENTAL,
    TOK_TIKTOKEN,
    WRAP_NONE,
    WRAP_THREE,
    http_scenarios,
    semantic_scenarios,
    three_contracts,
    token_scenarios,
)

DEFAULTS = {"rounds": 100, "block_ms": 60.0, "warmup_s": 0.5, "import_runs": 9, "fresh_block": 12}
QUICK = {"rounds": 8, "block_ms": 25.0, "warmup_s": 0.15, "import_runs": 3, "fresh_block": 6}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 30 s)")
    parser.add_argument("--rounds", type=int, help="rounds of interleaved blocks")
    parser.add_argument("--seed", type=int, default=20240611, help="seed of the block order and texts")
    parser.add_argument("--block-ms", type=float, help="target duration of one block")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a goal fails")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="profile one scenario (name or unique prefix) with cProfile and exit",
    )
    return parser.parse_args(argv)


def _goal(passed: bool, text: str) -> tuple[bool, str]:
    return passed, f"{'PASS' if passed else 'FAIL'}  {text}"


def goals(rows: dict[str, Row], imports: _imports.ImportCost) -> list[tuple[bool, str]]:
    raw = rows[RAW].median_us
    none = rows[WRAP_NONE]
    three = rows[WRAP_THREE]
    inst = rows[INSTRUCTOR]
    out = [
        _goal(
            none.over_pct is not None and none.over_pct < 2.0,
            f"no-contract wrapper adds < 2% to the raw median: +{none.over_us:.1f} µs = "
            f"{none.over_pct:+.2f}% of {raw:.1f} µs",
        ),
    ]
    ratio = (three.over_us or 0) / (inst.over_us or float("nan"))
    out.append(
        _goal(
            ratio < 0.05,
            f"3-contract wrapper overhead < 5% of instructor's: "
            f"{three.over_us:.1f} µs vs {inst.over_us:.1f} µs = {100 * ratio:.1f}%",
        )
    )
    wrap, hand = rows[RETRY_WRAP].median_us, rows[RETRY_HAND].median_us
    out.append(
        _goal(
            wrap <= 1.2 * hand,
            f"one re-ask: wrapper <= 1.2x the hand-written loop: "
            f"{wrap:.1f} µs vs {hand:.1f} µs = {wrap / hand:.3f}x",
        )
    )
    per_chunk = (rows[STREAM_WRAP].median_us - rows[STREAM_RAW].median_us) / STREAM_CHUNKS
    out.append(
        _goal(per_chunk < 20, f"streaming check < 20 µs a chunk: {per_chunk:.2f} µs ({STREAM_CHUNKS} chunks)")
    )
    held = (rows[STREAM_HOLD].median_us - rows[STREAM_RAW].median_us) / STREAM_CHUNKS
    out.append(
        _goal(
            held < 20,
            f"holding stream, forbidding regex < 20 µs a chunk: {held:.2f} µs ({STREAM_CHUNKS} chunks)",
        )
    )
    inc = rows[TOK_INCREMENTAL].median_us
    out.append(_goal(inc < 50, f"token count, history + 1 new message < 50 µs: {inc:.1f} µs"))
    fresh, tik = rows[TOK_FRESH].median_us, rows[TOK_TIKTOKEN].median_us
    out.append(
        _goal(
            fresh <= 1.10 * tik,
            f"token count, fresh 4k prompt <= tiktoken + 10%: {fresh:.1f} µs "
            f"vs {tik:.1f} µs = {100 * (fresh / tik - 1):+.1f}%",
        )
    )
    # Its check already proved that no tokenizer call happened; a failed check stops the run.
    out.append(
        _goal(
            True,
            f"token count, prompt under the limit in UTF-8 bytes: no tokenizer call, "
            f"{rows[TOK_BYTES].median_us:.1f} µs",
        )
    )
    out.append(
        _goal(
            imports.added_ms < 30,
            f"import llm_contracts adds < 30 ms to import openai: {imports.added_ms:+.1f} ms "
            f"(median of {imports.runs} fresh interpreters, after openai's "
            f"{imports.openai_ms:.0f} ms; -X importtime: {imports.importtime_ms:.1f} ms)",
        )
    )
    for name in (SEM_TOPIC, SEM_SIMILARITY):
        us = rows[name].median_us
        out.append(_goal(us < 1000, f"{name} < 1 ms a check: {us:.1f} µs = {us / 1000:.2f}x the goal"))
    if ANTHROPIC_NONE in rows:
        anth, anth_raw = rows[ANTHROPIC_NONE], rows[RAW_ANTHROPIC].median_us
        out.append(
            _goal(
                anth.over_pct is not None and anth.over_pct < 2.0,
                f"anthropic: no-contract wrapper adds < 2% to the raw median: "
                f"+{anth.over_us:.1f} µs = {anth.over_pct:+.2f}% of {anth_raw:.1f} µs",
            )
        )
    if ANTHROPIC_THREE in rows and ANTHROPIC_INSTRUCTOR in rows:
        over, inst_over = rows[ANTHROPIC_THREE].over_us or 0, rows[ANTHROPIC_INSTRUCTOR].over_us
        ratio = over / (inst_over or float("nan"))
        out.append(
            _goal(
                ratio < 0.05,
                f"anthropic: 3-contract wrapper overhead < 5% of instructor's: "
                f"{over:.1f} µs vs {inst_over:.1f} µs = {100 * ratio:.1f}%",
            )
        )
    # The same goals for Cohere's v2 client as for Anthropic's.
    if COHERE_NONE in rows:
        coh, coh_raw = rows[COHERE_NONE], rows[RAW_COHERE].median_us
        out.append(
            _goal(
                coh.over_pct is not None and coh.over_pct < 2.0,
                f"cohere: no-contract wrapper adds < 2% to the raw median: "
                f"+{coh.over_us:.1f} µs = {coh.over_pct:+.2f}% of {coh_raw:.1f} µs",
            )
        )
    if COHERE_THREE in rows and COHERE_INSTRUCTOR in rows:
        over, inst_over = rows[COHERE_THREE].over_us or 0, rows[COHERE_INSTRUCTOR].over_us
        ratio = over / (inst_over or float("nan"))
        out.append(
            _goal(
                ratio < 0.05,
                f"cohere: 3-contract wrapper overhead < 5% of instructor's: "
                f"{over:.1f} µs vs {inst_over:.1f} µs = {100 * ratio:.1f}%",
            )
        )
    loaded = ", ".join(imports.heavy_loaded) + " loaded" if imports.heavy_loaded else "none loaded"
    out.append(
        _goal(
            not imports.heavy_loaded,
            f"import llm_contracts loads none of django, jsonschema, tiktoken: {loaded}",
        )
    )
    return out


def _profile(name: str, scenarios: list, seconds: float) -> None:
    matches = [s for s in scenarios if s.name == name] or [s for s in scenarios if s.name.startswith(name)]
    if len(matches) != 1:
        names = ", ".join(repr(s.name) for s in scenarios)
        raise SystemExit(f"--profile needs one of: {names}")
    scenario = matches[0]
    warm_up([scenario], seconds=0.3, block_ms=20)
    args = scenario.args(scenario.block)
    profiler = cProfile.Profile()
    deadline = time.perf_counter() + seconds
    calls = 0
    while time.perf_counter() < deadline:
        if not args:
            args = list(scenario.args(scenario.block))
        arg = args.pop()
        profiler.enable()
        scenario.call(arg)
        profiler.disable()
        calls += 1
    print(f"cProfile of {scenario.name!r}: {calls} calls")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cfg = dict(QUICK if args.quick else DEFAULTS)
    if args.rounds is not None:
        cfg["rounds"] = args.rounds
    if args.block_ms is not None:
        cfg["block_ms"] = args.block_ms
    started = time.perf_counter()

    scenarios = http_scenarios()
    scenarios += anthropic_scenarios(three_contracts())
    scenarios += cohere_scenarios(three_contracts())
    token_rows, notes = token_scenarios(args.seed, fresh_block=int(cfg["fresh_block"]))
    scenarios += token_rows
    semantic_rows, semantic_notes = semantic_scenarios(args.seed)
    scenarios += semantic_rows
    notes = {**notes, **semantic_notes}
    if args.profile:
        _profile(args.profile, scenarios, seconds=5.0)
        return 0

    import openai

    print(
        f"llm-contracts bench: python {platform.python_version()}, openai {openai.__version__}, "
        f"{platform.machine()}; seed {args.seed}, {cfg['rounds']} rounds, "
        f"blocks of ~{cfg['block_ms']:.0f} ms"
    )
    warm_up(scenarios, seconds=cfg["warmup_s"], block_ms=cfg["block_ms"])
    gc.collect()

    def progress(done: int) -> None:
        print(f"\r  round {done}/{cfg['rounds']}", end="", file=sys.stderr, flush=True)

    run_rounds(scenarios, rounds=int(cfg["rounds"]), seed=args.seed, progress=progress)
    print(file=sys.stderr)
    imports = _imports.measure(int(cfg["import_runs"]))

    rows = summarize(scenarios)
    notes = {
        RETRY_HAND: "first answer breaks the schema, the re-ask's answer passes (2 requests per call)",
        RETRY_WRAP: "contract_retries=1, the three contracts of 'wrapper, 3 contracts'",
        "re-ask: instructor": f"max_retries={INSTRUCTOR_RETRIES} (instructor counts attempts: one re-ask)",
        STREAM_RAW: f"{STREAM_CHUNKS} content chunks, iterated and joined",
        **notes,
    }
    print()
    print(format_table(list(rows.values()), notes))
    print()
    results = goals(rows, imports)
    print("goals:")
    for _, line in results:
        print("  " + line)
    heaviest = ", ".join(f"{name} {ms:.1f} ms" for name, ms in imports.heaviest)
    print(f"\nslowest modules imported after openai (self time): {heaviest}")
    print(imports.first_call_line())
    print(f"finished in {time.perf_counter() - started:.0f} s")
    return 1 if args.strict and not all(ok for ok, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
