"""Run openai's own test suite against openai's clients and against the drop-in ones.

Usage::

    python tests/compat/run_openai_suite.py [--python PY] [--cache DIR] [--modes plain,dropin,contract]
                                            [-k EXPR] [--keep-going]

It takes the sdist of the openai version that ``PY`` has installed (from ``--cache``,
downloaded there with pip when missing: later runs work offline), runs its tests (all but
``tests/api_resources``, which needs a mock API server) once per mode, and lists every test
that passes with openai's clients but fails with the drop-in ones:

- ``plain``: openai's own ``OpenAI`` / ``AsyncOpenAI``;
- ``dropin``: ``ContractOpenAI`` / ``AsyncContractOpenAI`` in their place, no contracts;
- ``contract``: the same, each client with one output contract that always passes.

The suite needs its own test dependencies (``pytest-asyncio``, ``inline-snapshot``,
``griffe``, ``respx``, ``trio``, ``dirty-equals``, ``websockets``); ``make test-openai-suite`` builds a venv
with them. Exit status 1 when a test passes on ``plain`` and fails in another mode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODES = ("plain", "dropin", "contract")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run the suite with")
    parser.add_argument(
        "--cache",
        type=Path,
        default=ROOT / ".cache" / "openai-suite",
        help="where the sdist is kept and unpacked",
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes to run")
    parser.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    parser.add_argument("--keep-going", action="store_true", help="exit 0 even when a test regresses")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="compare the JUnit reports a previous run left in --cache instead of running",
    )
    return parser.parse_args(argv)


def _openai_version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import openai; print(openai.__version__)"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _suite(python: str, version: str, cache: Path) -> Path:
    """Return the unpacked sdist of ``version``, downloading it into ``cache`` if needed."""
    cache.mkdir(parents=True, exist_ok=True)
    unpacked = cache / f"openai-{version}"
    if (unpacked / "tests").is_dir():
        return unpacked
    archive = cache / f"openai-{version}.tar.gz"
    if not archive.exists():
        print(f"downloading the openai {version} sdist into {cache}", flush=True)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"openai=={version}",
                "-d",
                str(cache),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    return unpacked


def _run(python: str, suite: Path, mode: str, keyword: str | None, report: Path) -> float:
    env = {
        **os.environ,
        "LLMC_OPENAI_SUITE_MODE": mode,
        # openai's suite imports its own ``tests`` package; the swap plugin comes from here,
        # the SDK from this checkout.
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    cmd = [
        python,
        "-m",
        "pytest",
        "tests",
        "--ignore=tests/api_resources",
        "-p",
        "openai_swap",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=--tb=line",
        "-q",
        "--continue-on-collection-errors",
        f"--junitxml={report}",
    ]
    if keyword:
        cmd += ["-k", keyword]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=suite, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _outcomes(report: Path) -> dict[str, str]:
    """Return ``{test id: passed | failed | skipped}`` from a JUnit XML report."""
    out: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            out[name] = "failed"
        elif "skipped" in kinds:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


def _plain_id(test: str) -> str:
    test = test.replace("AsyncImprovedOpenAIProvider", "AsyncOpenAI")
    return test.replace("ImprovedOpenAIProvider", "OpenAI")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or "plain" not in modes:
        raise SystemExit(f"--modes takes plain (always) and any of dropin, contract; got {args.modes!r}")
    version = _openai_version(args.python)
    suite = _suite(args.python, version, args.cache)
    print(f"openai {version} test suite (all but tests/api_resources) in {suite}")
    results: dict[str, dict[str, str]] = {}
    for mode in modes:
        report = args.cache / f"junit-{version}-{mode}.xml"
        reuse = args.reuse and report.exists()
        seconds = 0.0 if reuse else _run(args.python, suite, mode, args.keyword, report)
        results[mode] = _outcomes(report)
        counts = {k: list(results[mode].values()).count(k) for k in ("passed", "failed", "skipped")}
        print(
            f"  {mode:8} {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped "
            f"({seconds:.0f} s)",
            flush=True,
        )
    plain = results["plain"]
    regressions = 0
    for mode in modes[1:]:
        # Parametrized ids that name the client class differ between modes: match them up.
        by_plain_id = {_plain_id(t): outcome for t, outcome in results[mode].items()}
        broken = sorted(
            t
            for t, outcome in plain.items()
            if outcome == "passed"
            and by_plain_id.get(t, "missing") != "passed"
            and by_plain_id.get(t) != "skipped"
        )
        regressions += len(broken)
        print(f"\npassing on plain, failing (or missing) on {mode}: {len(broken)}")
        for test in broken:
            print(f"  {test}{'' if test in by_plain_id else '  (missing)'}")
    return 1 if regressions and not args.keep_going else 0


if __name__ == "__main__":
    sys.exit(main())
