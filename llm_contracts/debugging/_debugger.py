"""The local debugger: step through a validation, stop on a contract, summarise what failed.

It works on the traces the client already records (``client.last_trace``, the steps the
control plane shows): :meth:`ContractDebugger.attach` keeps the trace of every call a
client makes, and :meth:`ContractDebugger.debug_validation` builds a trace of the same
shape for a contract judging a text you give it, without calling a model. Breakpoints
are checked against every trace kept.

Example::

    debugger = ContractDebugger()
    debugger.set_breakpoint("Reply", condition=lambda hit: hit.latency_ms > 5,
                            action=lambda hit: breakpoint())   # stop in pdb
    trace = debugger.debug_validation(load_source(source), "As an AI, I cannot help.")
    [(s.kind, s.name, s.data.get("is_valid")) for s in trace.steps]
    print(debugger.generate_debug_report())
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._exceptions import ContractConfigError
from .._ids import new_id
from ..contracts._base import Category, Contract, Enforcement, ValidationResult
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._engine import ContractEngine
from ._cases import as_case
from ._profiler import percentile
from ._trace import Trace, TraceStep, _verdict, redact_excerpt, scrub

if TYPE_CHECKING:
    from ..enforcement._report import ContractReport

__all__ = ["BreakpointHit", "ContractDebugger", "DebugReport", "LocalBreakpoint"]

log = logging.getLogger("llm_contracts")

_VERDICT_KINDS = ("input_contract", "output_contract")


@dataclass(slots=True)
class BreakpointHit:
    """A contract's verdict that met a breakpoint: the step, the whole trace, and what it said."""

    breakpoint: LocalBreakpoint
    step: TraceStep
    trace: Trace

    @property
    def contract(self) -> str:
        return self.step.name

    @property
    def is_valid(self) -> bool:
        return bool(self.step.data.get("is_valid"))

    @property
    def error(self) -> bool:
        return bool(self.step.data.get("error"))

    @property
    def message(self) -> str:
        return str(self.step.data.get("message") or "")

    @property
    def severity(self) -> str:
        return str(self.step.data.get("severity") or "")

    @property
    def details(self) -> dict[str, Any]:
        details = self.step.data.get("details")
        return details if isinstance(details, dict) else {}

    @property
    def latency_ms(self) -> float:
        return self.step.duration_ms


def _failed(hit: BreakpointHit) -> bool:
    return not hit.is_valid or hit.error


@dataclass(slots=True)
class LocalBreakpoint:
    """Stop on the verdicts of ``contract``: a contract's name, or an LLMCL contract's for all its clauses.

    ``condition(hit)`` decides (by default: the contract failed or raised); ``action(hit)``
    runs on each hit (``lambda hit: breakpoint()`` stops in the debugger).
    """

    contract: str
    condition: Callable[[BreakpointHit], bool] | None = None
    action: Callable[[BreakpointHit], Any] | None = None
    hits: int = 0

    def applies_to(self, name: str) -> bool:
        return name == self.contract or name.startswith(self.contract + ".")


@dataclass(slots=True)
class DebugReport:
    """Failures and latencies per contract over the traces a debugger kept."""

    traces: int
    outcomes: dict[str, int]
    contracts: dict[str, dict[str, Any]]
    contract: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "traces": self.traces,
            "outcomes": self.outcomes,
            "contracts": self.contracts,
        }

    def __str__(self) -> str:
        head = ("contract", "runs", "failed", "errors", "fail %", "p50 ms", "p95 ms", "max ms")
        rows = [
            (
                name,
                str(c["runs"]),
                str(c["failures"]),
                str(c["errors"]),
                f"{c['failure_rate'] * 100:.1f}",
                f"{c['p50_ms']:.3f}",
                f"{c['p95_ms']:.3f}",
                f"{c['max_ms']:.3f}",
            )
            for name, c in self.contracts.items()
        ]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = [
            f"{self.traces} traces: " + ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())),
            "  ".join(
                h.ljust(w) if i == 0 else h.rjust(w)
                for i, (h, w) in enumerate(zip(head, widths, strict=True))
            ),
        ]
        lines += [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        for name, c in self.contracts.items():
            for message, count in c["top_failures"]:
                lines.append(f"  {name}: {count}x {message}")
        return "\n".join(lines)


class ContractDebugger:
    """Keep traces (of a client's calls or of local validations), check breakpoints, summarise.

    Parameters:
        history: how many traces to keep (the oldest go first).
        action: what every breakpoint without its own action does on a hit.
    """

    def __init__(self, *, history: int = 1000, action: Callable[[BreakpointHit], Any] | None = None) -> None:
        if not isinstance(history, int) or history < 1:
            raise ContractConfigError(f"history must be a whole number >= 1; got {history!r}")
        self.action = action
        self.breakpoints: list[LocalBreakpoint] = []
        self.hits: list[BreakpointHit] = []
        self._history: deque[Trace] = deque(maxlen=history)
        self._lock = threading.Lock()

    # -- breakpoints ---------------------------------------------------------------------------

    def set_breakpoint(
        self,
        contract_name: str,
        condition: Callable[[BreakpointHit], bool] | None = None,
        *,
        action: Callable[[BreakpointHit], Any] | None = None,
    ) -> LocalBreakpoint:
        """Stop on ``contract_name``'s verdicts that meet ``condition`` (default: a failure); return it."""
        if isinstance(contract_name, Contract):
            contract_name = contract_name.name
        if not isinstance(contract_name, str) or not contract_name:
            raise ContractConfigError(f"set_breakpoint needs a contract name; got {contract_name!r}")
        if condition is not None and not callable(condition):
            raise ContractConfigError(
                f"the condition of the breakpoint on {contract_name!r} must be "
                f"callable; got {type(condition).__name__}"
            )
        if action is not None and not callable(action):
            raise ContractConfigError(
                f"the action of the breakpoint on {contract_name!r} must be callable; "
                f"got {type(action).__name__}"
            )
        bp = LocalBreakpoint(contract_name, condition, action)
        self.breakpoints.append(bp)
        return bp

    def remove_breakpoint(self, bp: LocalBreakpoint) -> None:
        self.breakpoints.remove(bp)

    def _check(self, trace: Trace) -> list[BreakpointHit]:
        found = []
        for step in trace.steps:
            if step.kind not in _VERDICT_KINDS:
                continue
            for bp in self.breakpoints:
                if not bp.applies_to(step.name):
                    continue
                hit = BreakpointHit(bp, step, trace)
                if not (bp.condition or _failed)(hit):
                    continue
                bp.hits += 1
                found.append(hit)
                action = bp.action or self.action
                if action is not None:
                    action(hit)
        return found

    # -- traces --------------------------------------------------------------------------------

    @property
    def history(self) -> list[Trace]:
        """Return the kept traces, oldest first."""
        with self._lock:
            return list(self._history)

    def clear(self) -> None:
        """Forget the kept traces and hits (breakpoints stay)."""
        with self._lock:
            self._history.clear()
            self.hits.clear()

    def record(self, trace: Trace | ContractReport) -> Trace:
        """Keep ``trace`` (or the trace of a client's report), check the breakpoints; return it."""
        if not isinstance(trace, Trace):
            trace = Trace.from_report(trace)
        with self._lock:
            self._history.append(trace)
        hits = self._check(trace)
        with self._lock:
            self.hits.extend(hits)
        return trace

    def attach(self, client: Any) -> Any:
        """Keep the trace of every contracted call ``client`` makes from now on; return the client."""
        add = getattr(client, "add_report_listener", None)
        if add is None:
            raise ContractConfigError(
                f"attach() needs a contracted client (ContractOpenAI ...); got {type(client).__name__}"
            )
        add(self.record)
        return client

    # -- local validation ----------------------------------------------------------------------

    def debug_validation(self, contract: Contract | Iterable[Contract], content: Any) -> Trace:
        """Judge ``content`` with ``contract`` step by step; keep and return the trace.

        ``contract`` is a contract, a list of them or an LLMCL ``ContractSet``; ``content``
        is the answer (a string), or a case ``{"input": ..., "output": ..., "context": {...}}``.
        Composite contracts (``a & b``, ``a | b``, ``~a``) show each part as a step of its own.
        The trace has the steps of a client's trace: request, input contracts, the answer
        (``model_call``, no model called), output contracts, outcome.
        """
        contracts = [contract] if isinstance(contract, Contract) else list(contract)
        if not contracts or not all(isinstance(c, Contract) for c in contracts):
            raise ContractConfigError(
                "debug_validation needs a contract, a list of contracts or a ContractSet"
            )
        only_input = all(c.category is Category.INPUT for c in contracts)
        case = as_case(content, where="content", text_is=Category.INPUT if only_input else Category.OUTPUT)
        engine = ContractEngine(breaker=CircuitBreaker(failure_threshold=2**31), conflicts="ignore")
        context = case.context()
        started = time.time_ns()
        clock = 0.0
        request = case.request
        steps = [
            TraceStep(
                "request",
                "local",
                0.0,
                0.0,
                {
                    "messages": [
                        {"role": m.role, "content": redact_excerpt(m.content)} for m in request.messages
                    ]
                    if request is not None
                    else None,
                    "context": scrub(case.metadata),
                },
            )
        ]
        results: list[tuple[Contract, ValidationResult]] = []

        def run(c: Contract, kind: str, value: Any, parent: str | None) -> None:
            nonlocal clock
            for part in getattr(c, "contracts", None) or ():
                if isinstance(part, Contract):
                    run(part, kind, value, c.name)
            result = engine.run_one(c, value, context)
            data = _verdict(result)
            if parent is not None:
                data["part_of"] = parent
            else:
                results.append((c, result))
            ms = result.latency_s * 1000
            steps.append(TraceStep(kind, c.name, clock, ms, data))
            clock += ms

        inputs = [c for c in contracts if c.category is Category.INPUT]
        outputs = [c for c in contracts if c.category is not Category.INPUT]
        for c in inputs:
            if request is not None:
                run(c, "input_contract", request, None)
        if outputs and case.response is not None:
            steps.append(
                TraceStep(
                    "model_call",
                    "local",
                    clock,
                    0.0,
                    {"attempt": 0, "output": redact_excerpt(case.response.text, 10_000), "local": True},
                )
            )
            for c in outputs:
                run(c, "output_contract", case.response, None)
        ran = {c.name for c, _ in results}
        skipped = [c.name for c in contracts if c.name not in ran]
        outcome = _outcome(results)
        steps.append(
            TraceStep(
                "outcome",
                outcome,
                clock,
                0.0,
                {
                    "outcome": outcome,
                    "violations": [r.contract_name for _, r in results if not r.is_valid],
                    "validation_latency_ms": round(clock, 3),
                    "not_judged": skipped,
                },
            )
        )
        trace = Trace(
            new_id(),
            None,
            datetime.fromtimestamp(started / 1e9, UTC).isoformat(),
            outcome,
            "local",
            steps,
        )
        return self.record(trace)

    # -- the summary ---------------------------------------------------------------------------

    def generate_debug_report(
        self, contract: str | Contract | Iterable[Contract] | None = None
    ) -> DebugReport:
        """Summarise failures and latencies per contract in the kept traces (``contract``'s only)."""
        names: list[str] | None = None
        label = None
        if isinstance(contract, str):
            names, label = [contract], contract
        elif isinstance(contract, Contract):
            names, label = [contract.name], contract.name
        elif contract is not None:
            set_name = getattr(contract, "name", None)
            names = [set_name] if isinstance(set_name, str) else [c.name for c in contract]
            label = ", ".join(names)
        per: dict[str, dict[str, Any]] = {}
        outcomes: Counter[str] = Counter()
        traces = self.history
        for trace in traces:
            outcomes[trace.outcome] += 1
            for step in trace.steps:
                if step.kind not in _VERDICT_KINDS or "part_of" in step.data:
                    continue
                if names is not None and not any(
                    step.name == n or step.name.startswith(n + ".") for n in names
                ):
                    continue
                entry = per.setdefault(
                    step.name,
                    {
                        "latencies": [],
                        "failures": 0,
                        "errors": 0,
                        "messages": Counter(),
                        "last_failure": None,
                    },
                )
                entry["latencies"].append(step.duration_ms)
                if step.data.get("error"):
                    entry["errors"] += 1
                if not step.data.get("is_valid"):
                    entry["failures"] += 1
                    entry["messages"][str(step.data.get("message") or "")] += 1
                    entry["last_failure"] = trace.trace_id
        contracts = {}
        for name, e in per.items():
            runs = len(e["latencies"])
            contracts[name] = {
                "runs": runs,
                "failures": e["failures"],
                "errors": e["errors"],
                "failure_rate": e["failures"] / runs if runs else 0.0,
                "p50_ms": percentile(e["latencies"], 50),
                "p95_ms": percentile(e["latencies"], 95),
                "max_ms": max(e["latencies"], default=0.0),
                "top_failures": e["messages"].most_common(3),
                "last_failure_trace": e["last_failure"],
            }
        return DebugReport(len(traces), dict(outcomes), contracts, label)


def _outcome(results: list[tuple[Contract, ValidationResult]]) -> str:
    failing = [(c, r) for c, r in results if not r.is_valid]
    if any(r.enforcement is Enforcement.STRICT for _, r in failing):
        return "violated"
    return "warned" if failing else "passed"
