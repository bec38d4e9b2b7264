"""Debugger traces of validated calls, the breakpoints that keep them, the local debugger and the profiler."""

from ._cases import Case, load_cases
from ._debugger import BreakpointHit, ContractDebugger, DebugReport, LocalBreakpoint
from ._profiler import CallProfile, ContractProfile, ContractProfiler, ProfileReport, Recommendation
from ._trace import Breakpoint, Trace, TraceStep, first_match, redact_excerpt, scrub

__all__ = [
    "Breakpoint",
    "BreakpointHit",
    "CallProfile",
    "Case",
    "ContractDebugger",
    "ContractProfile",
    "ContractProfiler",
    "DebugReport",
    "LocalBreakpoint",
    "ProfileReport",
    "Recommendation",
    "Trace",
    "TraceStep",
    "first_match",
    "load_cases",
    "redact_excerpt",
    "scrub",
]
