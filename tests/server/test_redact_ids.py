"""The ids of events and traces: stored as sent unless the redactor finds personal data in them."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_contracts.contracts import redact
from telemetry.services import redact_id

HEX = "0123456789abcdef"
# Numbers the redactor finds when they stand alone: cards (Luhn-valid, with issuer prefixes),
# phone-length and SSN-length runs, an AWS-like tail.
NUMBERS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "123456789"]


def expected(value: str) -> str:
    """Return what the redactor makes of ``value`` as an id: itself, or a hash when it finds something."""
    if redact(value) == value:
        return value
    return "pii-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


@st.composite
def hex_ids(draw: st.DrawFn) -> str:
    """A 32-character lower-case hex id, often with a long run of digits (a card number) in it."""
    base = draw(st.text(HEX, min_size=32, max_size=32))
    if draw(st.booleans()):
        number = draw(st.sampled_from(NUMBERS) | st.text("0123456789", min_size=9, max_size=32))
        at = draw(st.integers(0, 32 - min(len(number), 32)))
        base = (base[:at] + number + base[at + len(number) :])[:32]
    return base


class TestRedactId:
    @settings(max_examples=2000, deadline=None)
    @given(hex_ids())
    def test_a_hex_id_is_what_the_redactor_makes_of_it(self, value: str) -> None:
        assert redact_id(value) == expected(value)

    def test_a_card_number_at_the_start_of_a_hex_id_is_hashed(self) -> None:
        value = "4111111111111111" + "a" * 16
        assert redact(value) != value
        assert redact_id(value) == expected(value) != value

    def test_a_card_number_after_a_letter_is_part_of_the_id(self) -> None:
        value = "a4111111111111111" + "b" * 15
        assert redact_id(value) == value == redact(value)
