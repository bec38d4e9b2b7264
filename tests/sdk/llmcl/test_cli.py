"""The ``llm-contracts`` command, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import llm_contracts

ROOT = Path(llm_contracts.__file__).resolve().parent.parent
GOOD = "contract C {\n  ensure len(output) <= 10\n}\n"
BAD = "contract C {\n  ensrue len(output) <= 10\n  ensure lenn(output) < 3\n}\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llm_contracts.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_is_silent_and_succeeds_on_clean_files(tmp_path):
    (tmp_path / "good.llmcl").write_text(GOOD)

    done = run("check", str(tmp_path / "good.llmcl"))

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_check_prints_errors_like_a_compiler_and_fails(tmp_path):
    (tmp_path / "good.llmcl").write_text(GOOD)
    (tmp_path / "bad.llmcl").write_text(BAD)

    done = run("check", str(tmp_path / "good.llmcl"), str(tmp_path / "bad.llmcl"))

    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert (
        lines[0] == f"{tmp_path / 'bad.llmcl'}:2:3: error: unexpected name 'ensrue'; expected a statement "
        "(require, ensure, ensure_every_turn, always, never, eventually, next, until, on, description, "
        "enforcement, severity, priority) or '}'"
    )
    assert lines[1:4] == ["      ensrue len(output) <= 10", "      ^^^^^^", "  hint: did you mean 'ensure'?"]
    assert "Traceback" not in done.stderr


def test_check_reports_a_missing_file(tmp_path):
    done = run("check", str(tmp_path / "nope.llmcl"))

    assert done.returncode == 1
    assert "cannot read the file" in done.stderr


def test_check_strict_turns_conflicts_into_errors(tmp_path):
    (tmp_path / "c.llmcl").write_text(
        "contract C {\n  ensure len(output) <= 10\n  ensure len(output) >= 50\n}\n"
    )

    assert run("check", str(tmp_path / "c.llmcl")).returncode == 0
    done = run("check", "--strict", str(tmp_path / "c.llmcl"))
    assert done.returncode == 1
    assert "conflicting clauses (bounds)" in done.stderr


def test_check_imports_modules_that_register_named_contracts(tmp_path):
    (tmp_path / "c.llmcl").write_text('contract C {\n  ensure use "lazy_example"\n}\n')

    assert run("check", str(tmp_path / "c.llmcl")).returncode == 1
    done = run("check", "--import", "tests.sdk.llmcl.registering_module", str(tmp_path / "c.llmcl"))
    assert (done.returncode, done.stderr) == (0, "")


def test_compile_prints_the_spec(tmp_path):
    (tmp_path / "c.llmcl").write_text(GOOD)

    done = run("compile", str(tmp_path / "c.llmcl"))

    assert done.returncode == 0
    spec = json.loads(done.stdout)
    assert spec["spec_version"] == "1"
    assert spec["contracts"][0]["clauses"][0]["text"] == "ensure len(output) <= 10"


def test_compile_fails_with_errors_on_stderr(tmp_path):
    (tmp_path / "c.llmcl").write_text(BAD)

    done = run("compile", str(tmp_path / "c.llmcl"))

    assert (done.returncode, done.stdout) == (1, "")
    assert ":2:3: error:" in done.stderr


def test_fmt_prints_check_and_writes(tmp_path):
    path = tmp_path / "c.llmcl"
    path.write_text("contract C{\n ensure  len(output)<=10 # short\n}")

    printed = run("fmt", str(path))
    assert (printed.returncode, printed.stdout) == (
        0,
        "contract C {\n  ensure len(output) <= 10  # short\n}\n",
    )
    assert run("fmt", "--check", str(path)).returncode == 1
    assert run("fmt", "--write", str(path)).returncode == 0
    assert path.read_text() == printed.stdout
    assert run("fmt", "--check", str(path)).returncode == 0


def test_fmt_refuses_broken_source(tmp_path):
    (tmp_path / "c.llmcl").write_text(BAD)

    done = run("fmt", str(tmp_path / "c.llmcl"))

    assert done.returncode == 1 and ":2:3: error:" in done.stderr


def test_demo_runs_the_sdk_demo():
    done = run("demo")
    direct = subprocess.run(
        [sys.executable, "-m", "llm_contracts.demo"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    def headings(out: str) -> list[str]:
        # Latencies in the health report differ from run to run; the story does not.
        return [line for line in out.splitlines() if line.startswith("== ")]

    assert done.returncode == direct.returncode == 0, done.stderr
    assert len(headings(done.stdout)) == 5
    assert headings(done.stdout) == headings(direct.stdout)


def test_a_usage_error_exits_2():
    assert run("frobnicate").returncode == 2
