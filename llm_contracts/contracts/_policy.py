"""A content policy: categories of terms and patterns that must not appear, matched fast.

Each policy compiles every term and pattern of every category into one regex, so a
text is scanned once whatever the number of categories.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .._exceptions import ContractConfigError
from ._base import Category, Contract, ValidationContext, ValidationResult, stream_window
from ._types import LLMRequest, LLMResponse

__all__ = ["DEFAULT_POLICY", "ContentPolicyContract"]

# Phrases rather than single words: "kill" alone would flag "kill the process". These
# lists are a starting point; real deployments extend them with ``terms`` and ``patterns``.
DEFAULT_POLICY: dict[str, tuple[str, ...]] = {
    "violence": (
        "i will kill you",
        "i'm going to kill you",
        "i am going to kill you",
        "going to hurt you",
        "how to kill someone",
        "how to murder",
        "school shooting",
        "mass shooting",
        "beat them to death",
        "torture someone",
    ),
    "self_harm": (
        "kill myself",
        "killing myself",
        "end my life",
        "want to die",
        "how to commit suicide",
        "ways to commit suicide",
        "suicide method",
        "suicide methods",
        "self-harm",
        "cut myself",
    ),
    "hate": (
        "subhuman",
        "master race",
        "white power",
        "ethnic cleansing",
        "racial inferiority",
        "go back to your country",
    ),
    "sexual": (
        "sexually explicit",
        "explicit sex",
        "pornography",
        "porn",
        "nude photos",
        "nudes",
        "erotic roleplay",
    ),
    "illegal_drugs": (
        "how to make meth",
        "cook meth",
        "synthesize methamphetamine",
        "make crack cocaine",
        "buy cocaine",
        "buy heroin",
        "buy fentanyl",
        "synthesize fentanyl",
    ),
    "weapons": (
        "build a bomb",
        "make a bomb",
        "pipe bomb",
        "make explosives",
        "homemade explosive",
        "ghost gun",
        "untraceable gun",
        "convert to full auto",
        "make napalm",
        "nerve agent",
    ),
}
_MAX_LISTED = 10


def _term_regex(term: str) -> str:
    # Whole words, any run of whitespace between them, no partial-word hits ("porn" not in "sporn").
    body = r"\s+".join(re.escape(word) for word in term.split())
    return rf"(?<!\w){body}(?!\w)"


def _as_terms(value: Any, param: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ContractConfigError(f"{param} must be a list of strings; got {value!r}")
    terms = list(value)
    if not all(isinstance(t, str) and t.strip() for t in terms):
        raise ContractConfigError(f"{param} must hold non-empty strings; got {terms!r}")
    return terms


class ContentPolicyContract(Contract):
    """Reject prompts (or answers) that touch forbidden categories of content.

    Matching is case-insensitive and on whole words. On input, the messages of
    ``roles`` are checked (user messages and tool results by default); constructed
    with ``category="output"`` it checks answers, streamed ones as they arrive.

    Parameters:
        categories: None for every built-in category of ``DEFAULT_POLICY``; a list of
            built-in names for some of them; or a mapping ``{name: [terms]}`` (a
            built-in name mapped to None keeps its built-in terms).
        terms: more terms, counted under the ``"custom"`` category.
        patterns: more regexes, a list (``"custom"``) or ``{category: [regex, ...]}``.
        roles: on input, the message roles to check.

    Example::

        ContentPolicyContract(categories=["violence", "weapons"], terms=["competitor inc"],
                              category="output")
    """

    default_category = Category.INPUT
    supports_streaming = True

    def __init__(
        self,
        categories: Iterable[str] | Mapping[str, Iterable[str] | None] | None = None,
        terms: Iterable[str] | None = None,
        patterns: Iterable[str] | Mapping[str, Iterable[str]] | None = None,
        *,
        roles: Iterable[str] = ("user", "tool"),
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        policy: dict[str, list[str]] = {}
        if categories is None:
            policy = {k: list(v) for k, v in DEFAULT_POLICY.items()}
        elif isinstance(categories, Mapping):
            for cat, cat_terms in categories.items():
                if cat_terms is None:
                    if cat not in DEFAULT_POLICY:
                        raise ContractConfigError(
                            f"categories[{cat!r}] is None but {cat!r} is not a "
                            f"built-in category ({', '.join(DEFAULT_POLICY)})"
                        )
                    policy[cat] = list(DEFAULT_POLICY[cat])
                else:
                    policy[cat] = _as_terms(cat_terms, f"categories[{cat!r}]")
        elif isinstance(categories, str):
            raise ContractConfigError(f"categories must be a list of names, not a string; got {categories!r}")
        else:
            for cat in categories:
                if cat not in DEFAULT_POLICY:
                    raise ContractConfigError(
                        f"categories: unknown category {cat!r}; the built-in ones are "
                        f"{', '.join(DEFAULT_POLICY)}"
                    )
                policy[cat] = list(DEFAULT_POLICY[cat])
        if terms is not None:
            policy.setdefault("custom", []).extend(_as_terms(terms, "terms"))
        regexes: dict[str, list[str]] = {}
        if patterns is not None:
            items = (
                patterns.items()
                if isinstance(patterns, Mapping)
                else [("custom", _as_terms(patterns, "patterns"))]
            )
            for cat, cat_patterns in items:
                for p in _as_terms(cat_patterns, f"patterns[{cat!r}]"):
                    try:
                        re.compile(p)
                    except re.error as exc:
                        raise ContractConfigError(
                            f"patterns[{cat!r}]: {p!r} is not a valid regex: {exc}"
                        ) from None
                    regexes.setdefault(cat, []).append(p)
        if not any(policy.values()) and not regexes:
            raise ContractConfigError("ContentPolicyContract needs at least one category, term or pattern")
        if isinstance(roles, str):
            raise ContractConfigError(f"roles must be a list of role names, not a string; got {roles!r}")
        super().__init__(name, **kwargs)
        self.policy = policy
        self.patterns = regexes
        self.roles = frozenset(roles)
        self._groups: dict[str, str] = {}
        alternatives = []
        for i, cat in enumerate(sorted(set(policy) | set(regexes))):
            # Longest terms first, so "kill myself" wins over a shorter overlapping term.
            parts = [_term_regex(t) for t in sorted(set(policy.get(cat, ())), key=len, reverse=True)]
            parts += [f"(?:{p})" for p in regexes.get(cat, ())]
            if parts:
                self._groups[f"c{i}"] = cat
                alternatives.append(f"(?P<c{i}>{'|'.join(parts)})")
        try:
            self._regex = re.compile("|".join(alternatives), re.IGNORECASE)
        except re.error as exc:  # patterns that are valid alone can clash: a group name used twice
            raise ContractConfigError(f"patterns do not combine into one regex: {exc}") from None

    def find(self, text: str) -> dict[str, list[str]]:
        """Return the matched terms of ``text`` per category (lower-cased, each once)."""
        found: dict[str, list[str]] = {}
        for m in self._regex.finditer(text):
            cat = self._groups[m.lastgroup or ""]
            term = " ".join(m.group().lower().split())
            bucket = found.setdefault(cat, [])
            if term not in bucket:
                bucket.append(term)
        return found

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        if isinstance(value, LLMRequest):
            texts = [m.content for m in value.messages if m.role in self.roles]
            subject = "the request"
        else:
            texts = [value.text if isinstance(value, LLMResponse) else str(value or "")]
            subject = "the answer"
        found: dict[str, list[str]] = {}
        for text in texts:
            for cat, hits in self.find(text).items():
                bucket = found.setdefault(cat, [])
                bucket.extend(h for h in hits if h not in bucket)
        if not found:
            return self.ok(categories=[])
        cats = sorted(found)
        return self.fail(
            f"{subject} touches content the policy forbids: {', '.join(c.replace('_', ' ') for c in cats)}.",
            suggestion="Rewrite without that content; decline politely if the request needs it.",
            categories=cats,
            matches={c: found[c][:_MAX_LISTED] for c in cats},
        )

    def validate_partial(self, text: str, context: ValidationContext | None = None) -> ValidationResult:
        return self.validate(LLMResponse(text=text[stream_window(text, context) :]), context)
