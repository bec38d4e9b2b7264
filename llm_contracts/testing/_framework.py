"""Contract tests: cases with an expected outcome, run against contracts without calling a model.

A case gives a request, an answer, or both, and says whether the contracts should let it
``pass`` or make it ``fail``. The contracts run through the same engine a client uses
(priority order, auto-fixes, contained errors), so a case judges what a client would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pydantic

from .._exceptions import ContractConfigError
from ..contracts._base import Contract, ValidationContext, ValidationResult
from ..contracts._types import LLMRequest, LLMResponse, ToolCall
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._engine import ContractEngine
from ..providers._openai_requests import CHAT

__all__ = [
    "CaseResult",
    "ContractTestCase",
    "ContractTestFramework",
    "ContractTestReport",
    "load_cases",
]

Outcome = Literal["pass", "fail"]


def _outcome(value: Any, where: str) -> Outcome:
    if value is True or value == "pass":
        return "pass"
    if value is False or value == "fail":
        return "fail"
    raise ContractConfigError(f"{where}: expected_outcome must be 'pass' or 'fail'; got {value!r}")


def _request(value: Any) -> LLMRequest:
    """Return the request a case's ``input`` describes: a prompt, messages, or a request body."""
    if isinstance(value, LLMRequest):
        return value
    if isinstance(value, str):
        body: dict[str, Any] = {"model": "test-model", "messages": [{"role": "user", "content": value}]}
    elif isinstance(value, Sequence):
        body = {"model": "test-model", "messages": list(value)}
    elif isinstance(value, Mapping):
        body = {"model": "test-model", **value}
    else:
        raise ContractConfigError(
            f"input must be a prompt, a list of messages or a request body; got {value!r}"
        )
    for m in body.get("messages") or ():
        if not isinstance(m, Mapping):
            raise ContractConfigError(f"each message must be a mapping with a role and a content; got {m!r}")
    # Cases are written in the chat completions form; its request view reads them as the
    # client would read the same body.
    return CHAT.read(body)


def _response(value: Any) -> LLMResponse:
    """Return the answer a case's ``output`` describes: a text, or a text with tool calls."""
    if isinstance(value, LLMResponse):
        return value
    if isinstance(value, str):
        return LLMResponse(text=value, model="test-model", finish_reason="stop")
    if isinstance(value, Mapping):
        calls = []
        for c in value.get("tool_calls") or ():
            args = c.get("arguments", "")
            calls.append(
                ToolCall(str(c["name"]), args if isinstance(args, str) else json.dumps(args), c.get("id"))
            )
        return LLMResponse(
            text=str(value.get("text") or ""),
            model="test-model",
            tool_calls=calls,
            finish_reason=value.get("finish_reason") or ("tool_calls" if calls else "stop"),
            refusal=value.get("refusal"),
        )
    raise ContractConfigError(f"output must be a text or a mapping with text and tool_calls; got {value!r}")


@dataclass(slots=True)
class ContractTestCase:
    """One case: what goes in (``input``), what comes out (``output``), what should happen.

    ``input_data`` is a plain string (judged as the user's prompt by input contracts and
    as the answer by output contracts), a mapping with ``input`` and/or ``output`` (only
    the stages given run), or an ``LLMRequest`` / ``LLMResponse``. ``violations`` names
    contracts that must be among the violated ones when the expected outcome is ``fail``.
    """

    __test__ = False  # not a pytest test class, whatever module imports it

    name: str
    input_data: Any
    expected_outcome: Outcome = "pass"
    description: str = ""
    violations: tuple[str, ...] = ()

    def stages(self) -> tuple[LLMRequest | None, LLMResponse | None]:
        """Return the request and the answer this case judges (None for a stage it leaves out)."""
        data = self.input_data
        if isinstance(data, LLMRequest):
            return data, None
        if isinstance(data, LLMResponse):
            return None, data
        if isinstance(data, str):
            return _request(data), _response(data)
        if isinstance(data, Mapping) and ("input" in data or "output" in data):
            unknown = set(data) - {"input", "output"}
            if unknown:
                raise ContractConfigError(
                    f"case {self.name!r}: input_data has unknown keys "
                    f"{sorted(unknown)}; use 'input' and 'output'"
                )
            request = _request(data["input"]) if "input" in data else None
            response = _response(data["output"]) if "output" in data else None
            return request, response
        raise ContractConfigError(
            f"case {self.name!r}: input_data must be a string, an LLMRequest, an "
            f"LLMResponse, or a mapping with 'input' and/or 'output'; got {data!r}"
        )

    def run(self, target: Any) -> CaseResult:
        """Judge this case with ``target`` (see :meth:`ContractTestFramework.run_tests`)."""
        return _judge(self, _engine(target))

    async def arun(self, target: Any) -> CaseResult:
        """Judge this case with ``target``, running async contracts on the event loop."""
        return await _ajudge(self, _engine(target))

    def check(self, target: Any) -> CaseResult:
        """Judge this case and raise ``AssertionError`` with the explanation when it does not hold."""
        result = self.run(target)
        if not result.passed:
            raise AssertionError(result.explanation)
        return result


@dataclass(slots=True)
class CaseResult:
    """What the contracts decided on one case, and whether that is what the case expected.

    ``outcome`` is ``pass``, ``fail`` (a contract was violated) or ``error`` (a contract
    raised instead of judging; a case with an error never passes).
    """

    case: ContractTestCase
    outcome: Literal["pass", "fail", "error"]
    results: list[ValidationResult] = field(default_factory=list)

    @property
    def violated(self) -> list[str]:
        """Return the names of the contracts that rejected the case."""
        return [r.contract_name for r in self.results if not r.is_valid and not r.error]

    @property
    def errors(self) -> list[ValidationResult]:
        return [r for r in self.results if r.error]

    @property
    def missing_violations(self) -> list[str]:
        """Return the contracts the case says must be violated and that were not."""
        return [name for name in self.case.violations if name not in self.violated]

    @property
    def passed(self) -> bool:
        """Return True when the contracts decided what the case expected."""
        return self.outcome == self.case.expected_outcome and not self.missing_violations

    @property
    def explanation(self) -> str:
        """Return why the case passed or failed, in a sentence or two."""
        case = self.case
        head = f"case {case.name!r}: expected {case.expected_outcome}, got {self.outcome}"
        if self.errors:
            return head + ": " + "; ".join(r.message for r in self.errors)
        verdicts = [
            f"{r.contract_name}: {r.message or 'violated'}"
            + (f" (fix: {r.auto_fix_suggestion})" if r.auto_fix_suggestion else "")
            for r in self.results
            if not r.is_valid
        ]
        if self.outcome == "pass":
            judged = ", ".join(r.contract_name for r in self.results) or "no contract applied to this case"
            reason = f"no contract objected ({judged})"
        else:
            reason = "; ".join(verdicts)
        if self.outcome == case.expected_outcome and self.missing_violations:
            reason += f"; expected violations of {', '.join(self.missing_violations)} too"
        return f"{head}: {reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.case.name,
            "description": self.case.description,
            "expected": self.case.expected_outcome,
            "outcome": self.outcome,
            "passed": self.passed,
            "violated": self.violated,
            "explanation": self.explanation,
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(slots=True)
class ContractTestReport:
    """The results of a run: ``all_passed``, ``failures`` with explanations, and a table."""

    __test__ = False

    results: list[CaseResult]

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def passed_count(self) -> int:
        return sum(r.passed for r in self.results)

    def __getitem__(self, name: str) -> CaseResult:
        for result in self.results:
            if result.case.name == name:
                return result
        raise KeyError(name)

    def table(self) -> str:
        """Return a plain-text table of the cases, one row each, then the failures explained."""
        rows = [("case", "expected", "got", "result", "violated")]
        rows += [
            (
                r.case.name,
                r.case.expected_outcome,
                r.outcome,
                "ok" if r.passed else "FAILED",
                ", ".join(r.violated) or "-",
            )
            for r in self.results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"{self.passed_count} of {len(self.results)} cases as expected")
        lines += [f"- {f.explanation}" for f in self.failures]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        return {
            "all_passed": self.all_passed,
            "passed": self.passed_count,
            "total": len(self.results),
            "cases": [r.to_dict() for r in self.results],
        }


class ContractTestFramework:
    """Collect cases, run them against a contract, a list of contracts, a contract set or LLMCL.

    Example::

        framework = ContractTestFramework()
        framework.add_test_case("json answer", {"output": '{"ok": true}'}, "pass")
        framework.add_test_case("prose answer", {"output": "Sure!"}, "fail", "prose is not JSON")
        report = framework.run_tests(JSONFormatContract())
        assert report.all_passed, report.table()
    """

    def __init__(self, cases: Iterable[ContractTestCase] = ()) -> None:
        self.cases: list[ContractTestCase] = []
        for case in cases:
            self.add_case(case)

    def add_test_case(
        self,
        name: str,
        input_data: Any,
        expected_outcome: Outcome | bool = "pass",
        description: str = "",
        *,
        violations: Iterable[str] = (),
    ) -> ContractTestCase:
        """Add a case; ``expected_outcome`` is ``"pass"`` or ``"fail"`` (or True / False)."""
        case = ContractTestCase(
            str(name),
            input_data,
            _outcome(expected_outcome, f"case {name!r}"),
            description,
            tuple(violations),
        )
        return self.add_case(case)

    def add_case(self, case: ContractTestCase) -> ContractTestCase:
        if any(c.name == case.name for c in self.cases):
            raise ContractConfigError(f"a case named {case.name!r} was already added")
        case.stages()  # bad input data is an error now, naming the case, not at run time
        self.cases.append(case)
        return case

    def load(self, path: str | Path) -> list[ContractTestCase]:
        """Add the cases of a YAML or JSON file (see :func:`load_cases`)."""
        cases = load_cases(path)
        for case in cases:
            self.add_case(case)
        return cases

    def run_tests(self, contract: Any) -> ContractTestReport:
        """Judge every case with ``contract``: Contract(s), a ContractSet, LLMCL source or a Path."""
        engine = _engine(contract)
        return ContractTestReport([_judge(case, engine) for case in self.cases])

    async def arun_tests(self, contract: Any) -> ContractTestReport:
        """Judge every case concurrently, each contract's ``avalidate`` awaited on this loop."""
        engine = _engine(contract)
        return ContractTestReport(list(await asyncio.gather(*(_ajudge(case, engine) for case in self.cases))))


# -- running ---------------------------------------------------------------------------------


def contracts_of(target: Any) -> list[Contract]:
    """Return the contracts ``target`` stands for: Contract(s), a ContractSet, LLMCL source or a Path."""
    if isinstance(target, Contract):
        return [target]
    if isinstance(target, Path):
        from ..llmcl import load_file

        return list(load_file(target))
    if isinstance(target, str):
        from ..llmcl import load_source

        return list(load_source(target))
    if isinstance(target, Iterable):
        contracts = list(target)
        bad = [c for c in contracts if not isinstance(c, Contract)]
        if bad:
            raise ContractConfigError(f"expected Contract objects; got {bad[0]!r}")
        return contracts
    raise ContractConfigError(
        "run_tests needs a Contract, a list of contracts, a ContractSet, LLMCL source "
        f"or a pathlib.Path to an LLMCL file; got {type(target).__name__}"
    )


def _engine(target: Any) -> ContractEngine:
    # A breaker that never opens: every case must be judged, even after contracts that raised.
    engine = ContractEngine(breaker=CircuitBreaker(failure_threshold=2**31))
    for contract in contracts_of(target):
        engine.add(contract)
    return engine


def _verdict(case: ContractTestCase, results: list[ValidationResult]) -> CaseResult:
    if any(r.error for r in results):
        return CaseResult(case, "error", results)
    return CaseResult(case, "pass" if all(r.is_valid for r in results) else "fail", results)


def _judge(case: ContractTestCase, engine: ContractEngine) -> CaseResult:
    request, response = case.stages()
    context = ValidationContext(request=request)
    results: list[ValidationResult] = []
    if request is not None:
        found, request = engine.run_input(request, context, [])
        results += found
    if response is not None:
        results += engine.run_output(response, context)
    return _verdict(case, results)


async def _ajudge(case: ContractTestCase, engine: ContractEngine) -> CaseResult:
    request, response = case.stages()
    context = ValidationContext(request=request)
    results: list[ValidationResult] = []
    if request is not None:
        found, request = await engine.arun_input(request, context, [])
        results += found
    if response is not None:
        results += await engine.arun_output(response, context)
    return _verdict(case, results)


# -- case files ------------------------------------------------------------------------------


class _CaseSpec(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    description: str = ""
    input_data: Any = None
    input: Any = None
    output: Any = None
    expected_outcome: Literal["pass", "fail"] = pydantic.Field("pass", alias="expect")
    violations: list[str] = []

    def case(self) -> ContractTestCase:
        if self.input_data is not None and (self.input is not None or self.output is not None):
            raise ValueError("give either input_data, or input and/or output")
        if self.input_data is not None:
            data = self.input_data
        elif self.input is None and self.output is None:
            raise ValueError("give input, output or input_data")
        else:
            data = {k: v for k, v in (("input", self.input), ("output", self.output)) if v is not None}
        return ContractTestCase(
            self.name, data, self.expected_outcome, self.description, tuple(self.violations)
        )


def _parse_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractConfigError(
            f"cannot read cases file {str(path)!r}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ContractConfigError(
                f"{path}: YAML cases need PyYAML "
                "(pip install 'llm-contracts[testing]'); "
                "or write them as JSON"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ContractConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def load_cases(path: str | Path) -> list[ContractTestCase]:
    """Return the cases of a YAML (``.yaml``/``.yml``) or JSON file.

    The file holds a list of cases, or a mapping whose ``cases`` key does. Each case has a
    ``name``, ``input`` and/or ``output`` (or ``input_data``), ``expect`` (or
    ``expected_outcome``: ``pass`` / ``fail``), and optionally ``description`` and
    ``violations`` (contract names that must be violated). A bad case is an error naming
    the file, the case and the field.
    """
    path = Path(path)
    data = _parse_file(path)
    if isinstance(data, Mapping) and set(data) == {"cases"}:
        data = data["cases"]
    if not isinstance(data, list):
        raise ContractConfigError(
            f"{path}: expected a list of cases (or a mapping with 'cases'); got {type(data).__name__}"
        )
    cases: list[ContractTestCase] = []
    names: set[str] = set()
    for index, item in enumerate(data, start=1):
        named = isinstance(item, Mapping) and "name" in item
        label = f"case {index}" + (f" ({item['name']!r})" if named else "")
        try:
            case = _CaseSpec.model_validate(item).case()
            case.stages()
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'case'}: {e['msg']}" for e in exc.errors()
            )
            raise ContractConfigError(f"{path}: {label}: {problems}") from None
        except (ValueError, ContractConfigError) as exc:
            raise ContractConfigError(f"{path}: {label}: {exc}") from None
        if case.name in names:
            raise ContractConfigError(f"{path}: {label}: a case of that name comes earlier in the file")
        names.add(case.name)
        cases.append(case)
    return cases
