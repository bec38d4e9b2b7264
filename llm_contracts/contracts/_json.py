"""Built-in contracts on structured answers: JSON against a JSON Schema, or a pydantic model.

jsonschema is imported when the first schema contract is built, not with the
package: its import costs tens of milliseconds that plain-text users should not pay.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import ContractConfigError
from .._regex import schema_validator_class
from ._base import Contract, ValidationContext, ValidationResult
from ._output import answer_text
from ._types import LLMResponse

if TYPE_CHECKING:
    import pydantic
    from jsonschema.protocols import Validator

__all__ = [
    "CompiledSchema",
    "JSONFormatContract",
    "PydanticContract",
    "compile_schema",
    "extract_json",
    "json_path",
    "schema_errors",
    "schema_from_file",
]

MAX_ERRORS = 5
# Parsed JSON up to this size is kept in a passing verdict's details; larger values
# would bloat every report sent to the control plane.
PARSED_DETAIL_LIMIT = 512
# Bounds the scan of prose for embedded JSON, so an answer full of stray brackets
# costs a few linear passes, never a quadratic search.
_MAX_CANDIDATES = 16
_SUGGESTION_SCHEMA_LIMIT = 3000

# -- finding JSON in an answer -------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([A-Za-z][\w+-]*)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_STRUCTURE = re.compile(r'[{}\[\]"]')
# The rest of a JSON string after its opening quote; the unrolled form cannot backtrack.
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS = {"{": re.compile(r"\{"), "[": re.compile(r"\["), "": re.compile(r"[{\[]")}
_CLOSER = {"{": "}", "[": "]"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# NaN and Infinity are Python's extension, not JSON: a strict decoder, built once.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# Its scanner: (value, end) of the JSON value at an index, as _DECODER.decode runs it.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
# What a JSON text (without surrounding whitespace) can start and end with.
_JSON_FIRST = frozenset('{["-0123456789tfn')
_JSON_LAST = frozenset('}]"0123456789el')


@functools.cache
def _strict_loads() -> Callable[..., Any] | None:
    """Return pydantic-core's JSON parser (jiter), or None where it is missing or lacks the option.

    It parses an answer that is wholly JSON in about half the time of the standard decoder.
    With ``allow_inf_nan=False`` it accepts a subset of what ``_DECODER`` accepts (it also
    refuses lone surrogate escapes) and returns the same values, so it only ever speeds up
    a parse the standard decoder would make: whatever it refuses goes to the full path.
    """
    try:
        from pydantic_core import from_json

        if from_json('{"a": [1, 2.5, "b"]}', allow_inf_nan=False) != {"a": [1, 2.5, "b"]}:
            return None
    except Exception:  # noqa: BLE001 - an old pydantic-core: the standard decoder alone
        return None
    return from_json


def _balanced_end(text: str, start: int) -> int | None:
    """Return the end of the bracketed value opening at ``start``; None if it never closes.

    Brackets inside strings (escapes included) do not count.
    """
    stack: list[str] = []
    pos = start
    search = _STRUCTURE.search
    while True:
        found = search(text, pos)
        if found is None:
            return None
        char = found.group()
        if char == '"':
            rest = _STRING_REST.match(text, found.end())
            if rest is None:
                return None
            pos = rest.end()
            continue
        pos = found.end()
        if char in _CLOSER:
            stack.append(_CLOSER[char])
        elif not stack or stack.pop() != char:
            return None
        if not stack:
            return pos


def _candidates(text: str, *, extract: bool, prefer: str) -> Iterator[tuple[str, str]]:
    """Yield ``(where, json_text)`` in the order an answer most likely holds its JSON."""
    whole = text.strip()
    yield "whole", whole
    if not extract:
        return
    if "```" in text:
        for fence in _FENCE.finditer(text):
            body = fence.group(2).strip()
            if body and body != whole:
                yield "code fence", body
    opener = _OPENERS[prefer]
    leading = whole[:1] in _CLOSER
    offset = len(text) - len(text.lstrip())
    pos = 0
    for _ in range(_MAX_CANDIDATES):
        found = opener.search(text, pos)
        if found is None:
            return
        start = found.start()
        end = _balanced_end(text, start)
        if end is None:
            if leading and start == offset:
                # An answer that opens as JSON and never closes was cut off: its inner
                # objects are not the answer.
                return
            pos = start + 1
            continue
        body = text[start:end]
        if body != whole:
            yield "prose", body
        # An unparseable span is skipped whole: its inner objects are not the answer either.
        pos = end


def _prefer(schema: Any) -> str:
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    return "{" if kind == "object" else "[" if kind == "array" else ""


def extract_json(text: str, *, extract: bool = True, prefer: str = "") -> tuple[Any, str]:
    """Return ``(value, where)`` for the JSON in ``text``; raise ``ValueError`` when there is none.

    Looks at the whole text, then inside code fences, then at the first balanced
    ``{...}`` or ``[...]`` in surrounding prose (``prefer`` "{" or "[" restricts that
    search to objects or arrays). ``extract=False`` accepts the whole text only.
    """
    first_error: str | None = None
    for where, body in _candidates(text, extract=extract, prefer=prefer):
        if where == "whole" and body and body[0] not in _JSON_FIRST:
            continue  # it cannot parse, and the error of a whole answer like this one is not kept
        try:
            return _DECODER.decode(body), where
        except ValueError as exc:
            if first_error is None and (where != "whole" or body[:1] in '{["'):
                first_error = f"{exc} (in the {'answer' if where == 'whole' else where})"
    if first_error is not None:
        raise ValueError(f"the answer's JSON does not parse: {first_error}")
    raise ValueError("the answer is not JSON" if not extract else "the answer contains no JSON")


# -- JSON Schema -------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def json_path(parts: Sequence[Any] | Iterator[Any]) -> str:
    """Return a JSONPath such as ``$.items[2].price`` for a sequence of keys and indexes."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        elif isinstance(part, str) and _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(str(part), ensure_ascii=False)}]")
    return "".join(out)


def _clip(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


class CompiledSchema:
    """A JSON Schema compiled twice: jsonschema for messages, jsonschema-rs for the verdict.

    ``fast_verdict`` runs on jsonschema-rs (compiled Rust, patterns on its linear-time
    engine) when the schema compiles there: about 100 times faster than jsonschema on a
    small object, and passing answers are the common case. The messages of a failing
    answer come from jsonschema, whose wording the rest of the package uses. A schema
    jsonschema-rs refuses (a pattern that needs lookaround, draft 3, checked formats) runs
    on jsonschema alone, as does an instance it cannot take.
    """

    __slots__ = ("_fast", "validator")

    def __init__(self, validator: Validator, fast: Any) -> None:
        self.validator = validator
        self._fast = fast

    @property
    def compiled(self) -> bool:
        """Return True when the verdict runs on jsonschema-rs."""
        return self._fast is not None

    def fast_verdict(self, instance: Any) -> bool | None:
        """Return jsonschema-rs's verdict on ``instance``; None when it cannot give one."""
        if self._fast is None:
            return None
        try:
            return bool(self._fast.is_valid(instance))
        except (ValueError, TypeError, OverflowError, RecursionError):
            return None

    def errors(self, instance: Any, limit: int) -> list[Any]:
        """Return up to ``limit`` of jsonschema's errors for ``instance``.

        Raise ``ContractConfigError`` when a ``$ref`` cannot be resolved within the schema.
        """
        from referencing.exceptions import Unresolvable

        try:
            return list(itertools.islice(self.validator.iter_errors(instance), limit))
        except Unresolvable as exc:
            raise ContractConfigError(
                f"the schema's $ref {getattr(exc, 'ref', '?')!r} is not defined in the schema "
                "(remote references are never fetched)"
            ) from None

    def fast_errors(self, instance: Any, limit: int) -> list[Any]:
        """Return up to ``limit`` of jsonschema-rs's errors for ``instance`` (none when not compiled)."""
        if self._fast is None:
            return []
        try:
            return list(itertools.islice(self._fast.iter_errors(instance), limit))
        except (ValueError, TypeError, OverflowError, RecursionError):
            return []


def _refuse_retrieval(uri: str) -> Any:
    raise LookupError(f"{uri} is not fetched")


def _offline_registry() -> Any:
    """Return a registry that resolves references within a schema and never fetches one.

    jsonschema otherwise downloads a remote ``$ref`` from whatever host it names: a
    request to any host, on the caller's machine, from a schema pulled from a server.
    """
    from referencing import Registry

    return Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


def _compile_fast(schema: Any) -> Any:
    """Return a jsonschema-rs validator for ``schema``, or None where it does not apply.

    Offline: a remote ``$ref`` is never fetched (jsonschema does not fetch one either), and
    patterns run on the Rust regex engine, which matches in linear time.
    """
    try:
        import jsonschema_rs
    except ImportError:  # no wheel for this platform: jsonschema alone
        return None
    try:
        return jsonschema_rs.validator_for(
            schema, pattern_options=jsonschema_rs.RegexOptions(), validate_formats=False, offline=True
        )
    except Exception:  # noqa: BLE001 - anything it refuses runs on jsonschema alone
        return None


def compile_schema(schema: Any, *, what: str = "schema", check_formats: bool = False) -> CompiledSchema:
    """Return a validator for ``schema``; raise ``ContractConfigError`` naming what is wrong.

    The draft comes from ``"$schema"`` (2020-12 when absent).
    """
    from jsonschema import Draft202012Validator, SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, (Mapping, bool)):
        raise ContractConfigError(f"{what} must be a JSON Schema dict; got {type(schema).__name__}")
    # default=None tells "no $schema" and "an unknown $schema" apart from a known draft.
    cls = validator_for(schema, default=None)
    if cls is None:
        if isinstance(schema, Mapping) and "$schema" in schema:
            raise ContractConfigError(f"{what}: unknown $schema {schema['$schema']!r}")
        cls = Draft202012Validator
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ContractConfigError(
            f"{what} is not a valid JSON Schema: {json_path(exc.absolute_path)}: {_clip(exc.message)}"
        ) from None
    # "pattern", "patternProperties" and the "regex" format run on the linear-time engine.
    cls = schema_validator_class(cls)
    format_checker = cls.FORMAT_CHECKER if check_formats else None
    # Checked formats stay on jsonschema: the two libraries' format checkers differ.
    fast = None if check_formats else _compile_fast(schema)
    return CompiledSchema(cls(schema, format_checker=format_checker, registry=_offline_registry()), fast)


def schema_errors(validator: CompiledSchema, instance: Any, *, limit: int = MAX_ERRORS) -> list[str]:
    """Return up to ``limit`` messages ``"<path>: <problem>"``, plus ``"..."`` when there are more.

    An empty list means the instance matches.
    """
    verdict = validator.fast_verdict(instance)
    if verdict:
        return []
    errors = validator.errors(instance, limit + 1)
    if errors:
        messages = [f"{json_path(e.absolute_path)}: {_clip(e.message)}" for e in errors[:limit]]
    elif verdict is None:
        return []
    else:
        # The two disagree only at the edges jsonschema gets wrong (a float's multipleOf,
        # ECMA-262 classes in patterns); the compiled verdict stands, with its own words.
        errors = validator.fast_errors(instance, limit + 1)
        messages = [f"{json_path(e.instance_path)}: {_clip(e.message)}" for e in errors[:limit]]
    if len(errors) > limit:
        messages.append("...")
    return messages


def schema_from_file(path: str | Path) -> dict[str, Any]:
    """Return the JSON Schema stored in the file at ``path``."""
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractConfigError(f"cannot read a JSON Schema from {str(path)!r}: {exc}") from None
    if not isinstance(schema, dict):
        raise ContractConfigError(f"{str(path)!r} does not hold a JSON Schema object")
    return schema


def _strict_problem(schema: Any, path: str = "$") -> str | None:
    """Return why OpenAI's strict structured outputs would refuse ``schema``, or None."""
    if not isinstance(schema, Mapping):
        return None
    if path == "$" and schema.get("type") != "object":
        return "$: the root must be an object schema"
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"{path}: additionalProperties must be false"
        optional = [k for k in schema.get("properties", {}) if k not in set(schema.get("required", ()))]
        if optional:
            return f"{path}: every property must be required (not: {', '.join(optional)})"
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            problem = _strict_problem(sub, f"{path}.{key}.{name}")
            if problem:
                return problem
    for key in ("items", "not"):
        problem = _strict_problem(schema.get(key), f"{path}.{key}")
        if problem:
            return problem
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key) or ()):
            problem = _strict_problem(sub, f"{path}.{key}[{i}]")
            if problem:
                return problem
    return None


def _format_name(name: str) -> str:
    # OpenAI accepts 1-64 characters of [A-Za-z0-9_-] as a response format's name.
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "response"


# -- the contracts -----------------------------------------------------------------------


class _StructuredContract(Contract):
    """What the JSON and pydantic contracts share: finding the JSON, native formats."""

    schema: dict[str, Any] | None
    strict: bool
    extract: bool

    def _setup_native(self, schema: dict[str, Any] | None, strict: bool | None) -> None:
        problem = _strict_problem(schema) if schema is not None else "no schema"
        if strict and problem:
            raise ContractConfigError(
                f"strict=True needs a schema OpenAI's strict structured outputs accept: {problem}"
            )
        self.strict = problem is None if strict is None else bool(strict)
        kind = _prefer(schema)
        noun = "a JSON object" if kind == "{" else "a JSON array" if kind == "[" else "JSON"
        if schema is None:
            self._suggestion = "Answer with only valid JSON, without prose around it."
            return
        shown = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
        if len(shown) > _SUGGESTION_SCHEMA_LIMIT:
            self._suggestion = f"Answer with only {noun} that matches the schema given in the instructions."
        else:
            self._suggestion = f"Answer with only {noun} that matches this JSON Schema: {shown}"

    def response_format(self) -> dict[str, Any]:
        """Return the OpenAI ``response_format`` that asks the model for this JSON natively.

        With a schema: ``{"type": "json_schema", ...}`` (``strict`` only when the schema
        fits OpenAI's strict subset, or when asked); without: JSON mode.
        """
        if self.schema is None:
            return {"type": "json_object"}
        title = self.schema.get("title")
        name = _format_name(title if isinstance(title, str) else self.name)
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": self.schema, "strict": self.strict},
        }

    def _unparsed(self, value: Any, problem: str) -> ValidationResult:
        if isinstance(value, LLMResponse):
            if value.refusal:
                problem = f"the model refused instead of answering with JSON: {_clip(value.refusal, 100)!r}"
            elif value.finish_reason == "length":
                problem += " (the answer was cut off: finish_reason=length)"
        return self.fail(problem, suggestion=self._suggestion)


class JSONFormatContract(_StructuredContract):
    """Require the answer to be JSON, optionally valid against a JSON Schema.

    The JSON may be the whole answer, sit in a ```json code fence, or (with
    ``extract=True``) be the first balanced ``{...}`` / ``[...]`` inside prose.
    Violations name the JSON path of each problem (at most five) and tell the model
    the schema to follow. The answer itself is never replaced; a passing verdict keeps
    small parsed values in ``details["parsed"]``, and :meth:`parse` returns the value.

    Parameters:
        schema: a JSON Schema dict, a pydantic model class, or None (any JSON).
        extract: look for JSON inside fences and prose, not only in the whole answer.
        strict: the ``strict`` flag of :meth:`response_format`; None (default) sets it
            when the schema fits OpenAI's strict subset, True demands that it does.
        check_formats: also check ``"format"`` keywords (email, date-time, ...).

    Example::

        JSONFormatContract({"type": "object", "required": ["name"],
                            "properties": {"name": {"type": "string"}}})
    """

    def __init__(
        self,
        schema: Mapping[str, Any] | type[pydantic.BaseModel] | None = None,
        *,
        extract: bool = True,
        strict: bool | None = None,
        check_formats: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(kwargs.pop("name", None), **kwargs)
        if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
            schema = schema.model_json_schema()
        if schema is not None and not isinstance(schema, Mapping):
            raise ContractConfigError(
                f"schema must be a JSON Schema dict, a pydantic model class or None; got {schema!r}"
            )
        self.schema = dict(schema) if schema is not None else None
        self.extract = bool(extract)
        # Compiled once: building a validator costs far more than using one.
        self._validator = (
            compile_schema(self.schema, check_formats=check_formats) if self.schema is not None else None
        )
        self._loads = _strict_loads()
        # jsonschema-rs's verdict, bound once: a passing answer needs nothing else.
        fast = self._validator._fast if self._validator is not None else None
        self._is_valid: Callable[[Any], bool] | None = fast.is_valid if fast is not None else None
        self._prefer = _prefer(self.schema)
        self._setup_native(self.schema, strict)

    def parse(self, text: str) -> Any:
        """Return the JSON value in ``text``; raise ``ValueError`` when it is missing or invalid."""
        parsed, result = self._judge(text, text)
        if not result.is_valid:
            raise ValueError(result.message)
        return parsed

    def _judge(self, value: Any, text: str) -> tuple[Any, ValidationResult]:
        try:
            parsed, where = extract_json(text, extract=self.extract, prefer=self._prefer)
        except ValueError as exc:
            return None, self._unparsed(value, str(exc))
        return parsed, self._checked(parsed, where, text)

    def _checked(self, parsed: Any, where: str, text: str) -> ValidationResult:
        """Return the verdict on ``parsed``, the JSON found in ``text`` (at ``where``)."""
        if self._validator is not None:
            errors = schema_errors(self._validator, parsed)
            if errors:
                return self.fail(
                    "the answer does not match the schema: " + "; ".join(errors),
                    suggestion=self._suggestion,
                    errors=errors,
                    found_in=where,
                )
        if len(text) <= PARSED_DETAIL_LIMIT:
            return self.ok(found_in=where, parsed=parsed)
        return self.ok(found_in=where)

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text = answer_text(value)
        if text is None:
            return self.ok(skipped="tool_calls")
        whole = text.strip()
        # The common case first: the whole answer is JSON. extract_json tries the whole
        # (stripped) answer first too, and finds the same value there; anything else (no
        # JSON there, prose around it) takes the full path, which works it all out again.
        if whole[:1] not in _JSON_FIRST or whole[-1] not in _JSON_LAST:
            return self._judge(value, text)[1]
        loads = self._loads
        if loads is not None:
            try:
                parsed = loads(whole, allow_inf_nan=False)
            except Exception:  # noqa: BLE001 - the full path decides, with the standard decoder
                return self._judge(value, text)[1]
        else:
            try:
                parsed, end = _SCAN(whole, 0)
            except (StopIteration, ValueError):
                return self._judge(value, text)[1]
            if end != len(whole):
                return self._judge(value, text)[1]
        if self._validator is not None:
            is_valid = self._is_valid
            if is_valid is None:
                return self._checked(parsed, "whole", text)
            try:
                passed = is_valid(parsed)
            except (ValueError, TypeError, OverflowError, RecursionError):
                passed = False
            if not passed:
                return self._checked(parsed, "whole", text)
        # What self.ok(**details) builds, without the keyword round trip.
        details = (
            {"found_in": "whole", "parsed": parsed}
            if len(text) <= PARSED_DETAIL_LIMIT
            else {"found_in": "whole"}
        )
        return ValidationResult(True, "", self.severity, self.name, details)


class PydanticContract(_StructuredContract):
    """Require the answer to be JSON that a pydantic model accepts.

    The JSON is found as :class:`JSONFormatContract` finds it and validated with
    ``Model.model_validate_json`` (JSON-mode rules, the model's own validators);
    violations list pydantic's errors with their JSON paths.

    Example::

        class Ticket(BaseModel):
            title: str
            priority: int = Field(ge=1, le=5)

        PydanticContract(Ticket)
    """

    def __init__(
        self,
        model: type[pydantic.BaseModel],
        *,
        extract: bool = True,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            kwargs.pop("name", None) or f"PydanticContract({getattr(model, '__name__', model)})", **kwargs
        )
        if not (isinstance(model, type) and hasattr(model, "model_validate_json")):
            raise ContractConfigError(f"model must be a pydantic BaseModel class; got {model!r}")
        self.model = model
        self.extract = bool(extract)
        try:
            # openai's strict variant (every property required, no extras) is what its
            # structured outputs accept; fall back to pydantic's own schema elsewhere.
            from openai.lib._pydantic import to_strict_json_schema

            self.schema = to_strict_json_schema(model)
        except Exception:
            self.schema = model.model_json_schema()
        self._prefer = _prefer(self.schema)
        self._setup_native(self.schema, strict)

    def parse(self, text: str) -> pydantic.BaseModel:
        """Return the model instance in ``text``; raise ``ValueError`` when it is missing or invalid."""
        instance, result = self._judge(text, text)
        if instance is None:
            raise ValueError(result.message)
        return instance

    def _judge(self, value: Any, text: str) -> tuple[pydantic.BaseModel | None, ValidationResult]:
        import pydantic

        first_error: str | None = None
        for where, body in _candidates(text, extract=self.extract, prefer=self._prefer):
            try:
                instance = self.model.model_validate_json(body)
            except pydantic.ValidationError as exc:
                errors = exc.errors(include_url=False)
                if errors and errors[0]["type"] == "json_invalid":
                    if first_error is None and (where != "whole" or body[:1] in '{["'):
                        first_error = f"{errors[0]['msg']} (in the {'answer' if where == 'whole' else where})"
                    continue
                messages = [f"{json_path(e['loc'])}: {_clip(e['msg'])}" for e in errors[:MAX_ERRORS]]
                if len(errors) > MAX_ERRORS:
                    messages.append("...")
                return None, self.fail(
                    f"the answer does not match {self.model.__name__}: " + "; ".join(messages),
                    suggestion=self._suggestion,
                    errors=messages,
                    found_in=where,
                )
            return instance, self.ok(found_in=where)
        if first_error is not None:
            return None, self._unparsed(value, f"the answer's JSON does not parse: {first_error}")
        return None, self._unparsed(
            value, "the answer contains no JSON" if self.extract else "the answer is not JSON"
        )

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        text = answer_text(value)
        if text is None:
            return self.ok(skipped="tool_calls")
        return self._judge(value, text)[1]
