"""Exceptions raised by llm-contracts.

Only decisions of our own raise our own exceptions; errors from the provider SDK
(``openai.APIError`` and its subclasses) always pass through unchanged::

    LLMContractsError
     ├── ContractConfigError        a contract or client was configured wrongly
     └── ContractViolationError     a strict contract rejected a request or a response
          └── ResponseFormatViolationError   the answer never fit ``response_format``
                                             (also pydantic's ``ValidationError``)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import ValidationError

if TYPE_CHECKING:
    from .contracts._base import ValidationResult
    from .enforcement._report import ContractReport

__all__ = [
    "ContractConfigError",
    "ContractViolationError",
    "LLMContractsError",
    "ResponseFormatViolationError",
]


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


class ResponseFormatViolationError(ContractViolationError, ValidationError):
    """Raise when an answer to a ``parse`` helper never fit its ``response_format``.

    openai's ``chat.completions.parse`` / ``responses.parse`` (and anthropic's
    ``messages.parse``) raise pydantic's ``ValidationError`` for such an answer; this error
    is that too, with the same ``errors()``, so code written for the vendor's client
    (``except ValidationError``) works on the drop-in, and code written for contracts
    (``except ContractViolationError``) gets the report. ``str()`` is the violation's message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Built by from_exception_data (pydantic's constructor), then filled by violation().
        pass

    def __str__(self) -> str:
        return self.message

    @classmethod
    def violation(cls, exc: ContractViolationError, error: ValidationError) -> ResponseFormatViolationError:
        """Return ``exc`` as this error, carrying ``error``'s title and details."""
        details = [
            {k: v for k, v in d.items() if k in ("type", "loc", "input", "ctx")}
            for d in error.errors(include_url=False)
        ]
        made = cls.from_exception_data(error.title, details)  # type: ignore[arg-type]
        made.message = exc.message
        made.results = exc.results
        made.stage = exc.stage
        made.report = exc.report
        made.response = exc.response
        return made
