"""Measure what contracts cost: latency percentiles, memory per call, and what to do about it.

:class:`ContractProfiler` runs each contract the way the client does (through the
enforcement engine, errors contained) on given inputs, and measures:

- latency per call (p50, p95, p99; the first call, and the p50 of each text's first
  judgement: contracts that cache by text answer the later runs from their cache);
- memory per call with ``tracemalloc`` (the peak a call allocates, and what it keeps),
  in a separate pass so tracing does not slow the timed one;
- how time grows with the text (each input's text four times over);
- for a streaming check, the cost of each chunk of a streamed answer.

Each recommendation quotes the measurement it rests on. ``watch(client)`` profiles real
calls instead: per-contract time and the overhead ratio, validation time over model time.

Example::

    profiler = ContractProfiler(runs=20)
    profile = profiler.profile_contract(JSONFormatContract(schema), ['{"id": 1}', "not json"])
    profile.p95_ms, profile.alloc_kb_per_call, [r.message for r in profile.recommendations]
"""

from __future__ import annotations

import math
import threading
import time
import tracemalloc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._exceptions import ContractConfigError
from ..contracts._base import Category, Contract, ValidationResult
from ..contracts._types import LLMResponse
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._engine import ContractEngine
from ._cases import Case, as_cases

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport

__all__ = [
    "CallProfile",
    "ContractProfile",
    "ContractProfiler",
    "ProfileReport",
    "Recommendation",
    "percentile",
]

# A first call this many times slower than the rest (and at least _SETUP_MS slower) sets up.
_SETUP_FACTOR = 10.0
_SETUP_MS = 5.0
# Four times the text costing more than this many times the time is faster growth than linear.
_GROWTH = 4
_SUPERLINEAR = 8.0
_GROWTH_MIN_MS = 1.0
# A streamed answer's last chunks costing this many times its first ones rescan the text.
_STREAM_CHUNK = 16
_STREAM_RESCAN = 4.0
_STREAM_MIN_CHARS = 2000
_ALLOC_MIN_KB = 64.0
_ALLOC_FACTOR = 20.0


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values``, linear between ranks; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Something worth changing about one contract, and the number that shows it."""

    contract: str
    kind: str  # slow, setup, superlinear, stream_rescan, allocations, errors
    message: str
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "kind": self.kind,
            "message": self.message,
            "value": round(self.value, 4),
        }


@dataclass(slots=True)
class ContractProfile:
    """What one contract cost on the profiled inputs (times in milliseconds)."""

    contract: str
    check: str
    category: str
    calls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    first_call_ms: float
    violations: int
    errors: int
    cold_p50_ms: float = 0.0
    alloc_kb_per_call: float | None = None
    kept_kb_per_call: float | None = None
    largest_input_chars: int = 0
    growth: dict[str, float] | None = None
    stream: dict[str, float] | None = None
    skipped_inputs: int = 0
    recommendations: list[Recommendation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "contract": self.contract,
            "check": self.check,
            "category": self.category,
            "calls": self.calls,
            "p50_ms": r(self.p50_ms),
            "p95_ms": r(self.p95_ms),
            "p99_ms": r(self.p99_ms),
            "mean_ms": r(self.mean_ms),
            "max_ms": r(self.max_ms),
            "first_call_ms": r(self.first_call_ms),
            "cold_p50_ms": r(self.cold_p50_ms),
            "violations": self.violations,
            "errors": self.errors,
            "alloc_kb_per_call": r(self.alloc_kb_per_call),
            "kept_kb_per_call": r(self.kept_kb_per_call),
            "largest_input_chars": self.largest_input_chars,
            "growth": {k: round(v, 4) for k, v in self.growth.items()} if self.growth else None,
            "stream": {k: round(v, 4) for k, v in self.stream.items()} if self.stream else None,
            "skipped_inputs": self.skipped_inputs,
            "recommendations": [x.to_dict() for x in self.recommendations],
        }


@dataclass(slots=True)
class ProfileReport:
    """The profiles of a set of contracts, and what all of them cost together per input."""

    profiles: list[ContractProfile]
    inputs: int
    runs: int
    total_p50_ms: float
    total_p95_ms: float
    name: str | None = None

    @property
    def recommendations(self) -> list[Recommendation]:
        return [r for p in self.profiles for r in p.recommendations]

    def __getitem__(self, contract: str) -> ContractProfile:
        for p in self.profiles:
            if p.contract == contract:
                return p
        raise KeyError(contract)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "inputs": self.inputs,
            "runs": self.runs,
            "total_p50_ms": round(self.total_p50_ms, 4),
            "total_p95_ms": round(self.total_p95_ms, 4),
            "profiles": [p.to_dict() for p in self.profiles],
            "recommendations": [r.to_dict() for r in self.recommendations],
        }

    def table(self) -> str:
        """Return the profiles as a text table, recommendations below it."""
        head = (
            "contract",
            "check",
            "calls",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "new text p50",
            "first ms",
            "alloc KB",
            "fails",
        )
        rows = [
            (
                p.contract,
                p.check,
                str(p.calls),
                f"{p.p50_ms:.3f}",
                f"{p.p95_ms:.3f}",
                f"{p.p99_ms:.3f}",
                f"{p.cold_p50_ms:.3f}",
                f"{p.first_call_ms:.3f}",
                "-" if p.alloc_kb_per_call is None else f"{p.alloc_kb_per_call:.1f}",
                str(p.violations + p.errors),
            )
            for p in self.profiles
        ]
        rows.append(
            (
                f"all {len(self.profiles)}",
                "per input",
                str(self.inputs * self.runs),
                f"{self.total_p50_ms:.3f}",
                f"{self.total_p95_ms:.3f}",
                "",
                "",
                "",
                "",
                "",
            )
        )
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

        def line(row: Sequence[str]) -> str:
            return "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )

        out = [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
        recs = self.recommendations
        out.append("")
        out.append("recommendations:" if recs else "recommendations: none")
        out += [f"- {r.contract}: {r.message}" for r in recs]
        return "\n".join(out)


@dataclass(slots=True)
class CallProfile:
    """Per-contract time over the real calls a watched client made, and the overhead ratio."""

    calls: int
    validation_p50_ms: float
    validation_p95_ms: float
    model_p50_ms: float
    model_p95_ms: float
    overhead_ratio: float | None
    contracts: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "validation_p50_ms": round(self.validation_p50_ms, 4),
            "validation_p95_ms": round(self.validation_p95_ms, 4),
            "model_p50_ms": round(self.model_p50_ms, 4),
            "model_p95_ms": round(self.model_p95_ms, 4),
            "overhead_ratio": None if self.overhead_ratio is None else round(self.overhead_ratio, 6),
            "contracts": self.contracts,
        }


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _kb(n: float) -> float:
    return n / 1024.0


class ContractProfiler:
    """Profile contracts on inputs, or the contracts of a client on its real calls.

    Parameters:
        runs: how many times each input is judged in the timed pass (>= 1).
        memory: measure allocations with tracemalloc (a separate, untimed pass).
        budget_ms: a p95 above this is reported as slow (None: no budget).
        chunk_chars: the chunk size of the simulated stream for streaming checks.
    """

    def __init__(
        self,
        *,
        runs: int = 10,
        memory: bool = True,
        budget_ms: float | None = 1.0,
        chunk_chars: int = _STREAM_CHUNK,
    ) -> None:
        if not isinstance(runs, int) or runs < 1:
            raise ContractConfigError(f"runs must be a whole number >= 1; got {runs!r}")
        if chunk_chars < 1:
            raise ContractConfigError(f"chunk_chars must be >= 1; got {chunk_chars!r}")
        self.runs = runs
        self.memory = memory
        self.budget_ms = budget_ms
        self.chunk_chars = chunk_chars
        self._reports: list[ContractReport] = []
        self._lock = threading.Lock()

    # -- contracts on inputs ---------------------------------------------------------------

    def _engine(self) -> ContractEngine:
        # A breaker that never opens: a contract that keeps raising is still timed, and counted.
        return ContractEngine(breaker=CircuitBreaker(failure_threshold=2**31), conflicts="ignore")

    def profile_contract(self, contract: Contract, inputs: Iterable[Any]) -> ContractProfile:
        """Return the profile of ``contract`` judging every input ``runs`` times."""
        if not isinstance(contract, Contract):
            raise ContractConfigError(f"expected a Contract; got {type(contract).__name__}")
        cases = as_cases(inputs, contract.category)
        return self._profile(contract, cases, self._engine())[0]

    def profile_contracts(
        self, contracts: Iterable[Contract], inputs: Iterable[Any], *, name: str | None = None
    ) -> ProfileReport:
        """Return the profiles of ``contracts`` (a list or an LLMCL ``ContractSet``) on the same inputs."""
        members = list(contracts)
        if not members:
            raise ContractConfigError("no contracts to profile")
        for c in members:
            if not isinstance(c, Contract):
                raise ContractConfigError(f"expected a Contract; got {type(c).__name__}")
        values = list(inputs) if not isinstance(inputs, (str, dict)) else [inputs]
        engine = self._engine()
        profiles = []
        per_input: list[list[float]] = []
        for contract in members:
            cases = as_cases(values, contract.category)
            profile, times = self._profile(contract, cases, engine)
            profiles.append(profile)
            if times:
                per_input.append(times)
        totals = [sum(column) for column in zip(*per_input, strict=False)] if per_input else []
        return ProfileReport(
            profiles,
            len(values),
            self.runs,
            percentile(totals, 50),
            percentile(totals, 95),
            name=name or getattr(contracts, "name", None),
        )

    def profile_source(
        self,
        source: str,
        inputs: Iterable[Any],
        *,
        contract: str | None = None,
        path: str | None = None,
        registry: Any = None,
    ) -> ProfileReport:
        """Compile LLMCL ``source``, load one contract (the last by default) and profile its clauses."""
        from ..llmcl import load_source

        contract_set = load_source(source, path=path, contract=contract, registry=registry)
        return self.profile_contracts(contract_set, inputs, name=contract_set.name)

    def _profile(
        self, contract: Contract, cases: list[Case], engine: ContractEngine
    ) -> tuple[ContractProfile, list[float]]:
        usable = [c for c in cases if c.value_for(contract) is not None]
        skipped = len(cases) - len(usable)
        side = "input" if contract.category is Category.INPUT else "output"
        if not usable:
            profile = ContractProfile(
                contract.name,
                type(contract).__name__,
                side,
                0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0,
                0,
                skipped_inputs=skipped,
            )
            return profile, []
        results: list[ValidationResult] = []
        times: list[float] = []
        per_input = [0.0] * len(cases)
        index = [i for i, c in enumerate(cases) if c.value_for(contract) is not None]
        for _ in range(self.runs):
            for i, case in zip(index, usable, strict=True):
                result = self._run(engine, contract, case)
                results.append(result)
                times.append(_ms(result.latency_s))
                per_input[i] += _ms(result.latency_s) / self.runs
        errors = sum(1 for r in results if r.error)
        violations = sum(1 for r in results if not r.is_valid and not r.error)
        # The first pass sees every text for the first time, as real traffic does: contracts
        # that cache by text (personal data, injection, a judge) answer later passes from it.
        cold = times[: len(usable)]
        profile = ContractProfile(
            contract.name,
            type(contract).__name__,
            side,
            len(times),
            percentile(times, 50),
            percentile(times, 95),
            percentile(times, 99),
            sum(times) / len(times),
            max(times),
            times[0],
            violations,
            errors,
            cold_p50_ms=percentile(cold, 50),
            largest_input_chars=max(c.size for c in usable),
            skipped_inputs=skipped,
        )
        if self.memory:
            profile.alloc_kb_per_call, profile.kept_kb_per_call = self._memory(engine, contract, usable)
        profile.growth = self._growth(engine, contract, usable)
        if contract.supports_streaming and contract.category is not Category.INPUT:
            profile.stream = self._stream(engine, contract, usable)
        profile.recommendations = self._recommend(contract, profile, results)
        return profile, per_input

    @staticmethod
    def _run(engine: ContractEngine, contract: Contract, case: Case) -> ValidationResult:
        value = case.value_for(contract)
        return engine.run_one(contract, value, case.context())

    def _memory(self, engine: ContractEngine, contract: Contract, cases: list[Case]) -> tuple[float, float]:
        started_here = not tracemalloc.is_tracing()
        if started_here:
            tracemalloc.start()
        peaks: list[int] = []
        try:
            before_all = tracemalloc.get_traced_memory()[0]
            for case in cases:
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                self._run(engine, contract, case)
                peaks.append(tracemalloc.get_traced_memory()[1] - before)
            kept = tracemalloc.get_traced_memory()[0] - before_all
        finally:
            if started_here:
                tracemalloc.stop()
        return _kb(sum(peaks) / len(peaks)), _kb(max(kept, 0) / len(cases))

    def _growth(
        self, engine: ContractEngine, contract: Contract, cases: list[Case]
    ) -> dict[str, float] | None:
        """Time the largest input against that input's text four times over."""
        case = max(cases, key=lambda c: c.size)
        if case.size == 0:
            return None
        bigger = self._scaled(case, _GROWTH)
        base = min(_ms(self._run(engine, contract, case).latency_s) for _ in range(3))
        grown = min(_ms(self._run(engine, contract, bigger).latency_s) for _ in range(3))
        return {"chars": float(case.size), "ms": base, "scaled_chars": float(bigger.size), "scaled_ms": grown}

    @staticmethod
    def _scaled(case: Case, factor: int) -> Case:
        from ..contracts._types import LLMRequest, Message

        sep = "\n"
        response = LLMResponse(text=sep.join([case.response.text] * factor)) if case.response else None
        request = None
        if case.request is not None:
            messages = [
                Message(m.role, sep.join([m.content] * factor), m.name) for m in case.request.messages
            ]
            request = LLMRequest(model=case.request.model, messages=messages)
        return Case(request=request, response=response, metadata=dict(case.metadata))

    def _stream(
        self, engine: ContractEngine, contract: Contract, cases: list[Case]
    ) -> dict[str, float] | None:
        """Feed the longest answer in chunks, as the client does, and time each chunk's check."""
        case = max(cases, key=lambda c: c.size)
        if case.response is None or not case.response.text:
            return None
        text = case.response.text
        context = case.context()
        chunk_times: list[float] = []
        checked = 0
        for end in range(self.chunk_chars, len(text) + self.chunk_chars, self.chunk_chars):
            best = math.inf
            for _ in range(3):  # the fastest of three: a busy machine only ever adds time
                context.metadata["stream_checked"] = checked
                started = time.perf_counter()
                engine.run_partial([contract], text[:end], context)
                best = min(best, time.perf_counter() - started)
            chunk_times.append(_ms(best))
            checked = min(end, len(text))
        # One scan of the whole answer by the same streaming check, from a fresh context.
        full = min(_ms(engine.run_partial([contract], text, case.context())[0].latency_s) for _ in range(3))
        tenth = max(len(chunk_times) // 10, 1)
        return {
            "chars": float(len(text)),
            "chunks": float(len(chunk_times)),
            "total_ms": sum(chunk_times),
            "first_chunks_ms": sum(chunk_times[:tenth]) / tenth,
            "last_chunks_ms": sum(chunk_times[-tenth:]) / tenth,
            "full_scan_ms": full,
            "chunk_chars": float(self.chunk_chars),
        }

    def _recommend(
        self, contract: Contract, p: ContractProfile, results: list[ValidationResult]
    ) -> list[Recommendation]:
        out: list[Recommendation] = []

        def add(kind: str, value: float, message: str) -> None:
            out.append(Recommendation(contract.name, kind, message, value))

        if p.errors:
            first = next(r for r in results if r.error)
            then = "lets the call through" if contract.fail_open else "fails the call"
            add(
                "errors",
                float(p.errors),
                f"raised on {p.errors} of {p.calls} calls ({first.message}); "
                f"the client contains the error, counts it and {then}",
            )
        if self.budget_ms is not None and p.p95_ms > self.budget_ms:
            add(
                "slow",
                p.p95_ms,
                f"p95 {p.p95_ms:.2f} ms per call, over the {self.budget_ms:g} ms budget "
                f"(inputs up to {p.largest_input_chars} characters)",
            )
        # A contract that raised paid for the error's first log on its first call: that is
        # not set-up work, and the error is what to fix.
        if not p.errors and p.first_call_ms > max(p.p50_ms * _SETUP_FACTOR, p.p50_ms + _SETUP_MS):
            add(
                "setup",
                p.first_call_ms,
                f"the first call took {p.first_call_ms:.1f} ms, later ones "
                f"{p.p50_ms:.2f} ms (p50): it sets something up once; build it and run it once at "
                "start-up so no user's request pays for it",
            )
        g = p.growth
        if g and g["scaled_ms"] >= _GROWTH_MIN_MS and g["ms"] > 0 and g["scaled_ms"] / g["ms"] > _SUPERLINEAR:
            factor = g["scaled_ms"] / g["ms"]
            cause = "; its pattern backtracks" if type(contract).__name__ == "RegexContract" else ""
            add(
                "superlinear",
                factor,
                f"time grows faster than the text{cause}: {g['ms']:.2f} ms on "
                f"{g['chars']:.0f} characters, {g['scaled_ms']:.2f} ms on {g['scaled_chars']:.0f} "
                f"({factor:.0f}x the time for {_GROWTH}x the text)",
            )
        s = p.stream
        if (
            s
            and s["chars"] >= _STREAM_MIN_CHARS
            and s["first_chunks_ms"] > 0
            and s["last_chunks_ms"] / s["first_chunks_ms"] > _STREAM_RESCAN
            and s["total_ms"] > _GROWTH_MIN_MS
        ):
            ratio = s["total_ms"] / s["full_scan_ms"] if s["full_scan_ms"] > 0 else float("inf")
            add(
                "stream_rescan",
                s["total_ms"],
                f"its streaming check rescans the text streamed so far on every chunk: streaming the "
                f"longest answer ({s['chars']:.0f} characters in {s['chunks']:.0f} chunks of "
                f"{s['chunk_chars']:.0f}) cost {s['total_ms']:.1f} ms, {ratio:.0f}x one scan of the whole "
                f"answer; its last chunks took {s['last_chunks_ms']:.3f} ms each, its first "
                f"{s['first_chunks_ms']:.3f} ms. Check only the new text "
                '(context.metadata["stream_checked"] says how far the last check read)',
            )
        alloc = p.alloc_kb_per_call
        if (
            alloc is not None
            and alloc >= _ALLOC_MIN_KB
            and alloc > _ALLOC_FACTOR * max(_kb(p.largest_input_chars), 1.0)
        ):
            add(
                "allocations",
                alloc,
                f"allocates {alloc:.0f} KB per call for inputs up to "
                f"{p.largest_input_chars} characters: look for work it could do once in __init__ "
                "(a compiled schema or pattern, a loaded model)",
            )
        return out

    # -- a client's real calls ---------------------------------------------------------------

    def watch(self, client: Any) -> Any:
        """Record every contracted call ``client`` makes from now on; return the client."""
        client.add_report_listener(self._record)
        return client

    def _record(self, report: ContractReport) -> None:
        with self._lock:
            self._reports.append(report)

    def calls(self) -> CallProfile:
        """Return per-contract time and the overhead ratio over the calls watched so far."""
        with self._lock:
            reports = list(self._reports)
        per: dict[str, list[float]] = {}
        for report in reports:
            verdicts = [
                *report.input_results,
                *report.stream_results,
                *(r for a in report.attempts for r in a.results),
            ]
            for r in verdicts:
                per.setdefault(r.contract_name, []).append(_ms(r.latency_s))
        validation = [_ms(r.validation_latency_s) for r in reports]
        model = [_ms(r.llm_latency_s) for r in reports]
        contracts = {
            name: {
                "runs": float(len(t)),
                "p50_ms": round(percentile(t, 50), 4),
                "p95_ms": round(percentile(t, 95), 4),
                "total_ms": round(sum(t), 4),
            }
            for name, t in sorted(per.items())
        }
        ratio = sum(validation) / sum(model) if sum(model) > 0 else None
        return CallProfile(
            len(reports),
            percentile(validation, 50),
            percentile(validation, 95),
            percentile(model, 50),
            percentile(model, 95),
            ratio,
            contracts,
        )
