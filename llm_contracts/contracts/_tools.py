"""Built-in contract on tool calls: the named tool exists and its arguments fit its schema."""

from __future__ import annotations

import functools
import json
from typing import Any

from ._base import Contract, ValidationContext, ValidationResult
from ._json import MAX_ERRORS, CompiledSchema, compile_schema, schema_errors
from ._types import LLMResponse, ToolCall, ToolSpec

__all__ = ["ToolCallContract"]


@functools.lru_cache(maxsize=128)
def _validator(key: str) -> CompiledSchema:
    # Keyed on the schema's canonical text: requests carry fresh dicts on every call,
    # and compiling a validator costs far more than dumping the schema.
    return compile_schema(json.loads(key), what="tool parameters schema")


def _validator_for(schema: dict[str, Any]) -> CompiledSchema:
    return _validator(json.dumps(schema, sort_keys=True))


class ToolCallContract(Contract):
    """Require every tool call to name a tool the request declares, with valid arguments.

    Arguments must be a JSON object that matches the tool's ``parameters`` JSON Schema;
    violations name the tool and the JSON path of each problem. Works for Chat
    Completions and the Responses API alike.

    Parameters:
        allow_unknown: let calls to undeclared tools through (their arguments must
            still be a JSON object).

    Example::

        client = ContractOpenAI(output_contracts=[ToolCallContract()], contract_retries=1)
    """

    def __init__(self, allow_unknown: bool = False, **kwargs: Any) -> None:
        super().__init__(kwargs.pop("name", None), **kwargs)
        self.allow_unknown = bool(allow_unknown)

    def _problems(self, call: ToolCall, spec: ToolSpec | None) -> list[str]:
        try:
            arguments = call.parsed_arguments()
        except ValueError as exc:
            return [f"{call.name}: the arguments are not JSON ({exc})"]
        if not isinstance(arguments, dict):
            return [f"{call.name}: the arguments must be a JSON object; got {type(arguments).__name__}"]
        if spec is None or spec.parameters is None:
            return []
        # A broken schema in the request raises ContractConfigError: that is the
        # caller's mistake, not the model's, and the engine reports it as such.
        return [f"{call.name}: {m}" for m in schema_errors(_validator_for(spec.parameters), arguments)]

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        calls = value.tool_calls if isinstance(value, LLMResponse) else []
        if not calls:
            return self.ok()
        request = context.request if context is not None else None
        tools = {t.name: t for t in request.tools} if request is not None else {}
        # Without the request there is nothing to compare names with.
        check_names = request is not None and not self.allow_unknown
        problems: list[str] = []
        unknown: list[str] = []
        for call in calls:
            spec = tools.get(call.name)
            if spec is None and check_names:
                unknown.append(call.name)
                declared = ", ".join(sorted(tools)) or "none"
                problems.append(f"{call.name}: no such tool (declared: {declared})")
                continue
            problems.extend(self._problems(call, spec))
        if not problems:
            return self.ok(calls=len(calls))
        shown = problems[:MAX_ERRORS] + (["..."] if len(problems) > MAX_ERRORS else [])
        if unknown:
            suggestion = f"Call only the declared tools ({', '.join(sorted(tools)) or 'none'})."
        else:
            suggestion = "Call the tools with arguments that match their parameters schemas."
        return self.fail(
            "invalid tool call: " + "; ".join(shown),
            suggestion=suggestion,
            errors=shown,
            unknown_tools=unknown,
        )
