"""Inputs for the profiler and the debugger: a prompt, an answer, or both, read from code or JSON lines.

A case is a string (the answer, or the prompt for an input contract), an ``LLMRequest``,
an ``LLMResponse``, or a mapping with ``"output"`` (the answer), ``"input"`` (the
prompt: a string or a list of ``{"role", "content"}`` messages) and ``"context"`` (the
call's facts, ``ValidationContext.metadata``). A JSON-lines file holds one per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._exceptions import ContractConfigError
from ..contracts._base import Category, Contract, ValidationContext
from ..contracts._types import LLMRequest, LLMResponse, Message

__all__ = ["Case", "as_case", "load_cases"]


@dataclass(slots=True)
class Case:
    """One input: the request, the answer, and the call's facts (either side may be missing)."""

    request: LLMRequest | None = None
    response: LLMResponse | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def value_for(self, contract: Contract) -> LLMRequest | LLMResponse | None:
        """Return what ``contract`` judges in this case (None when the case has no such side)."""
        return self.request if contract.category is Category.INPUT else self.response

    def context(self) -> ValidationContext:
        return ValidationContext(request=self.request, metadata=dict(self.metadata))

    @property
    def size(self) -> int:
        """Return the characters of the text the case carries (answer first)."""
        if self.response is not None:
            return len(self.response.text)
        return len(self.request.prompt_text) if self.request is not None else 0


def _request(value: Any, where: str) -> LLMRequest:
    if isinstance(value, str):
        return LLMRequest(model="", messages=[Message("user", value)])
    if isinstance(value, list) and all(
        isinstance(m, Mapping) and isinstance(m.get("content"), str) for m in value
    ):
        messages = [Message(str(m.get("role", "user")), m["content"]) for m in value]
        return LLMRequest(model="", messages=messages)
    raise ContractConfigError(
        f'{where}: "input" must be a string or a list of {{"role": ..., "content": "..."}} messages'
    )


def as_case(value: Any, *, where: str = "case", text_is: Category = Category.OUTPUT) -> Case:
    """Return ``value`` as a :class:`Case`; a bare string is the answer (or the prompt, per ``text_is``)."""
    if isinstance(value, Case):
        return value
    if isinstance(value, LLMResponse):
        return Case(response=value)
    if isinstance(value, LLMRequest):
        return Case(request=value)
    if isinstance(value, str):
        if text_is is Category.INPUT:
            return Case(request=_request(value, where))
        return Case(response=LLMResponse(text=value))
    if isinstance(value, Mapping):
        unknown = set(value) - {"input", "output", "context", "label"}
        if unknown:
            raise ContractConfigError(
                f"{where}: unknown key {sorted(unknown)[0]!r} (a case has input, output, context and label)"
            )
        if "input" not in value and "output" not in value:
            raise ContractConfigError(f'{where}: a case needs "input" or "output"')
        output = value.get("output")
        if output is not None and not isinstance(output, str):
            raise ContractConfigError(f'{where}: "output" must be a string')
        context = value.get("context") or {}
        if not isinstance(context, Mapping):
            raise ContractConfigError(f'{where}: "context" must be an object')
        request = _request(value["input"], where) if value.get("input") is not None else None
        return Case(
            request=request,
            response=LLMResponse(text=output) if output is not None else None,
            metadata=dict(context),
            label=str(value.get("label") or ""),
        )
    raise ContractConfigError(
        f"{where}: a case is a string or an object with input/output; got {type(value).__name__}"
    )


def as_cases(values: Iterable[Any], text_is: Category = Category.OUTPUT) -> list[Case]:
    if isinstance(values, (str, Mapping, LLMRequest, LLMResponse, Case)):
        values = [values]
    cases = [as_case(v, where=f"case {i + 1}", text_is=text_is) for i, v in enumerate(values)]
    if not cases:
        raise ContractConfigError("no cases to run")
    return cases


def load_cases(path: str | Path) -> list[Case]:
    """Return the cases of a JSON-lines file; raise ``ContractConfigError`` naming the bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractConfigError(
            f"{path}: cannot read the file: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    cases = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ContractConfigError(f"{path}:{number}: not JSON: {exc}") from None
        cases.append(as_case(value, where=f"{path}:{number}"))
    if not cases:
        raise ContractConfigError(f"{path}: no cases (one JSON value per line)")
    return cases
