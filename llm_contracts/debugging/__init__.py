"""Debugger traces of validated calls, the breakpoints that keep them, the local debugger and the profiler."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._cases import (
        Case,
        load_cases,
    )
    from ._debugger import (
        BreakpointHit,
        ContractDebugger,
        DebugReport,
        LocalBreakpoint,
    )
    from ._profiler import (
        CallProfile,
        ContractProfile,
        ContractProfiler,
        ProfileReport,
        Recommendation,
    )
    from ._trace import (
        Breakpoint,
        Trace,
        TraceStep,
        first_match,
        redact_excerpt,
        scrub,
    )

_LAZY = {
    "Case": "._cases",
    "load_cases": "._cases",
    "BreakpointHit": "._debugger",
    "ContractDebugger": "._debugger",
    "DebugReport": "._debugger",
    "LocalBreakpoint": "._debugger",
    "CallProfile": "._profiler",
    "ContractProfile": "._profiler",
    "ContractProfiler": "._profiler",
    "ProfileReport": "._profiler",
    "Recommendation": "._profiler",
    "Breakpoint": "._trace",
    "Trace": "._trace",
    "TraceStep": "._trace",
    "first_match": "._trace",
    "redact_excerpt": "._trace",
    "scrub": "._trace",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

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
