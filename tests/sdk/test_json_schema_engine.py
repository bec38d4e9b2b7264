"""JSON Schema verdicts on the compiled engine: the same answers as jsonschema, faster and safer.

The verdict runs on jsonschema-rs when a schema compiles there; messages still come from
jsonschema. These tests hold the two to the same verdicts, show where the compiled engine
is right and jsonschema was not, and check that nothing of the compiled path reaches the
network or backtracks.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_contracts import (
    ContractConfigError,
    ContractOpenAI,
    JSONFormatContract,
    ToolCallContract,
    get_report,
)
from llm_contracts.contracts._json import compile_schema, schema_errors
from llm_contracts.testing import FakeLLM, FakeReply

# -- the two engines agree ---------------------------------------------------------------

_ASCII = st.text(alphabet="abcxyz019 _-", max_size=6)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    _ASCII,
)
_INSTANCES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=4)
    ),
    max_leaves=12,
)
_TYPES = st.sampled_from(["null", "boolean", "integer", "number", "string", "array", "object"])
# Patterns with only literal classes: ECMA-262 and RE2 read them alike.
_PATTERNS = st.sampled_from(["^a", "b$", "^[a-c]+$", "x|y", "^[0-9]{2,}$", "(ab)+", "^$", "a.c"])


def _leaf_schemas() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda t: {"type": t}, _TYPES),
        st.builds(lambda ts: {"type": ts}, st.lists(_TYPES, min_size=1, max_size=3, unique=True)),
        st.builds(lambda v: {"enum": v}, st.lists(_SCALARS, min_size=1, max_size=3)),
        st.builds(lambda v: {"const": v}, _SCALARS),
        st.builds(lambda n: {"minimum": n}, st.integers(-50, 50)),
        st.builds(lambda n: {"exclusiveMaximum": n}, st.integers(-50, 50)),
        st.builds(lambda n: {"multipleOf": n}, st.integers(1, 7)),
        st.builds(lambda n: {"minLength": n}, st.integers(0, 4)),
        st.builds(lambda n: {"maxLength": n}, st.integers(0, 4)),
        st.builds(lambda p: {"pattern": p}, _PATTERNS),
        st.builds(lambda n: {"minItems": n}, st.integers(0, 3)),
        st.builds(lambda n: {"maxProperties": n}, st.integers(0, 3)),
        st.just({"uniqueItems": True}),
        st.builds(
            lambda r: {"required": r}, st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=2)
        ),
    )


_SCHEMAS = st.recursive(
    _leaf_schemas(),
    lambda inner: st.one_of(
        st.builds(lambda s: {"items": s}, inner),
        st.builds(lambda a, b: {"prefixItems": [a], "items": b}, inner, inner),
        st.builds(lambda s: {"contains": s}, inner),
        st.builds(lambda s: {"properties": {"a": s}}, inner),
        st.builds(lambda s: {"properties": {"a": {}}, "additionalProperties": s}, inner),
        st.builds(lambda s: {"patternProperties": {"^[bc]": s}}, inner),
        st.builds(lambda s: {"not": s}, inner),
        st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner),
        st.builds(lambda a, b: {"oneOf": [a, b]}, inner, inner),
        st.builds(lambda a, b: {"allOf": [a, b]}, inner, inner),
        st.builds(lambda a, b: {"if": a, "then": b}, inner, inner),
        st.builds(lambda a, b: {**a, **b}, inner, inner),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_SCHEMAS, instance=_INSTANCES)
def test_the_compiled_verdict_matches_jsonschema(schema: dict[str, Any], instance: Any) -> None:
    compiled = compile_schema(schema)
    assert compiled.compiled, schema
    expected = jsonschema.Draft202012Validator(schema).is_valid(instance)
    assert (schema_errors(compiled, instance) == []) is expected, (schema, instance)


def test_references_within_the_schema_agree() -> None:
    schema = {
        "$defs": {"tag": {"type": "string", "minLength": 2}},
        "type": "array",
        "items": {"$ref": "#/$defs/tag"},
    }
    compiled = compile_schema(schema)
    assert compiled.compiled
    assert schema_errors(compiled, ["ab", "cd"]) == []
    assert schema_errors(compiled, ["ab", "c"]) == ["$[1]: 'c' is too short"]


def test_a_failing_answer_still_gets_jsonschemas_messages() -> None:
    compiled = compile_schema({"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}})
    assert compiled.compiled
    assert schema_errors(compiled, {"age": -3}) == ["$.age: -3 is less than the minimum of 0"]
    assert schema_errors(compiled, {"age": "six"}) == ["$.age: 'six' is not of type 'integer'"]


# -- where the compiled engine is right ---------------------------------------------------

PRICE = {
    "type": "object",
    "required": ["price"],
    "properties": {"price": {"type": "number", "multipleOf": 0.01}},
}


def _client(fake: FakeLLM, *contracts: Any) -> ContractOpenAI:
    return ContractOpenAI(api_key="test", http_client=fake.http_client(), output_contracts=list(contracts))


def test_a_price_in_cents_passes_a_multiple_of_001() -> None:
    # 0.07 / 0.01 is 7.000000000000001 in floating point: jsonschema called 0.07 "not a
    # multiple of 0.01" and a correct answer failed (and was re-asked for nothing).
    fake = FakeLLM().reply(json.dumps({"price": 0.07}))
    result = _client(fake, JSONFormatContract(schema=PRICE)).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "price?"}]
    )
    report = get_report(result)
    assert report is not None and report.outcome == "passed", report and report.results


def test_a_price_off_the_cent_still_fails_with_a_message() -> None:
    fake = FakeLLM().reply(json.dumps({"price": 0.075}))
    client = _client(fake, JSONFormatContract(schema=PRICE))
    with pytest.raises(Exception) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "price?"}])
    assert "$.price: 0.075 is not a multiple of 0.01" in str(caught.value)


def test_tool_arguments_use_the_compiled_verdict_too() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "charge",
            "parameters": {
                "type": "object",
                "properties": {"amount": {"type": "number", "multipleOf": 0.01}},
            },
        },
    }
    fake = FakeLLM().reply(FakeReply(tool_calls=[("charge", {"amount": 19.99})]))
    result = _client(fake, ToolCallContract()).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "charge"}], tools=[tool]
    )
    report = get_report(result)
    assert report is not None and report.outcome == "passed", report and report.results


# -- safety ------------------------------------------------------------------------------


def test_a_catastrophic_pattern_runs_in_linear_time_on_the_compiled_engine() -> None:
    compiled = compile_schema({"type": "string", "pattern": "^(a+)+$"})
    assert compiled.compiled
    # A backtracking engine takes longer than the age of the universe on this.
    assert schema_errors(compiled, "a" * 100_000 + "!") != []
    assert schema_errors(compiled, "a" * 100_000) == []


def test_a_pattern_the_linear_engine_cannot_run_falls_back_to_jsonschema() -> None:
    compiled = compile_schema({"type": "string", "pattern": "(?<=x)y"})
    assert not compiled.compiled
    assert schema_errors(compiled, "xy") == []
    assert schema_errors(compiled, "zy") == ["$: 'zy' does not match '(?<=x)y'"]


def test_checked_formats_stay_on_jsonschema() -> None:
    compiled = compile_schema({"type": "string", "format": "ipv4"}, check_formats=True)
    assert not compiled.compiled
    assert schema_errors(compiled, "10.0.0.1") == []
    assert schema_errors(compiled, "10.0.0.300") != []


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits += 1
        body = b'{"type": "integer"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_remote_ref_is_never_fetched() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/int.json"
        compiled = compile_schema({"properties": {"n": {"$ref": url}}})
        assert not compiled.compiled
        # jsonschema used to download it from whatever host the schema named.
        with pytest.raises(ContractConfigError, match="remote references are never fetched"):
            schema_errors(compiled, {"n": 1})
        assert _Counting.hits == 0
    finally:
        server.shutdown()
        server.server_close()


def test_an_instance_the_compiled_engine_cannot_take_is_judged_by_jsonschema() -> None:
    compiled = compile_schema({"type": "integer", "maximum": 10})
    assert compiled.compiled
    assert schema_errors(compiled, 2**80) == [f"$: {2**80} is greater than the maximum of 10"]
    assert schema_errors(compiled, 2**80 - 2**80 + 3) == []
    nested: list[Any] = []
    cursor = nested
    for _ in range(2000):
        cursor.append([])
        cursor = cursor[0]
    assert schema_errors(compile_schema({"type": "array"}), nested) == []


def test_patterns_read_ecma_262_classes_on_the_compiled_engine() -> None:
    digits = compile_schema({"type": "string", "pattern": r"^\d+$"})
    space = compile_schema({"type": "string", "pattern": r"^a\sb$"})
    assert digits.compiled and space.compiled
    assert schema_errors(digits, "123") == []
    assert schema_errors(digits, "\u0661\u0662\u0663") != []  # Arabic-Indic digits are not \d
    assert schema_errors(space, "a\u00a0b") == []  # ECMA-262's \s includes the no-break space
    assert schema_errors(space, "a_b") != []
