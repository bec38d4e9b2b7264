"""The ``llm-contracts`` command: check, compile and format LLMCL files, or run the demo.

::

    llm-contracts check FILE...          errors in the compiler's format; exit 1 on any
    llm-contracts compile FILE           the JSON spec on standard output
    llm-contracts fmt FILE [--check] [--write]
    llm-contracts demo                   what contracts catch, against a local fake model
    llm-contracts lsp [--import MODULE]  the LLMCL language server, over standard input and output
    llm-contracts profile FILE --inputs CASES.jsonl [--json]   what each clause costs per call
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-contracts", description="Design by Contract for LLM APIs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_imports(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--import",
            dest="modules",
            action="append",
            default=[],
            metavar="MODULE",
            help="import MODULE first, so the named contracts it registers are known",
        )
        p.add_argument("--strict", action="store_true", help="make every conflict between clauses an error")

    check = sub.add_parser("check", help="check LLMCL files and print their errors")
    check.add_argument("files", nargs="+", metavar="FILE")
    with_imports(check)
    comp = sub.add_parser("compile", help="print the JSON spec of an LLMCL file")
    comp.add_argument("file", metavar="FILE")
    comp.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")
    with_imports(comp)
    fmt = sub.add_parser("fmt", help="print an LLMCL file in canonical layout")
    fmt.add_argument("file", metavar="FILE")
    mode = fmt.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when the file is not formatted")
    mode.add_argument("--write", action="store_true", help="rewrite the file in place")
    sub.add_parser("demo", help="show what contracts catch, against a local fake model")
    lsp = sub.add_parser("lsp", help="run the LLMCL language server over standard input and output")
    lsp.add_argument("--stdio", action="store_true", help="talk over standard input and output (the default)")
    lsp.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, so the named contracts it registers are known",
    )
    prof = sub.add_parser("profile", help="measure what each clause of an LLMCL contract costs per call")
    prof.add_argument("file", metavar="FILE")
    prof.add_argument(
        "--inputs",
        required=True,
        metavar="CASES.jsonl",
        help='one case per line: an answer as a JSON string, or {"output": ..., "input": ..., '
        '"context": {...}}',
    )
    prof.add_argument("--contract", metavar="NAME", help="the contract to profile (default: the file's last)")
    prof.add_argument("--runs", type=int, default=10, help="how often each case is judged (default 10)")
    prof.add_argument(
        "--budget-ms",
        type=float,
        default=1.0,
        help="report a clause whose p95 is above this many milliseconds (default 1)",
    )
    prof.add_argument("--json", action="store_true", help="print JSON instead of a table")
    with_imports(prof)
    return parser


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        print(f"{path}: error: cannot read the file: {why}", file=sys.stderr)
        return None


def _import(modules: Sequence[str]) -> bool:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the user's module: report, never a traceback
            print(f"error: cannot import {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return False
    return True


def _check(args: argparse.Namespace) -> int:
    from .llmcl import LLMCLError, compile_source

    if not _import(args.modules):
        return 1
    failed = 0
    for path in args.files:
        source = _read(path)
        if source is None:
            failed += 1
            continue
        try:
            compile_source(source, path=path, strict=args.strict)
        except LLMCLError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _compile(args: argparse.Namespace) -> int:
    from .llmcl import LLMCLError, compile_source

    if not _import(args.modules):
        return 1
    source = _read(args.file)
    if source is None:
        return 1
    try:
        spec = compile_source(source, path=args.file, strict=args.strict)
    except LLMCLError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps(spec, indent=args.indent or None, ensure_ascii=False))
    return 0


def _fmt(args: argparse.Namespace) -> int:
    from .llmcl import LLMCLError, format_source

    source = _read(args.file)
    if source is None:
        return 1
    try:
        formatted = format_source(source, file=args.file)
    except LLMCLError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.check:
        if formatted != source:
            print(f"{args.file}: not formatted (run: llm-contracts fmt --write {args.file})", file=sys.stderr)
            return 1
        return 0
    if args.write:
        if formatted != source:
            Path(args.file).write_text(formatted, encoding="utf-8")
        return 0
    sys.stdout.write(formatted)
    return 0


def _profile(args: argparse.Namespace) -> int:
    from ._exceptions import ContractConfigError
    from .debugging import ContractProfiler, load_cases
    from .llmcl import LLMCLError, load_source

    if not _import(args.modules):
        return 1
    source = _read(args.file)
    if source is None:
        return 1
    try:
        contracts = load_source(source, path=args.file, contract=args.contract, strict=args.strict)
        cases = load_cases(args.inputs)
        profiler = ContractProfiler(runs=args.runs, budget_ms=args.budget_ms)
        report = profiler.profile_contracts(contracts, cases, name=contracts.name)
    except (LLMCLError, ContractConfigError) as exc:
        print(f"error: {exc}" if not isinstance(exc, LLMCLError) else str(exc), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"file": args.file, **report.to_dict()}, indent=2, ensure_ascii=False))
    else:
        print(f"{args.file}: contract {contracts.name}, {len(cases)} cases x {args.runs} runs")
        print(report.table())
    return 0


def _lsp(args: argparse.Namespace) -> int:
    try:
        from .lsp import create_server

        server = create_server()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # Standard output is the protocol's channel: a module that prints while it is
    # imported would corrupt it, so its output goes to standard error.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        if not _import(args.modules):
            return 1
    finally:
        sys.stdout = stdout
    server.start_io()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "check":
        return _check(args)
    if args.command == "compile":
        return _compile(args)
    if args.command == "fmt":
        return _fmt(args)
    if args.command == "lsp":
        return _lsp(args)
    if args.command == "profile":
        return _profile(args)
    from . import demo

    demo.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
