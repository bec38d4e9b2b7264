"""The ids the SDK makes for events, calls, traces, sessions and SDK instances."""

from __future__ import annotations

import uuid

__all__ = ["lettered", "new_id"]

_LETTERS = "abcdefabcd"  # a digit's letter: 0 -> a ... 5 -> a, 9 -> d


def new_id() -> str:
    """Return a random 32-character lower-case hex id (a uuid4's) that starts with a letter.

    The control plane stores an id as sent unless its PII redactor finds personal data in
    it, and then stores a hash of it instead. A plain uuid4 hex that happens to start with
    a Luhn-valid run of 13 to 19 digits reads as a card number (about one id in 9,000):
    its events could not be found by the id the SDK reported. In an id that starts with a
    letter every run of digits follows a letter, which the redactor never reads as
    personal data, so every id the SDK makes is stored as it was sent.
    """
    return lettered(uuid.uuid4().hex)


def lettered(value: str) -> str:
    """Return a lower-case hex id with its first character made a letter (if it was a digit)."""
    first = value[0]
    return value if first > "9" else _LETTERS[ord(first) - 48] + value[1:]
