"""The pytest plugin of llm-contracts, registered through the ``pytest11`` entry point.

It only acts on tests that ask for it: by a fixture (``llm_fake``, ``llm_client``,
``llm_async_client``, ``llm_cassette``, ``contract_case``, ``adversarial_inputs``) or a
marker (``llm_cassette``, ``llm_repeat``, ``contract_cases``, ``llm_client``). Other tests
run as if it were not installed. Loading it imports the ``llm_contracts`` package (and
openai with it); the test tools themselves load when a test uses them.

- ``--llm-record=none|once|new|all``: how ``llm_cassette`` tests record (default ``once``,
  and ``none`` when the ``CI`` environment variable is set).
- ini ``llm_cassette_format`` (``json`` or ``yaml``) and ``llm_cassette_filter_headers``
  (header names kept out of cassettes, besides the credentials always left out).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__: list[str] = []

_CASSETTE = pytest.StashKey[Any]()
_STATE = pytest.StashKey["_State"]()
_RECORD_MODES = ("none", "once", "new", "all")


class _State:
    def __init__(self) -> None:
        self.tests: list[Any] = []  # PassRate of each llm_repeat test
        self.contracts: Any = None  # VerdictTally over every llm_repeat test


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-contracts")
    group.addoption(
        "--llm-record",
        dest="llm_record",
        choices=_RECORD_MODES,
        default=None,
        help="record mode of llm_cassette tests: none (replay only), once (record a "
        "missing cassette), new (record requests not in the cassette), all (record "
        "everything anew). Default: once; none when the CI environment variable is set.",
    )
    parser.addini("llm_cassette_format", "file format of new cassettes: json or yaml", default="json")
    parser.addini(
        "llm_cassette_filter_headers",
        "header names left out of cassettes (credentials always are)",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "llm_cassette(path=None): record and replay the HTTP traffic of model SDKs in this test "
        "(cassettes/<module>/<test>.json beside the test file by default)",
        "llm_repeat(runs, pass_rate=0.9, confidence=0.95): run the test `runs` times and pass when at "
        "least `pass_rate` of the runs pass",
        "contract_cases(path): parametrise the `contract_case` argument with the cases of a YAML or "
        "JSON file",
        "llm_client(**kwargs): keyword arguments of the ContractOpenAI built by the llm_client fixtures "
        "(contracts= also takes a ContractSet, LLMCL source or a pathlib.Path to an LLMCL file)",
    ):
        config.addinivalue_line("markers", line)
    config.stash[_STATE] = _State()


# -- contract cases ---------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("contract_cases")
    if marker is None:
        return
    if "contract_case" not in metafunc.fixturenames:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.contract_cases needs the "
            "test to take a `contract_case` argument"
        )
    if len(marker.args) != 1:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.contract_cases takes one path")
    from .._exceptions import ContractConfigError
    from ._framework import load_cases

    path = Path(marker.args[0])
    if not path.is_absolute():
        path = metafunc.definition.path.parent / path
    try:
        cases = load_cases(path)
    except ContractConfigError as exc:
        pytest.fail(str(exc), pytrace=False)
    metafunc.parametrize("contract_case", cases, ids=[case.name for case in cases])


@pytest.fixture
def contract_case() -> Any:
    """One case of a cases file; given by ``@pytest.mark.contract_cases(path)``."""
    raise pytest.UsageError("the contract_case argument comes from @pytest.mark.contract_cases('cases.yaml')")


@pytest.fixture
def adversarial_inputs() -> Any:
    """Return an ``AdversarialInputs`` generator (seed 0) of injection and personal-data cases."""
    from ._adversarial import AdversarialInputs

    return AdversarialInputs(seed=0)


# -- the fake model and contracted clients -----------------------------------------------------


@pytest.fixture
def llm_fake() -> Any:
    """Return a scripted fake model (``FakeLLM``) answering "OK" unless a test queues replies."""
    from ._fake import FakeLLM

    return FakeLLM(default="OK")


def _client_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("llm_client")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    if marker and marker.args:
        raise pytest.UsageError("@pytest.mark.llm_client takes keyword arguments only")
    target = kwargs.pop("contracts", None)
    if target is not None:
        from ..llmcl import ContractSet, load_file, load_source

        if isinstance(target, Path):
            target = load_file(target)
        elif isinstance(target, str):
            target = load_source(target)
        if isinstance(target, ContractSet):
            kwargs = {**target.client_kwargs(), **kwargs}
        else:
            kwargs["contracts"] = target
    kwargs.setdefault("api_key", "test-key")
    kwargs.setdefault("max_retries", 0)
    return kwargs


@pytest.fixture
def llm_client(request: pytest.FixtureRequest, llm_fake: Any) -> Iterator[Any]:
    """Return a ``ContractOpenAI`` answered by ``llm_fake`` (configured by ``@pytest.mark.llm_client``)."""
    from ..providers import ContractOpenAI

    client = ContractOpenAI(http_client=llm_fake.http_client(), **_client_kwargs(request))
    yield client
    client.close()


@pytest.fixture
def llm_async_client(request: pytest.FixtureRequest, llm_fake: Any) -> Any:
    """Return an ``AsyncContractOpenAI`` answered by ``llm_fake``, like ``llm_client``.

    A plain fixture, so it serves whichever async test runner the project uses.
    """
    from ..providers import AsyncContractOpenAI

    return AsyncContractOpenAI(http_client=llm_fake.async_http_client(), **_client_kwargs(request))


# -- record and replay ------------------------------------------------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _record_mode(config: pytest.Config) -> tuple[str, str]:
    chosen = config.getoption("llm_record")
    if chosen:
        return chosen, f"--llm-record={chosen}"
    if _in_ci():
        return "none", "replay only because the CI environment variable is set"
    return "once", "the cassette exists, and --llm-record=once records only a missing one"


def _cassette_path(request: pytest.FixtureRequest) -> Path:
    node = request.node
    folder: Path = node.path.parent / "cassettes" / node.path.stem
    marker = node.get_closest_marker("llm_cassette")
    named = (marker.args[0] if marker.args else marker.kwargs.get("path")) if marker else None
    if named:
        path = Path(named)
        return path if path.is_absolute() else folder / path
    fmt = str(request.config.getini("llm_cassette_format")).strip().lower()
    if fmt not in ("json", "yaml"):
        pytest.fail(f"llm_cassette_format must be json or yaml; got {fmt!r}", pytrace=False)
    return folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', node.name).strip('-')}.{fmt}"


@pytest.fixture
def llm_cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Record and replay every request sent through httpx / httpx2 network transports in this test."""
    from .._exceptions import ContractConfigError
    from ._cassette import Cassette, intercept

    mode, why = _record_mode(request.config)
    try:
        cassette = Cassette(
            _cassette_path(request),
            mode=mode,
            why=why,
            filter_headers=request.config.getini("llm_cassette_filter_headers"),
        )
    except ContractConfigError as exc:  # an unreadable cassette: say which, without a traceback
        pytest.fail(str(exc), pytrace=False)
    request.node.stash[_CASSETTE] = cassette
    try:
        with intercept(cassette):
            yield cassette
    finally:
        cassette.save()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # The marker brings the fixture in first, so fixtures that call a model are recorded too.
    if item.get_closest_marker("llm_cassette") is not None:
        names = getattr(item, "fixturenames", None)
        if isinstance(names, list) and "llm_cassette" not in names:
            names.insert(0, "llm_cassette")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    cassette = item.stash.get(_CASSETTE, None)
    if cassette is not None and report.when == "call" and cassette.misses:
        # A miss fails the test even when the code under test swallowed the error.
        text = "\n".join(cassette.misses)
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
        else:
            report.sections.append(("llm-contracts cassette", text))
    return report


# -- pass rates -------------------------------------------------------------------------------


def _repeat_args(marker: pytest.Mark) -> tuple[int, float, float]:
    def bad(problem: str) -> None:
        pytest.fail(f"@pytest.mark.llm_repeat: {problem}", pytrace=False)

    args = {**dict(zip(("runs", "pass_rate", "confidence"), marker.args, strict=False)), **marker.kwargs}
    unknown = sorted(set(args) - {"runs", "pass_rate", "confidence"})
    if unknown:
        bad(f"unknown argument {unknown[0]!r} (it takes runs, pass_rate, confidence)")
    runs, rate, confidence = args.get("runs"), args.get("pass_rate", 0.9), args.get("confidence", 0.95)
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        bad(f"runs must be an int >= 1; got {runs!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        bad(f"pass_rate must be a number from 0 to 1; got {rate!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        bad(f"confidence must be a number between 0 and 1; got {confidence!r}")
    return int(runs), float(rate), float(confidence)  # type: ignore[arg-type]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker("llm_repeat")
    if marker is None:
        return None
    from ..enforcement._pipeline import observe_reports
    from ._passrate import PassRate, VerdictTally

    runs, required, confidence = _repeat_args(marker)
    # The arguments pytest itself would pass (its own default hook reads the same list).
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    tally = VerdictTally()
    failures: list[tuple[int, BaseException]] = []
    with observe_reports(tally.add):
        for run in range(1, runs + 1):
            try:
                pyfuncitem.obj(**kwargs)
            except Exception as exc:  # a failed run; skip/xfail/exit are BaseExceptions and pass
                failures.append((run, exc))
    state = pyfuncitem.config.stash[_STATE]
    outcome = PassRate(pyfuncitem.nodeid, runs - len(failures), runs, required, confidence)
    state.tests.append(outcome)
    if state.contracts is None:
        state.contracts = VerdictTally()
    state.contracts.merge(tally)
    if not outcome.ok:
        lines = [outcome.describe(), f"failed runs: {', '.join(str(run) for run, _ in failures)}"]
        for run, error in failures[:3]:
            first = str(error).strip().splitlines()
            lines.append(f"run {run}: {type(error).__name__}: {first[0] if first else ''}")
        pytest.fail("\n".join(lines), pytrace=False)
    return True


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.tests:
        return
    from ._passrate import pass_rate_table

    terminalreporter.write_sep("=", "llm-contracts pass rates (Wilson intervals)")
    for line in pass_rate_table(state.tests, "test", "runs"):
        terminalreporter.write_line(line)
    rates = state.contracts.rates() if state.contracts is not None else []
    if rates:
        terminalreporter.write_line("")
        terminalreporter.write_line("verdicts per contract over those runs (every answer, re-asks included):")
        for line in pass_rate_table(rates, "contract", "verdicts"):
            terminalreporter.write_line(line)
