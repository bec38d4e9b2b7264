"""The passing fast paths of PromptLengthContract, JSONFormatContract and RegexContract.

Each contract decides the common passing case in a shortcut and hands everything else to
its full path. These tests compare each shortcut's verdicts with the full path's (or with
the public building blocks the full path is made of) on many inputs: ASCII and not, lone
surrogates, tool-call turns, JSON with prose around it, answers over the detail limit.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from typing import Any

import pytest

from llm_contracts import JSONFormatContract, PromptLengthContract, RegexContract
from llm_contracts._regex import compile_pattern
from llm_contracts.contracts import LLMRequest, LLMResponse, Message, ValidationContext
from llm_contracts.contracts._base import stream_window
from llm_contracts.contracts._json import (
    _DECODER,
    PARSED_DETAIL_LIMIT,
    _strict_loads,
    compile_schema,
    extract_json,
    schema_errors,
)
from llm_contracts.contracts._output import answer_text
from llm_contracts.contracts._tokens import count_message_tokens, message_parts, message_token_bound
from llm_contracts.contracts._types import ToolCall

# -- PromptLengthContract ----------------------------------------------------------------------

_TEXTS = [
    "",
    "hi",
    "Summarize the report in three bullet points.",
    "é" * 40,
    "naïve café " * 30,
    "日本語のテキスト" * 25,
    "emoji 🙂🚀 " * 20,
    "lone \ud800 surrogate",
    "x" * 1500,
    "word " * 700,
]


def _messages(rng: random.Random) -> list[Message]:
    out = []
    for _ in range(rng.randint(0, 4)):
        role = rng.choice(["system", "user", "assistant", "tool", "usér"])
        name = rng.choice([None, None, "", "bob", "zoë"])
        out.append(Message(role, rng.choice(_TEXTS), name))
    return out


def _without_chars(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k not in ("chars", "max_chars")}


def test_prompt_length_shortcut_matches_the_full_path() -> None:
    # With max_chars set (far above any prompt here) the contract takes its full path; the
    # token part of its verdict must be the shortcut's, key order included.
    rng = random.Random(7)
    cases = 0
    for _ in range(400):
        messages = _messages(rng)
        request = LLMRequest("gpt-4o-mini", messages)
        bound = message_token_bound(message_parts(messages))
        for limit in {max(1, bound - 1), max(1, bound), bound + 1, 50, 4000}:
            fast = PromptLengthContract(max_tokens=limit).validate(request)
            full = PromptLengthContract(max_tokens=limit, max_chars=10**9).validate(request)
            assert fast.is_valid == full.is_valid
            assert fast.message == full.message
            assert list(fast.details.items()) == list(_without_chars(full.details).items())
            cases += 1
    assert cases > 1000


def test_prompt_length_shortcut_uses_the_byte_bound_exactly() -> None:
    messages = [Message("system", "é" * 10), Message("user", "abc", "zoë")]
    request = LLMRequest("gpt-4o-mini", messages)
    # 3 priming + 2 * 3 per message + (20 + 6) + (3 + 4) + (4 + 1 for the name) = 47
    bound = message_token_bound(message_parts(messages))
    assert bound == 47
    at = PromptLengthContract(max_tokens=47).validate(request)
    assert at.is_valid
    assert at.details == {
        "limit": 47,
        "tokens": None,
        "tokens_at_most": 47,
        "counted": False,
        "exact": False,
        "method": "byte-bound",
        "encoding": None,
        "reason": "the prompt's UTF-8 length is within the limit; a token is >= 1 byte",
    }
    below = PromptLengthContract(max_tokens=46).validate(request)
    assert below.details["counted"] is True
    assert below.details["tokens"] == count_message_tokens(messages, "gpt-4o-mini").tokens


def test_prompt_length_shortcut_leaves_other_requests_to_the_full_path() -> None:
    # Mapping messages, a single-text prompt and a character limit are not the shortcut's.
    mapped = LLMRequest("gpt-4o-mini", [{"role": "user", "content": "hello"}])  # type: ignore[list-item]
    result = PromptLengthContract(max_tokens=100).validate(mapped)
    assert result.is_valid and result.details["tokens_at_most"] == 3 + 3 + 5 + 4
    single = LLMRequest("gpt-3.5-turbo-instruct", [Message("user", "héllo")], chat=False)
    result = PromptLengthContract(max_tokens=100).validate(single)
    assert result.is_valid and result.details["tokens_at_most"] == 6
    empty = PromptLengthContract(max_tokens=2).validate(LLMRequest("gpt-4o-mini", []))
    assert not empty.is_valid and empty.details["tokens"] == 3  # the reply priming alone
    with pytest.raises(TypeError):
        PromptLengthContract(max_tokens=100).validate("not a request")


# -- JSONFormatContract -----------------------------------------------------------------------

TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 60},
        "priority": {"enum": ["low", "medium", "high"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "estimate_hours": {"type": "integer", "minimum": 0},
    },
    "required": ["title", "priority", "tags", "estimate_hours"],
}

_TICKET = {"title": "Login times out", "priority": "high", "tags": ["auth"], "estimate_hours": 6}
_TICKET_JSON = json.dumps(_TICKET)

_ANSWERS = [
    _TICKET_JSON,
    "  \n" + _TICKET_JSON + "\n\t ",
    "\u00a0\u2003" + _TICKET_JSON + "\u3000",
    json.dumps(_TICKET, indent=2),
    json.dumps({**_TICKET, "title": "Connexion expirée — 日本語 🙂"}, ensure_ascii=False),
    json.dumps({**_TICKET, "title": "Connexion expirée"}),
    json.dumps({**_TICKET, "title": "x" * 600}),
    json.dumps({**_TICKET, "tags": ["t" * 30] * 20}),
    json.dumps({**_TICKET, "estimate_hours": "six"}),
    json.dumps({**_TICKET, "estimate_hours": -1}),
    json.dumps({**_TICKET, "estimate_hours": 10**40}),
    json.dumps({**_TICKET, "estimate_hours": 6.0}),
    json.dumps({**_TICKET, "priority": "urgent"}),
    json.dumps({k: v for k, v in _TICKET.items() if k != "tags"}),
    _TICKET_JSON[:-1] + ', "extra": 1e400}',
    _TICKET_JSON[:-1] + ', "extra": NaN}',
    _TICKET_JSON[:-1] + ', "extra": Infinity}',
    _TICKET_JSON[:-1] + ', "title": "dup"}',
    _TICKET_JSON[:-1] + ', "note": "lone \\ud800 surrogate"}',
    _TICKET_JSON[:-1] + ', "note": "raw \ud800 surrogate"}',
    _TICKET_JSON[:-1] + ', "note": "tab\there"}',
    "Here is the ticket: " + _TICKET_JSON,
    _TICKET_JSON + " Hope this helps!",
    "```json\n" + _TICKET_JSON + "\n```",
    "Sure:\n```\n" + _TICKET_JSON + "\n```\nDone.",
    _TICKET_JSON + " " + _TICKET_JSON,
    _TICKET_JSON + "}",
    "[" + _TICKET_JSON + "]",
    "[1, 2, 3]",
    '"just a string"',
    "42",
    "null",
    "true",
    "",
    "   ",
    "no JSON at all",
    '{"title": "cut off',
    "{'title': 'single quotes'}",
    "\ufeff" + _TICKET_JSON,
    "[" * 50 + "]" * 50,
]


def _responses() -> list[LLMResponse]:
    out = []
    call = ToolCall("lookup", '{"id": 1}', "call_1")
    for text in _ANSWERS:
        out.append(LLMResponse(text=text, finish_reason="stop"))
        out.append(LLMResponse(text=text, tool_calls=[call], finish_reason="tool_calls"))
    out.append(LLMResponse(text="", tool_calls=[call]))
    out.append(LLMResponse(text=" \n", tool_calls=[call]))
    return out


def _json_reference(schema: dict[str, Any] | None, response: LLMResponse) -> tuple[bool, dict[str, Any]]:
    """Return the passing verdict's details as the full path builds them; (False, {}) for a failure."""
    text = answer_text(response)
    if text is None:
        return True, {"skipped": "tool_calls"}
    try:
        parsed, where = extract_json(text, prefer="{" if schema is not None else "")
    except ValueError:
        return False, {}
    if schema is not None and schema_errors(compile_schema(schema), parsed):
        return False, {}
    return True, (
        {"found_in": where, "parsed": parsed} if len(text) <= PARSED_DETAIL_LIMIT else {"found_in": where}
    )


@pytest.mark.parametrize("loader", ["pydantic-core", "standard"])
@pytest.mark.parametrize("schema", [TICKET_SCHEMA, None], ids=["schema", "any-json"])
def test_json_shortcut_matches_the_full_path(schema: dict[str, Any] | None, loader: str) -> None:
    contract = JSONFormatContract(schema)
    if loader == "standard":
        contract._loads = None  # the shortcut on the standard decoder (no pydantic-core parser)
    else:
        assert contract._loads is not None
    # check_formats keeps the verdict on jsonschema alone: no compiled shortcut to take.
    uncompiled = JSONFormatContract(schema, check_formats=True)
    for response in _responses():
        result = contract.validate(response)
        valid, details = _json_reference(schema, response)
        assert result.is_valid == valid, response.text
        other = uncompiled.validate(response)
        assert (other.is_valid, other.message, other.details) == (
            result.is_valid,
            result.message,
            result.details,
        )
        if valid:
            assert result.message == ""
            assert list(result.details.items()) == list(details.items())
            assert result.severity == contract.severity and result.contract_name == contract.name
        else:
            # The failure is the full path's: the same words parse() raises.
            with pytest.raises(ValueError) as raised:
                contract.parse(response.text)
            assert result.message == str(raised.value)


def _json_texts(rng: random.Random, count: int) -> list[str]:
    """Return JSON texts, valid and slightly broken, rich in escapes, numbers and non-ASCII."""
    alphabet = [
        "a",
        '"',
        "\\",
        "/",
        "\n",
        "\t",
        "\x00",
        "\x7f",
        "é",
        "日",
        "🙂",
        "\ud800",
        "\u2028",
        " ",
        "{",
        "]",
        ",",
        ":",
        "1",
        "e",
        ".",
        "-",
    ]

    def string() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    def number() -> Any:
        k = rng.random()
        if k < 0.4:
            return rng.randint(-(10 ** rng.randint(0, 30)), 10 ** rng.randint(0, 30))
        if k < 0.8:
            return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-320, 300)
        return rng.choice([0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1e23, 9007199254740993])

    def value(depth: int = 0) -> Any:
        k = rng.random()
        if depth > 3 or k < 0.35:
            return rng.choice([number, string, lambda: rng.choice([True, False, None])])()
        if k < 0.7:
            return {string(): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    def number_text() -> str:
        out = rng.choice(["", "-"]) + rng.choice(["0", str(rng.randint(1, 10**20))])
        if rng.random() < 0.6:
            out += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        if rng.random() < 0.5:
            out += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 400))
        return out

    texts = []
    while len(texts) < count:
        if rng.random() < 0.25:
            texts.append(number_text())
            continue
        text = json.dumps(value(), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2]))
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(["", *alphabet]) + text[at + rng.randint(0, 1) :]
        texts.append(text)
    return texts


def test_the_pydantic_core_parser_only_takes_what_the_standard_decoder_takes() -> None:
    # Where the faster parser accepts a text, the standard decoder accepts it whole and
    # returns the same value (types and key order included); the rest goes to the full path.
    loads = _strict_loads()
    assert loads is not None
    taken = 0
    for text in _json_texts(random.Random(11), 6000):
        text = text.strip()
        try:
            fast = loads(text, allow_inf_nan=False)
        except Exception:
            continue
        taken += 1
        assert repr(fast) == repr(_DECODER.decode(text)), text
    assert taken > 2000
    for refused in ("NaN", "[Infinity]", '"\\ud800"', "[1,]", '"tab\there"'):
        with pytest.raises(ValueError):
            loads(refused, allow_inf_nan=False)


def test_json_shortcut_keeps_the_failure_notes_of_a_response() -> None:
    contract = JSONFormatContract(TICKET_SCHEMA)
    cut = contract.validate(LLMResponse(text='{"title": "Login', finish_reason="length"))
    assert not cut.is_valid and cut.message.endswith("(the answer was cut off: finish_reason=length)")
    refused = contract.validate(LLMResponse(text="", refusal="I can't help with that."))
    assert refused.message.startswith("the model refused instead of answering with JSON")


def test_json_shortcut_on_plain_text_values() -> None:
    contract = JSONFormatContract(TICKET_SCHEMA)
    assert contract.validate(_TICKET_JSON).details == {"found_in": "whole", "parsed": _TICKET}
    assert contract.validate("Ticket: " + _TICKET_JSON).details["found_in"] == "prose"
    assert not contract.validate(None).is_valid


# -- RegexContract ----------------------------------------------------------------------------

_PATTERNS: list[tuple[str, int]] = [
    (r'"priority":\s*"(?:low|medium|high)"', 0),
    (r"\bTICKET-(\d+)\b", 0),
    (r"^Done\.$", re.MULTILINE),
    (r"^Done", 0),
    (r"helps!\Z", 0),
    (r"(?i)hope THIS", 0),
    (r"expirée", 0),
    (r"[^\x00-\x7f]+", 0),
    (r"x*", 0),
    (r"a{3}", 0),
    (r"(\w+) \1", 0),  # a backreference: the fallback engine
    (r"(?<=: )\{", 0),  # a lookbehind: the fallback engine
]

_TEXTS_RX = [*_ANSWERS, "TICKET-12 opened", "Done.", "Line\nDone.\nmore", "aaa", "the the", "ünïcödé 🙂 aaa"]


def test_pattern_contains_is_search_without_the_match() -> None:
    for (pattern, flags), text in itertools.product(_PATTERNS, _TEXTS_RX):
        compiled = compile_pattern(pattern, flags, fallback=True)
        assert compiled.contains(text) == (compiled.search(text) is not None), (pattern, text)
        for pos in {1, 3, len(text) // 2, len(text) - 1, len(text)}:
            assert compiled.contains(text, pos) == (compiled.search(text, pos) is not None), (
                pattern,
                text,
                pos,
            )


@pytest.mark.parametrize("pattern", [r"(?i)\b(?:password|api[_ ]key)\s*[:=]", r"secret\b", r"é+", r"(\w)\1"])
def test_regex_streaming_shortcut_matches_the_full_path(pattern: str) -> None:
    contract = RegexContract(pattern, must_match=False)
    compiled = compile_pattern(pattern, fallback=True)
    rng = random.Random(5)
    words = ["the", "password:", "secret", "secretary", "é", "éé", "日本", "api_key=", "ok", "\n", "🙂"]
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 120)))
        checked = rng.choice([0, len(text) // 2, max(0, len(text) - 10), len(text)])
        context = ValidationContext(metadata={"stream_checked": checked})
        result = contract.validate_partial(text, context)
        found = compiled.search(text, stream_window(text, context))
        if found is None:
            assert (result.is_valid, result.details) == (True, {})
        else:
            open_ended = found.end() >= len(text) and (
                text[found.end() - 1].isalnum() or text[found.end() - 1] == "_"
            )
            assert result.is_valid == open_ended, (text, checked)
            if not result.is_valid:
                assert result.details == {"span": list(found.span())}


@pytest.mark.parametrize("must_match", [True, False])
def test_regex_shortcut_matches_the_full_path(must_match: bool) -> None:
    for (pattern, flags), text in itertools.product(_PATTERNS, _TEXTS_RX):
        contract = RegexContract(pattern, flags=flags, must_match=must_match)
        compiled = compile_pattern(pattern, flags, fallback=True)
        for response in (LLMResponse(text=text), LLMResponse(text=text, tool_calls=[ToolCall("f", "{}")])):
            result = contract.validate(response)
            if response.tool_calls and not text.strip():
                assert result.is_valid and result.details == {"skipped": "tool_calls"}
                continue
            found = compiled.search(text)
            assert result.is_valid == ((found is not None) == must_match), (pattern, text)
            if result.is_valid:
                assert (result.message, result.details) == ("", {})
            elif must_match:
                assert result.message == f"the answer does not match the pattern /{pattern}/"
            else:
                assert found is not None and result.details == {"span": list(found.span())}
            if compiled.engine == "re2" and text.isascii():
                # RE2 and Python agree on these patterns over ASCII text.
                assert (re.search(pattern, text, flags) is not None) == (found is not None)


def test_regex_fullmatch_and_plain_values_take_the_full_path() -> None:
    whole = RegexContract(r"\{.*\}", fullmatch=True, flags=re.DOTALL)
    assert whole.validate(LLMResponse(text="  " + _TICKET_JSON + "\n")).is_valid
    assert not whole.validate(LLMResponse(text="Ticket: " + _TICKET_JSON)).is_valid
    contract = RegexContract(r"TICKET-\d+")
    assert contract.validate("see TICKET-4").is_valid
    assert not contract.validate(None).is_valid


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        (
            "",
            {},
            "the answer's JSON does not parse: Expecting value: line 1 column 1 (char 0) (in the answer)",
        ),
        (
            "   ",
            {},
            "the answer's JSON does not parse: Expecting value: line 1 column 1 (char 0) (in the answer)",
        ),
        ("no JSON at all", {}, "the answer contains no JSON"),
        ("no JSON", {"extract": False}, "the answer is not JSON"),
        (
            "[1, 2",
            {},
            "the answer's JSON does not parse: Expecting ',' delimiter: line 1 column 6 (char 5)"
            " (in the answer)",
        ),
        ('x {"a": NaN}', {}, "the answer's JSON does not parse: NaN is not valid JSON (in the prose)"),
        ("  42 ", {}, (42, "whole")),
        ("true", {}, (True, "whole")),
        ("-1.5e3", {}, (-1500.0, "whole")),
        ("null", {}, (None, "whole")),
        ('Sure: {"a": 1}', {}, ({"a": 1}, "prose")),
        ('{"a": 1} {"b": 2}', {}, ({"a": 1}, "prose")),
    ],
)
def test_extract_json_skips_only_whole_answers_that_cannot_be_json(
    text: str, options: dict[str, Any], expected: Any
) -> None:
    # A whole answer that starts like no JSON value is not decoded; the words stay the same.
    if isinstance(expected, str):
        with pytest.raises(ValueError) as raised:
            extract_json(text, **options)
        assert str(raised.value) == expected
    else:
        assert extract_json(text, **options) == expected


def test_regex_violations_keep_their_words() -> None:
    missing = RegexContract(r"TICKET-\d+").validate(LLMResponse(text="no ticket here"))
    assert (missing.message, missing.auto_fix_suggestion, missing.details) == (
        r"the answer does not match the pattern /TICKET-\d+/",
        r"Make the answer match the regular expression /TICKET-\d+/.",
        {},
    )
    custom = RegexContract(r"TICKET-\d+", message="Name the ticket.").validate(LLMResponse(text="none"))
    assert custom.message == "Name the ticket."
    forbidden = RegexContract(r"secret", must_match=False).validate(LLMResponse(text="a secret word"))
    assert forbidden.message == "the answer contains forbidden text 'secret' (pattern /secret/)"
    assert forbidden.details == {"span": [2, 8]}
    # must_match set to a plain int after construction still reads as a truth value.
    flipped = RegexContract(r"secret")
    flipped.must_match = 0  # type: ignore[assignment]
    assert flipped.validate(LLMResponse(text="nothing to hide")).is_valid
    assert not flipped.validate(LLMResponse(text="a secret")).is_valid


def test_a_response_whose_text_is_not_a_str_is_judged_as_answer_text_decides() -> None:
    # Providers always give a str; a None from a hand-made response is what answer_text says.
    response = LLMResponse(text=None)  # type: ignore[arg-type]
    assert answer_text(response) is None
    for contract in (JSONFormatContract(TICKET_SCHEMA), RegexContract(r"TICKET-\d+")):
        result = contract.validate(response)
        assert (result.is_valid, result.details) == (True, {"skipped": "tool_calls"})
