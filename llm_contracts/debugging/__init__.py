"""Debugger traces of validated calls and the breakpoints that keep them."""

from ._trace import Breakpoint, Trace, TraceStep, first_match, redact_excerpt, scrub

__all__ = ["Breakpoint", "Trace", "TraceStep", "first_match", "redact_excerpt", "scrub"]
