"""Exceptions raised by llm-contracts.

Only decisions of our own raise our own exceptions; errors from the provider SDK
(``openai.APIError`` and its subclasses) always pass through unchanged::

    LLMContractsError
     ├── ContractConfigError        a contract or client was configured wrongly
     └── ContractViolationError     a strict contract rejected a request or a response
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .contracts._base import ValidationResult
    from .enforcement._report import ContractReport

__all__ = ["ContractConfigError", "ContractViolationError", "LLMContractsError"]


class LLMContractsError(Exception):
    """Base class of every exception llm-contracts raises itself."""


class ContractConfigError(LLMContractsError, ValueError):
    """Raise when a contract or a client is configured with a value it cannot use."""


class ContractViolationError(LLMContractsError):
    """Raise when a contract under strict enforcement rejects a request or a response.

    ``results`` holds the failing verdicts, ``report`` the whole report of the call
    (every attempt, its verdicts and the usage summed over attempts), ``stage`` is
    ``"input"``, ``"output"`` or ``"stream"``.
    """

    def __init__(
        self,
        message: str,
        *,
        results: Sequence[ValidationResult] = (),
        stage: str = "output",
        report: ContractReport | None = None,
        response: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.results = list(results)
        self.stage = stage
        self.report = report
        # The last answer the model gave, if any: callers may want to log it.
        self.response = response

    @property
    def violations(self) -> list[ValidationResult]:
        """Return the failing results."""
        return [r for r in self.results if not r.is_valid]
