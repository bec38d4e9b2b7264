"""Guardrails AI validators as contracts: ``from_guardrails(validator)`` and ``from_guard(guard)``.

A validator's ``PassResult`` / ``FailResult`` becomes a :class:`ValidationResult`: its error
message is the message, its error spans and fix value go into ``details``, and its
``on_fail`` action becomes the contract's enforcement (see :data:`ON_FAIL`). Output
validators judge the answer's text; validators a ``Guard`` runs ``on="messages"`` judge the
text of each message of the request, before it is sent.

The SDK never puts text the model did not write into an answer, so a fix value of an
output validator is offered to the model in the re-ask (quoted as data) rather than
substituted; on the request (``on="messages"``) it replaces the message, as Guardrails does.

Example::

    from guardrails_ai.regex_match import RegexMatch
    from llm_contracts.integrations.guardrails import from_guardrails

    capitalised = from_guardrails(RegexMatch(regex=r"^[A-Z].*", on_fail="reask"))
    client = ContractOpenAI(output_contracts=[capitalised], contract_retries=1)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

try:
    from guardrails import Guard
    from guardrails.types.on_fail import OnFailAction
    from guardrails.validator_base import FailResult, Validator
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    from ._common import missing_extra

    raise missing_extra("llm_contracts.integrations.guardrails", "guardrails-ai", "guardrails") from exc

from .._exceptions import ContractConfigError
from ..contracts._base import Category, Contract, Enforcement, Severity, ValidationContext, ValidationResult
from ..contracts._types import LLMRequest, LLMResponse

__all__ = ["ON_FAIL", "GuardrailsContract", "from_guard", "from_guardrails"]

#: The enforcement each Guardrails ``on_fail`` action maps to (README: "Guardrails validators").
ON_FAIL: dict[str, Enforcement] = {
    "exception": Enforcement.STRICT,
    "reask": Enforcement.STRICT,
    "fix": Enforcement.STRICT,
    "fix_reask": Enforcement.STRICT,
    "filter": Enforcement.STRICT,
    "refrain": Enforcement.STRICT,
    "custom": Enforcement.STRICT,
    "noop": Enforcement.MONITOR,
}
_FIXES = ("fix", "fix_reask")


def _action(validator: Validator) -> str:
    descriptor = getattr(validator, "on_fail_descriptor", OnFailAction.EXCEPTION)
    value = descriptor.value if isinstance(descriptor, OnFailAction) else str(descriptor)
    return value if value in ON_FAIL else "custom"


def _spans(result: FailResult) -> list[dict[str, Any]]:
    return [{"start": s.start, "end": s.end, "reason": s.reason} for s in result.error_spans or ()]


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class GuardrailsContract(Contract):
    """A Guardrails AI validator judging answers (or, as an input contract, each request message).

    Built by :func:`from_guardrails`; see there for the parameters.
    """

    def __init__(
        self,
        validator: Validator,
        *,
        on: str = "output",
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        enforcement: Enforcement | str | None = None,
        severity: Severity | str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(validator, Validator):
            raise ContractConfigError(
                f"from_guardrails() needs a Guardrails Validator instance; got {type(validator).__name__}"
            )
        if on not in ("output", "messages"):
            raise ContractConfigError(
                f"on must be 'output' or 'messages'; got {on!r} (validators on a JSON "
                f"path of structured output are not supported)"
            )
        self.validator = validator
        self.on = on
        self.metadata = dict(metadata or {})
        self.on_fail = _action(validator)
        category = Category.INPUT if on == "messages" else Category.OUTPUT
        super().__init__(
            name or validator.rail_alias or type(validator).__name__,
            category=category,
            severity=severity,
            enforcement=enforcement or ON_FAIL[self.on_fail],
            auto_fix=on == "messages" and self.on_fail in _FIXES,
            description=f"Guardrails validator {validator.rail_alias} (on_fail={self.on_fail})",
            **kwargs,
        )

    def _judge(self, text: str) -> FailResult | None:
        result = self.validator.validate(text, dict(self.metadata))
        return result if isinstance(result, FailResult) else None

    def _verdict(self, failure: FailResult, fixed: Any = None, **details: Any) -> ValidationResult:
        fix = failure.fix_value
        suggestion = None
        if fix is not None and self.on_fail in _FIXES and self.on == "output":
            # The fix is offered to the model as data, never put into the answer by the SDK.
            quoted = json.dumps(_jsonable(fix), ensure_ascii=False)
            suggestion = f"the validator's corrected answer is {quoted}"
        message = failure.error_message or f"{self.validator.rail_alias} failed"
        return self.fail(
            message,
            suggestion=suggestion,
            fixed_value=fixed,
            guardrails_validator=self.validator.rail_alias,
            on_fail=self.on_fail,
            error_spans=_spans(failure),
            fix_value=_jsonable(fix),
            **details,
        )

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        if self.on == "messages":
            return self._validate_request(value)
        text = value.text if isinstance(value, LLMResponse) else str(value)
        failure = self._judge(text)
        return self.ok() if failure is None else self._verdict(failure)

    def _validate_request(self, request: Any) -> ValidationResult:
        if not isinstance(request, LLMRequest):
            raise TypeError(f"a messages validator judges an LLMRequest; got {type(request).__name__}")
        failures: list[tuple[int, FailResult]] = []
        for i, message in enumerate(request.messages):
            failure = self._judge(message.content)
            if failure is not None:
                failures.append((i, failure))
        if not failures:
            return self.ok()
        index, first = failures[0]
        fixed = self._fixed(request, failures) if self.auto_fix else None
        return self._verdict(first, fixed, message_index=index, failed_messages=[i for i, _ in failures])

    def _fixed(self, request: LLMRequest, failures: list[tuple[int, FailResult]]) -> LLMRequest | None:
        """Return ``request`` with each failing message replaced by its fix value, or None."""
        fixes = {i: f.fix_value for i, f in failures}
        if any(not isinstance(v, str) for v in fixes.values()):
            return None
        # The request's provider view writes the texts into its own body format.
        return request.edited(texts=fixes)


def from_guardrails(
    validator: Validator,
    *,
    on: str = "output",
    metadata: Mapping[str, Any] | None = None,
    name: str | None = None,
    enforcement: Enforcement | str | None = None,
    severity: Severity | str | None = None,
    **kwargs: Any,
) -> GuardrailsContract:
    """Return a contract that runs a Guardrails AI ``validator``.

    Parameters:
        validator: a Guardrails ``Validator`` instance (hub validators included).
        on: ``"output"`` (default) judges the answer's text; ``"messages"`` judges each
            message of the request before it is sent.
        metadata: the ``metadata`` dict handed to the validator on every call.
        name: the contract's name (default: the validator's registered name).
        enforcement: overrides the enforcement its ``on_fail`` maps to (:data:`ON_FAIL`).
        severity, and the other keywords of :class:`~llm_contracts.contracts.Contract`.
    """
    return GuardrailsContract(
        validator, on=on, metadata=metadata, name=name, enforcement=enforcement, severity=severity, **kwargs
    )


def from_guard(guard: Guard, *, metadata: Mapping[str, Any] | None = None) -> list[GuardrailsContract]:
    """Return one contract per validator of ``guard`` (output and messages), in the guard's order.

    Pass them as ``ContractOpenAI(contracts=from_guard(guard))``: messages validators become
    input contracts. Validators on a JSON path of structured output are refused by name.
    Two validators with the same registered name get ``#2``, ``#3`` ... so their verdicts
    stay apart in reports.
    """
    if not isinstance(guard, Guard):
        raise ContractConfigError(f"from_guard() needs a Guardrails Guard; got {type(guard).__name__}")
    places = {ref.on for ref in guard.validators}
    unsupported = sorted(p for p in places if p not in ("$", "messages"))
    if unsupported:
        raise ContractConfigError(
            f"from_guard(): validators on {', '.join(repr(p) for p in unsupported)} "
            f"(JSON paths of structured output) are not supported; only the output "
            f"and the messages"
        )
    contracts: list[GuardrailsContract] = []
    seen: dict[str, int] = {}
    for on in ("messages", "output"):
        for validator in guard.get_validators(on):
            base = validator.rail_alias or type(validator).__name__
            seen[base] = seen.get(base, 0) + 1
            name = base if seen[base] == 1 else f"{base}#{seen[base]}"
            contracts.append(from_guardrails(validator, on=on, metadata=metadata, name=name))
    return contracts
