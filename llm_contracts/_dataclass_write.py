"""Write (or check) ``llm_contracts/_dataclass_fns.py``, the dataclass methods compiled ahead of time.

    python -m llm_contracts._dataclass_write            # write it again
    python -m llm_contracts._dataclass_write --check    # exit 1 when it is stale

A fresh interpreter imports every module of the package with the decorator recording the
text of each method the standard ``dataclasses`` generates (``_dataclass._Precompiled``);
the texts become functions of a module, keyed by a digest of the text, so a class that changed
simply misses and is compiled as before.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

from ._dataclass import _RECORD, digest

TARGET = Path(__file__).with_name("_dataclass_fns.py")

_HEADER = '''"""The methods ``dataclasses`` writes for the package's dataclasses, compiled ahead of time.

Written by ``python -m llm_contracts._dataclass_write``; do not edit. ``_dataclass`` takes
a function from here when the standard decorator generates exactly its text.
"""
# ruff: noqa
# mypy: ignore-errors
# fmt: off
'''


def _record() -> tuple[list[str], list[str]]:
    """In this interpreter: import every module; return the texts met and the modules that failed."""
    import llm_contracts
    from llm_contracts import _dataclass

    failed = []
    for info in pkgutil.walk_packages(llm_contracts.__path__, "llm_contracts."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # an optional dependency missing: its classes stay compiled at import
            failed.append(info.name)
    recorded = _dataclass._PRECOMPILED.recorded  # type: ignore[attr-defined]
    if recorded is None:
        raise SystemExit(f"{_RECORD} was not set when llm_contracts was first imported")
    return sorted(recorded), failed


_CHILD = "import json, llm_contracts._dataclass_write as w; print(json.dumps(w._record()))"


def _texts() -> tuple[list[str], list[str]]:
    """Return the recorded texts and the failed modules, from a fresh interpreter."""
    env = {**os.environ, _RECORD: "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    texts, failed = json.loads(done.stdout.strip().splitlines()[-1])
    return texts, failed


def render(texts: list[str]) -> str:
    """Return the module holding ``texts`` as functions, keyed by their text's digest."""
    out = [_HEADER]
    for i, text in enumerate(texts):
        head, rest = text.split("\n", 1)
        if not head.startswith("def __create_fn__("):
            raise ValueError(f"unexpected text: {head!r}")
        out.append(f"\ndef _f{i}(" + head[len("def __create_fn__(") :] + "\n" + rest + "\n")
    out.append("\nFUNCTIONS = {\n")
    out += [f"    {digest(text)!r}: _f{i},\n" for i, text in enumerate(texts)]
    out.append("}\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when the module is stale")
    args = parser.parse_args(argv)
    texts, failed = _texts()
    if not args.check:
        TARGET.write_text(render(texts))
        skipped = f"; not imported: {', '.join(failed)}" if failed else ""
        print(f"wrote {TARGET.name}: {len(texts)} functions{skipped}")
        return 0
    current = TARGET.read_text() if TARGET.exists() else ""
    written: dict[str, object] = {}
    if current:
        exec(compile(current, str(TARGET), "exec"), written)  # the keys, as the decorator sees them
    missing = [t for t in texts if digest(t) not in written.get("FUNCTIONS", {})]  # type: ignore[operator]
    if missing or (not failed and current != render(texts)):
        print(
            f"{TARGET.name} is stale ({len(missing)} texts missing); "
            "run python -m llm_contracts._dataclass_write"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
