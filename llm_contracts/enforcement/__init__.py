"""The enforcement engine, re-ask remediation, the circuit breaker and stream validation."""

from ._breaker import BreakerState, CircuitBreaker
from ._engine import ContractEngine, build_feedback
from ._report import Attempt, ContractReport, get_report
from ._streaming import StreamPolicy

__all__ = [
    "Attempt",
    "BreakerState",
    "CircuitBreaker",
    "ContractEngine",
    "ContractReport",
    "StreamPolicy",
    "build_feedback",
    "get_report",
]
