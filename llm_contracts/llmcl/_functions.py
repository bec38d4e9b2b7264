"""The functions LLMCL expressions may call, their argument types and what they return.

Types: ``text``, ``number``, ``bool``, ``regex`` (a ``/.../`` literal), ``json`` (the
value of ``json(...)``, true as a condition when the text holds JSON) and ``any`` (a
``context.<name>`` value, known only when the contract runs).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signature:
    params: tuple[str, ...]
    returns: str
    doc: str
    # Type of further optional arguments (string literals naming kinds or categories).
    rest: str | None = None


FUNCTIONS: dict[str, Signature] = {
    "len": Signature(
        ("text",),
        "number",
        "characters of the text, whitespace at either end not counted "
        "(of input: the characters of all messages)",
    ),
    "tokens": Signature(
        ("text",),
        "number",
        "tokens of the text in the model's encoding (of input: the "
        "prompt as the API bills it, message overheads included)",
    ),
    "words": Signature(("text",), "number", "runs of non-space characters"),
    "json": Signature(
        ("text",),
        "json",
        "the JSON value in the text (whole, fenced or inside prose); as a condition: the text holds JSON",
    ),
    "matches": Signature(
        ("text", "pattern"),
        "bool",
        "the text contains a match of the regular expression "
        "(RE2; from the contract or context, never the call's text)",
    ),
    "contains": Signature(("text", "text"), "bool", "the text contains the string (case-sensitive)"),
    "mentions": Signature(
        ("text", "text"), "bool", "the text mentions the word or phrase (case-insensitive, whole words)"
    ),
    "pii": Signature(
        ("text",), "bool", 'the text holds personal data; optional kinds: "email", "phone", ...', rest="text"
    ),
    "injection": Signature(("text",), "bool", "the text tries a prompt injection"),
    "refusal": Signature(("text",), "bool", "the text is a refusal (\"I'm sorry, but I can't ...\")"),
    "policy": Signature(
        ("text",),
        "bool",
        'the text touches forbidden content; optional categories: "violence", "weapons", ...',
        rest="text",
    ),
    "lowercase": Signature(("text",), "text", "the text in lower case"),
    "similarity": Signature(
        ("text", "text"),
        "number",
        "how close the meanings of the two texts are (cosine of offline embeddings, -1 to 1)",
    ),
    "on_topic": Signature(
        ("text", "topics"), "bool", "the text is about one of the topics (a list of strings, or one string)"
    ),
    "judge": Signature(
        ("text",),
        "number",
        "the score from 0 to 1 a judge model gives the answer on the "
        "rubric; needs a judge client where the contract is loaded",
    ),
}

# Functions that embed text (the optional wordllama model) or call a model: never cached
# with the pure ones, and kept out of the server's direct paths.
SEMANTIC_FUNCTIONS = frozenset({"similarity", "on_topic", "judge"})

TYPE_WORDS = {
    "text": "text",
    "number": "a number",
    "bool": "a condition (true or false)",
    "regex": "a regular expression",
    "json": "a JSON value",
    "any": "a context value",
    "pattern": "a regular expression or a string",
    "list": "a list",
    "topics": "a list of strings or a string",
}

REGEX_FLAGS = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL", "x": "VERBOSE"}
