"""The contract model: ``Contract``, ``ValidationResult`` and their vocabularies."""

from __future__ import annotations

import asyncio
import enum
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import field
from typing import Any, ClassVar

from .._dataclass import dataclass
from .._exceptions import ContractConfigError
from ..protocol import Category, Enforcement, Severity
from ._types import LLMRequest, LLMResponse

__all__ = [
    "AllOf",
    "AnyOf",
    "Category",
    "Contract",
    "Enforcement",
    "FunctionContract",
    "Not",
    "Severity",
    "ValidationContext",
    "ValidationResult",
    "text_of",
]


def _coerce_enum(enum_cls: type[enum.Enum], value: Any, what: str) -> Any:
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(str(value).lower())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum_cls)
        raise ContractConfigError(f"{what} must be one of {allowed}; got {value!r}") from None


@dataclass(slots=True)
class ValidationResult:
    """The verdict of one contract on one request or response.

    ``error`` is True when the contract itself failed (raised) instead of judging;
    ``fixed_value`` carries a repaired value when the contract could make one (an
    input contract's fixed request, a redacted text); it is applied only where the
    contract is configured to auto-fix, and never silently replaces model output.
    """

    is_valid: bool
    message: str = ""
    severity: Severity = Severity.ERROR
    contract_name: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    auto_fix_suggestion: str | None = None
    fixed_value: Any = None
    error: bool = False
    latency_s: float = 0.0
    enforcement: Enforcement = Enforcement.STRICT

    def __bool__(self) -> bool:
        return self.is_valid

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly view of the verdict (without ``fixed_value``)."""
        return {
            "contract": self.contract_name,
            "is_valid": self.is_valid,
            "message": self.message,
            "severity": self.severity.value,
            "details": self.details,
            "auto_fix_suggestion": self.auto_fix_suggestion,
            "error": self.error,
            "enforcement": self.enforcement.value,
            "latency_ms": round(self.latency_s * 1000, 3),
        }


@dataclass(slots=True)
class ValidationContext:
    """What a contract may know about the call besides the value it validates."""

    request: LLMRequest | None = None
    attempt: int = 0
    elapsed_s: float | None = None
    conversation: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


STREAM_OVERLAP = 256


def stream_window(text: str, context: ValidationContext | None, overlap: int = STREAM_OVERLAP) -> int:
    """Return where a streaming check may start scanning ``text``.

    Text before ``context.metadata["stream_checked"]`` passed the check on an earlier
    chunk, so only the new text plus ``overlap`` characters (for matches that straddle
    chunk borders) needs a look. The start moves back to a whitespace so a scan never
    begins in the middle of a word or a number.
    """
    checked = context.metadata.get("stream_checked", 0) if context is not None else 0
    start = checked - overlap
    if start <= 0:
        return 0
    space = text.rfind(" ", 0, start)
    return space + 1 if space > 0 else 0


def text_of(value: Any) -> str:
    """Return the text a text contract looks at: the prompt of a request, the answer of a response."""
    if isinstance(value, LLMResponse):
        return value.text
    if isinstance(value, LLMRequest):
        return value.prompt_text
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class Contract:
    """A condition a call to a model must meet.

    Subclasses implement :meth:`validate` (and :meth:`avalidate` when they do I/O).
    ``category`` decides when a contract runs: ``INPUT`` before the call, everything
    else after it. A contract that raises is contained by the engine and reported as
    an error of that contract; ``fail_open`` decides whether such an error lets the
    call through (True) or counts as a violation (False).

    Parameters:
        name: unique name of the contract (defaults to the class name).
        description: what the contract guarantees, for people.
        category, severity, priority, enforcement: see their enums; ``priority`` is an
            int, higher runs first and wins conflicts.
        auto_fix: apply the contract's ``fixed_value`` to the request (input contracts).
        fail_open: when the contract itself raises, let the call through.
    """

    default_category: ClassVar[Category] = Category.OUTPUT
    default_severity: ClassVar[Severity] = Severity.ERROR
    supports_streaming: bool = False

    def __init__(
        self,
        name: str | None = None,
        *,
        description: str = "",
        category: Category | str | None = None,
        severity: Severity | str | None = None,
        priority: int = 0,
        enforcement: Enforcement | str = Enforcement.STRICT,
        auto_fix: bool = False,
        fail_open: bool = True,
    ) -> None:
        self.name = name or type(self).__name__
        self.description = description or (inspect.getdoc(type(self)) or "").split("\n", 1)[0]
        self.category: Category = _coerce_enum(Category, category or self.default_category, "category")
        self.severity: Severity = _coerce_enum(Severity, severity or self.default_severity, "severity")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise ContractConfigError(f"priority must be an int; got {priority!r}")
        self.priority = priority
        self.enforcement: Enforcement = _coerce_enum(Enforcement, enforcement, "enforcement")
        self.auto_fix = auto_fix
        self.fail_open = fail_open

    # -- the verdict -------------------------------------------------------------

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        """Judge ``value`` (an ``LLMRequest`` before the call, an ``LLMResponse`` after)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement validate()")

    async def avalidate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        """Judge ``value`` asynchronously; the default runs :meth:`validate`."""
        return self.validate(value, context)

    def validate_partial(self, text: str, context: ValidationContext | None = None) -> ValidationResult:
        """Judge the text streamed so far; only called when ``supports_streaming`` is True."""
        return self.validate(LLMResponse(text=text), context)

    # -- helpers for subclasses ---------------------------------------------------

    def ok(self, message: str = "", **details: Any) -> ValidationResult:
        """Return a passing result of this contract."""
        return ValidationResult(True, message, self.severity, self.name, details)

    def fail(
        self,
        message: str,
        *,
        suggestion: str | None = None,
        fixed_value: Any = None,
        severity: Severity | None = None,
        **details: Any,
    ) -> ValidationResult:
        """Return a violation of this contract."""
        return ValidationResult(
            False, message, severity or self.severity, self.name, details, suggestion, fixed_value
        )

    # -- composition --------------------------------------------------------------

    def __and__(self, other: Contract) -> AllOf:
        return AllOf(self, other)

    def __or__(self, other: Contract) -> AnyOf:
        return AnyOf(self, other)

    def __invert__(self) -> Not:
        return Not(self)

    def describe(self) -> dict[str, Any]:
        """Return the contract's identity and settings as plain data."""
        return {
            "name": self.name,
            "type": type(self).__name__,
            "description": self.description,
            "category": self.category.value,
            "severity": self.severity.value,
            "priority": self.priority,
            "enforcement": self.enforcement.value,
            "supports_streaming": self.supports_streaming,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.category.value}/{self.severity.value}>"


Check = Callable[..., Any]


class FunctionContract(Contract):
    """A contract made from a plain function.

    The function takes the text (or, with ``pass_value=True``, the ``LLMRequest`` /
    ``LLMResponse``) and returns True/False, a message string for a violation, or a
    ``ValidationResult``. Coroutine functions are awaited in async calls.

    Example::

        no_sorry = FunctionContract(lambda text: "sorry" not in text.lower(), name="no_apology")
    """

    def __init__(
        self,
        fn: Check,
        name: str | None = None,
        *,
        message: str | None = None,
        pass_value: bool = False,
        suggestion: str | None = None,
        streaming: bool = False,
        **kwargs: Any,
    ) -> None:
        if not callable(fn):
            raise ContractConfigError(f"FunctionContract needs a callable; got {fn!r}")
        super().__init__(name or getattr(fn, "__name__", "function_contract"), **kwargs)
        self.fn = fn
        self.message = message or f"{self.name} failed"
        self.pass_value = pass_value
        self.suggestion = suggestion
        self._is_async = inspect.iscoroutinefunction(fn)
        self.supports_streaming = streaming

    def _verdict(self, outcome: Any) -> ValidationResult:
        if isinstance(outcome, ValidationResult):
            if not outcome.contract_name:
                outcome.contract_name = self.name
            return outcome
        if outcome is True or outcome is None:
            return self.ok()
        if isinstance(outcome, str):
            return self.fail(outcome, suggestion=self.suggestion)
        if outcome is False:
            return self.fail(self.message, suggestion=self.suggestion)
        return self.ok() if outcome else self.fail(self.message, suggestion=self.suggestion)

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        arg = value if self.pass_value else text_of(value)
        if self._is_async:
            # A coroutine check called from sync code: run it to completion here.
            return self._verdict(asyncio.run(self.fn(arg)))
        return self._verdict(self.fn(arg))

    async def avalidate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        arg = value if self.pass_value else text_of(value)
        outcome = self.fn(arg)
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        return self._verdict(outcome)


class _Composite(Contract):
    def __init__(self, *contracts: Contract, name: str | None = None, **kwargs: Any) -> None:
        if not contracts or not all(isinstance(c, Contract) for c in contracts):
            raise ContractConfigError(f"{type(self).__name__} needs one or more Contract objects")
        first = contracts[0]
        kwargs.setdefault("category", first.category)
        kwargs.setdefault("severity", max((c.severity for c in contracts), key=lambda s: s.rank))
        kwargs.setdefault("priority", max(c.priority for c in contracts))
        super().__init__(name or self._default_name(contracts), **kwargs)
        self.contracts = list(contracts)

    def _default_name(self, contracts: tuple[Contract, ...]) -> str:
        return f"{type(self).__name__}({', '.join(c.name for c in contracts)})"


class AllOf(_Composite):
    """Pass when every member passes; the first failure is the verdict."""

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        for contract in self.contracts:
            result = contract.validate(value, context)
            if not result.is_valid:
                return self.fail(
                    result.message,
                    suggestion=result.auto_fix_suggestion,
                    severity=result.severity,
                    failed=result.contract_name,
                    **result.details,
                )
        return self.ok()

    async def avalidate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        results = await asyncio.gather(*(c.avalidate(value, context) for c in self.contracts))
        for result in results:
            if not result.is_valid:
                return self.fail(
                    result.message,
                    suggestion=result.auto_fix_suggestion,
                    severity=result.severity,
                    failed=result.contract_name,
                    **result.details,
                )
        return self.ok()


class AnyOf(_Composite):
    """Pass when at least one member passes."""

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        messages = []
        for contract in self.contracts:
            result = contract.validate(value, context)
            if result.is_valid:
                return self.ok(passed=contract.name)
            messages.append(f"{contract.name}: {result.message}")
        return self.fail("none of the alternatives held: " + "; ".join(messages))


class Not(_Composite):
    """Pass when the member fails."""

    def __init__(
        self, contract: Contract, name: str | None = None, message: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(contract, name=name or f"not_{contract.name}", **kwargs)
        self.message = message or f"{contract.name} must not hold"

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        result = self.contracts[0].validate(value, context)
        return self.fail(self.message) if result.is_valid else self.ok()
