"""Personal data detection and redaction: emails, phones, cards, IBANs, national ids, IPs, secrets.

Shapes are checked, not just matched: card numbers must pass the Luhn check, start
like a real card and be written as cards are (one run of digits, or groups of four,
or Amex's 4-6-5), so a number before or after one ("Order 12 4111...") neither hides
it nor joins it; IBANs must pass the ISO 13616 mod-97 check (and have their country's
length), SSNs must not use areas the SSA never issues, phone numbers need 9+ digits
and separators (or a leading ``+``) so years, dates and amounts are left alone; IP
addresses must parse (loopback and unspecified ones are not personal); secrets are
the documented shapes of API keys and tokens (AWS, OpenAI, Anthropic, GitHub, Slack,
Stripe, Google, JWTs, PEM private keys), not any long random-looking string.

Every pattern is linear: character classes with bounded repetitions, no nested
quantifiers, and the checks that need more than a regex are done in Python.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .._exceptions import ContractConfigError
from ._base import Category, Contract, ValidationContext, ValidationResult, stream_window
from ._types import LLMRequest, LLMResponse

_TRAILING_NUMBER = re.compile(r"[+(]?\d[\d\s().-]*$")

__all__ = ["PII_KINDS", "PIIContract", "PIIFinding", "find_pii", "iban_valid", "luhn_valid", "redact"]

# Checked in this order; a later kind never claims text an earlier one found (a card
# number is not also a phone number).
PII_KINDS = ("secret", "iban", "credit_card", "us_ssn", "uk_nino", "email", "ip_address", "phone")
_LABELS = {
    "secret": "API key or token",
    "credit_card": "credit card number",
    "iban": "IBAN",
    "us_ssn": "US social security number",
    "uk_nino": "UK national insurance number",
    "email": "email address",
    "ip_address": "IP address",
    "phone": "phone number",
}


@dataclass(frozen=True, slots=True)
class PIIFinding:
    """One piece of personal data in a text: its kind and where it is."""

    kind: str
    start: int
    end: int

    @property
    def placeholder(self) -> str:
        return f"[{self.kind.upper()}]"


def luhn_valid(digits: str) -> bool:
    """Return True when the digit string passes the Luhn check."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# ISO 13616 IBAN lengths per country (SWIFT IBAN registry).
_IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}


def iban_valid(iban: str) -> bool:
    """Return True when ``iban`` (spaces allowed) has its country's length and passes mod-97."""
    compact = iban.replace(" ", "").upper()
    if not (
        15 <= len(compact) <= 34 and compact.isalnum() and compact[:2].isalpha() and compact[2:4].isdigit()
    ):
        return False
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


class _Patterns:
    """The detectors' regexes, compiled on first use so that importing the SDK stays cheap."""

    def __init__(self) -> None:
        # A run of digits, spaces and hyphens; which part of it is a card is decided in Python.
        self.card = re.compile(r"(?<![\w-])\d[\d -]{11,}")
        self.card_groups = re.compile(r"\d+")
        # Issuer prefixes: Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Discover 6011/64/65,
        # JCB 35, Diners 30/36/38, UnionPay 62. A Luhn-valid number with another prefix is noise.
        self.card_prefix = re.compile(r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[0478568]|6(?:011|[245])")
        self.iban = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
        self.ssn = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
        self.nino = re.compile(
            r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
            r" ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
        )
        self.email = re.compile(
            r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9]"
            r"(?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
        )
        self.phone = re.compile(
            r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}"
            r"(?:[ .-]\d{2,8}){1,5}(?![\w])|(?<![\w+])\+\d{8,15}\b"
        )
        self.year = re.compile(r"(?:19|20)\d\d")
        self.date = re.compile(r"(?:19|20)\d\d([-./])[01]?\d\1[0-3]?\d|[0-3]?\d([-./])[01]?\d\2(?:19|20)\d\d")
        self.digits = re.compile(r"\d+")
        # Secrets may hold no digit at all: their prefixes let a text in too.
        self.maybe_pii = re.compile(
            r"[\d@]|-----BEGIN|\b(?:gh[pousr]_|github_pat_|xox|sk-|[sr]k_|AIza|AKIA|ASIA|eyJ)"
        )
        # Not followed by "/16": a network range names no one's machine.
        self.ipv4 = re.compile(r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w/]|\.\d)")
        self.ipv6 = re.compile(
            r"(?<![\w:.])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]{1,38}"
            r"(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})?(?![\w:])"
        )
        # A number labelled as what it is: "part no. 322-10-6586", "order #555-123-4567".
        self.labelled_before = re.compile(
            r"\b(?:part|order|invoice|inv|ref|sku|isbn|ticket|batch|serial|model|item|case|po|tracking|parcel)"
            r"(?:\s*(?:no|nr|number|#))?\.?\s*[#:]?\s*$",
            re.IGNORECASE,
        )
        self.version_before = re.compile(r"(?:\b[vV]|\bversion|\brelease|\bbuild|\bver\.?)\s?$")
        self.secret = re.compile(
            r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"  # AWS access key ids
            # OpenAI, Anthropic
            r"|\bsk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-|ant-)?[A-Za-z0-9_-]{20,300}"
            r"|\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}"  # GitHub
            r"|\bxox[abposr]-[A-Za-z0-9-]{10,250}"  # Slack
            r"|\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,250}"  # Stripe
            r"|\bAIza[0-9A-Za-z_-]{35}(?![\w-])"  # Google API keys
            r"|\beyJ[A-Za-z0-9_-]{8,200}\.eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{8,600}"  # JWTs
            r"|-----BEGIN (?:[A-Z]{2,10} )?PRIVATE KEY-----"
        )


@functools.cache
def _rx() -> _Patterns:
    return _Patterns()


# How cards are written: one run of digits, groups of four, or Amex's and Diners' 4-6-5 / 4-6-4.
_CARD_LAYOUTS = frozenset({(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 4, 4, 1), (4, 6, 5), (4, 6, 4), (4, 4, 4, 2)})


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and bool(_rx().card_prefix.match(digits)) and luhn_valid(digits)


def _cards(text: str) -> Iterable[tuple[int, int]]:
    for run in _rx().card.finditer(text):
        groups = [(g.start(), g.end()) for g in _rx().card_groups.finditer(run.group())]
        lengths = [e - s for s, e in groups]
        base = run.start()
        whole = run.group().rstrip(" -")
        # A run of two to four long groups is judged as written ("41111111 1111 1111"); a short
        # group is another number ("Order 12 ...") or the tail of something else (an IBAN's).
        if (
            2 <= len(groups) <= 4
            and min(lengths) >= 4
            and 13 <= sum(lengths) <= 19
            and "  " not in whole
            and "--" not in whole
            and _is_card(re.sub(r"[ -]", "", whole))
        ):
            yield base, base + len(whole)
            continue
        i = 0
        # Walk the run's digit groups: a card is one group of 13-19 digits, or consecutive
        # groups in a card layout; numbers before or after it ("Order 12 ...") are skipped.
        while i < len(groups):
            found = 0
            if lengths[i] != 4 and not 13 <= lengths[i] <= 19:
                i += 1  # every layout starts with a group of four or is one long group
                continue
            for size in (5, 4, 3, 1):
                window = groups[i : i + size]
                if len(window) < size:
                    continue
                layout = tuple(lengths[i : i + size])
                if size == 1 and not 13 <= layout[0] <= 19:
                    continue
                if size > 1 and layout not in _CARD_LAYOUTS:
                    continue
                # Groups of a card are split by one space or one hyphen, never more.
                pairs = zip(window, window[1:], strict=False)
                if any(run.group()[a[1] : b[0]] not in (" ", "-") for a, b in pairs):
                    continue
                start, end = window[0][0], window[-1][1]
                if _is_card(re.sub(r"[ -]", "", run.group()[start:end])):
                    yield base + start, base + end
                    found = size
                    break
            i += found or 1


def _ibans(text: str) -> Iterable[tuple[int, int]]:
    for m in _rx().iban.finditer(text):
        raw = m.group()
        length = _IBAN_LENGTHS.get(raw[:2])
        if length is None:
            if iban_valid(raw):
                yield m.span()
            continue
        # The match may run into a following code or word: cut it at the country's length.
        seen = 0
        for pos, ch in enumerate(raw):
            seen += ch != " "
            if seen == length:
                cut = raw[: pos + 1]
                if (
                    m.start() + pos + 1 == len(text) or not text[m.start() + pos + 1].isalnum()
                ) and iban_valid(cut):
                    yield m.start(), m.start() + pos + 1
                break


def _ip_addresses(text: str) -> Iterable[tuple[int, int]]:
    if "." in text:
        for m in _rx().ipv4.finditer(text):
            try:
                address = ipaddress.IPv4Address(m.group())
            except ValueError:
                continue
            # "v1.2.3.4", "version 10.0.0.1": a version number, not an address.
            if _rx().version_before.search(text, max(0, m.start() - 10), m.start()):
                continue
            if not (address.is_loopback or address.is_unspecified):
                yield m.span()
    if "::" in text or text.count(":") >= 5:
        for m in _rx().ipv6.finditer(text):
            raw = m.group()
            groups = [g for g in raw.split(":") if g]
            # "dead::beef" is valid but is also a C++ scope or a word pair: want 3+ groups and a digit.
            if len(groups) < 3 or not any(ch.isdigit() for ch in raw):
                continue
            try:
                address6 = ipaddress.IPv6Address(raw)
            except ValueError:
                continue
            if not (address6.is_loopback or address6.is_unspecified):
                yield m.span()


_SECRET_MARKS = (
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "sk-",
    "gh",
    "github_pat_",
    "xox",
    "k_live_",
    "k_test_",
    "AIza",
    "eyJ",
    "-----BEGIN",
)


def _secrets(text: str) -> Iterable[tuple[int, int]]:
    # The alternation is slow to try at every position; most texts hold none of the prefixes.
    if not any(mark in text for mark in _SECRET_MARKS):
        return
    for m in _rx().secret.finditer(text):
        raw = m.group()
        # "sk-learn-is-a-fine-library" has the shape of a key but is words: keys are random,
        # and a random run of 20+ characters holds a digit and a letter (PEM headers aside).
        tail = raw[3:]
        if raw.startswith("-----") or (any(c.isdigit() for c in tail) and any(c.isalpha() for c in tail)):
            yield m.span()


def _ssns(text: str) -> Iterable[tuple[int, int]]:
    for m in _rx().ssn.finditer(text):
        area, group, serial = m.group(1), m.group(3), m.group(4)
        # The SSA never issues area 000, 666 or 900-999, group 00 or serial 0000.
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        if _rx().labelled_before.search(text, max(0, m.start() - 20), m.start()):
            continue
        yield m.span()


def _ninos(text: str) -> Iterable[tuple[int, int]]:
    return (m.span() for m in _rx().nino.finditer(text))


def _emails(text: str) -> Iterable[tuple[int, int]]:
    if "@" not in text:
        return ()
    return (m.span() for m in _rx().email.finditer(text))


def _phones(text: str) -> Iterable[tuple[int, int]]:
    for m in _rx().phone.finditer(text):
        raw = m.group()
        if _rx().labelled_before.search(text, max(0, m.start() - 20), m.start()):
            continue
        groups = _rx().digits.findall(raw)
        digits = sum(len(g) for g in groups)
        if raw.startswith("+"):
            if not 8 <= digits <= 15:
                continue
        elif not 9 <= digits <= 12:
            continue
        elif _rx().date.search(raw):
            continue  # a date, perhaps with a time: "2024-01-15 10:30"
        elif [len(g) for g in groups] == [3, 2, 4] and "(" not in raw:
            continue  # the shape of a US SSN, not of a phone number (an invalid SSN stays unflagged)
        elif [len(g) for g in groups] == [5, 4] and "-" in raw:
            continue  # a US ZIP+4 code: "94103-1234"
        elif all(len(g) == 4 and _rx().year.fullmatch(g) for g in groups):
            continue  # a run of years: "1999 2000 2001"
        elif len(groups) >= 3 and all(len(g) == 3 for g in groups[1:]) and "(" not in raw:
            continue  # thousands separators or an IP address: "100 000 000", "192.168.100.200"
        yield m.span()


_DETECTORS: dict[str, Callable[[str], Iterable[tuple[int, int]]]] = {
    "secret": _secrets,
    "iban": _ibans,
    "credit_card": _cards,
    "us_ssn": _ssns,
    "uk_nino": _ninos,
    "email": _emails,
    "ip_address": _ip_addresses,
    "phone": _phones,
}


def _kinds(kinds: Iterable[str] | None, param: str = "kinds") -> tuple[str, ...]:
    if kinds is None:
        return PII_KINDS
    if isinstance(kinds, str):
        kinds = [kinds]
    wanted = set(kinds)
    unknown = wanted - set(PII_KINDS)
    if unknown or not wanted:
        raise ContractConfigError(
            f"{param} must be a non-empty subset of {', '.join(PII_KINDS)}; got {sorted(wanted)!r}"
        )
    return tuple(k for k in PII_KINDS if k in wanted)


@functools.lru_cache(maxsize=2048)
def _find(text: str, kinds: tuple[str, ...]) -> tuple[PIIFinding, ...]:
    # Cached: a conversation resends the same history on every call.
    if not _rx().maybe_pii.search(text):
        return ()
    # The spans taken so far, disjoint and sorted: a bisection finds the neighbours a new
    # span could overlap, so a text with thousands of findings stays linear.
    starts: list[int] = []
    ends: list[int] = []
    found: list[PIIFinding] = []
    for kind in kinds:
        for start, end in _DETECTORS[kind](text):
            pos = bisect.bisect_right(starts, start)
            if (pos and ends[pos - 1] > start) or (pos < len(starts) and starts[pos] < end):
                continue
            starts.insert(pos, start)
            ends.insert(pos, end)
            found.append(PIIFinding(kind, start, end))
    found.sort(key=lambda f: f.start)
    return tuple(found)


def find_pii(text: str, kinds: Iterable[str] | None = None) -> list[PIIFinding]:
    """Return the personal data found in ``text``, in order."""
    return list(_find(text, _kinds(kinds)))


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """Return ``text`` with each piece of personal data replaced by a placeholder such as ``[EMAIL]``."""
    findings = _find(text, _kinds(kinds))
    if not findings:
        return text
    out: list[str] = []
    pos = 0
    for f in findings:
        out += [text[pos : f.start], f.placeholder]
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


class PIIContract(Contract):
    """Keep personal data out of prompts (or out of answers).

    On input it checks every message (the data would reach the provider whoever
    wrote it); with ``redact=True`` (or ``auto_fix=True``) it sends the request with
    each finding replaced by a placeholder (``[EMAIL]``, ``[CREDIT_CARD]`` ...) instead.
    Constructed with ``category="output"`` it checks answers, streamed ones as they
    arrive. Details count findings per kind and never hold the data itself.

    Parameters:
        kinds: what to look for, a subset of ``PII_KINDS`` (default: all).
        redact: repair requests by redacting them.
        roles: on input, the message roles to check (default: all).

    Example::

        PIIContract(kinds=["email", "credit_card"], redact=True)
    """

    default_category = Category.INPUT
    supports_streaming = True

    def __init__(
        self,
        kinds: Iterable[str] | None = None,
        redact: bool = False,
        *,
        roles: Iterable[str] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.kinds = _kinds(kinds)
        if isinstance(roles, str):
            raise ContractConfigError(f"roles must be a list of role names, not a string; got {roles!r}")
        if redact:
            kwargs["auto_fix"] = True
        super().__init__(name, **kwargs)
        self.roles = frozenset(roles) if roles is not None else None

    def _redact(self, text: str) -> str:
        return redact(text, self.kinds)

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        return self._judge(value, _find)

    def _judge(
        self, value: Any, find: Callable[[str, tuple[str, ...]], tuple[PIIFinding, ...]]
    ) -> ValidationResult:
        counts: dict[str, int] = {}
        where: list[int] = []
        if isinstance(value, LLMRequest):
            texts = [m.content for m in value.messages if self.roles is None or m.role in self.roles]
            subject = "the request"
        else:
            texts = [value.text if isinstance(value, LLMResponse) else str(value or "")]
            subject = "the answer"
        for i, text in enumerate(texts):
            findings = find(text, self.kinds)
            if findings:
                where.append(i)
            for f in findings:
                counts[f.kind] = counts.get(f.kind, 0) + 1
        if not counts:
            return self.ok(kinds={}, count=0)
        listed = ", ".join(f"{n} {_LABELS[k]}{'s' if n > 1 else ''}" for k, n in counts.items())
        fixed: Any = None
        if isinstance(value, LLMRequest):
            if self.auto_fix:
                fixed = self._redacted_request(value)
        elif isinstance(value, LLMResponse):
            fixed = self._redact(value.text)
        return self.fail(
            f"{subject} contains personal data: {listed}.",
            suggestion="Leave personal data out; refer to it generically or with placeholders such as "
            + ", ".join(f"[{k.upper()}]" for k in counts)
            + ".",
            fixed_value=fixed,
            kinds=counts,
            count=sum(counts.values()),
            texts=where,
        )

    def _redacted_request(self, request: LLMRequest) -> LLMRequest:
        return request.edited(rewrite=self._redact, roles=self.roles)

    def validate_partial(self, text: str, context: ValidationContext | None = None) -> ValidationResult:
        # Uncached: every prefix of a stream is new, and would only evict resent prompts.
        window = text[stream_window(text, context) :]
        # A number still growing at the end of the stream ("4111 1111 1111") is judged
        # once it is complete: as a prefix it would be misread (a phone number, say).
        # The final check sees the whole answer, so nothing escapes that way.
        window = _TRAILING_NUMBER.sub("", window)
        return self._judge(LLMResponse(text=window), _find.__wrapped__)
