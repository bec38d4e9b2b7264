"""The ids the SDK makes are stored as sent: the control plane's PII redactor never finds anything in them."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_contracts._ids import lettered, new_id
from llm_contracts.contracts import redact

HEX = "0123456789abcdef"
# Numbers the redactor finds when they stand alone: cards (Luhn-valid, with issuer
# prefixes), phone- and SSN-length runs.
NUMBERS = ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "123456789"]


@st.composite
def uuid_hex(draw: st.DrawFn) -> str:
    """A 32-character lower-case hex string, often with a number the redactor finds in it."""
    base = draw(st.text(HEX, min_size=32, max_size=32))
    if draw(st.booleans()):
        number = draw(st.sampled_from(NUMBERS) | st.text("0123456789", min_size=9, max_size=32))
        at = draw(st.integers(0, 32 - min(len(number), 32)))
        base = (base[:at] + number + base[at + len(number) :])[:32]
    return base


@settings(max_examples=600, deadline=None)
@given(uuid_hex())
def test_the_redactor_finds_nothing_in_an_sdk_id(value: str) -> None:
    made = lettered(value)
    assert made[1:] == value[1:] and made[0] in "abcdef"
    assert redact(made) == made


def test_a_uuid4_can_read_as_a_card_number_and_its_sdk_id_cannot() -> None:
    value = "259081997229479e8b33670df416529c"  # a uuid4 whose first 15 digits pass Luhn
    assert redact(value) != value
    assert redact(lettered(value)) == lettered(value)


def test_new_ids_are_uuid4_hex_that_start_with_a_letter() -> None:
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in ids:
        assert re.fullmatch(r"[a-f][0-9a-f]{11}4[0-9a-f]{3}[89ab][0-9a-f]{15}", value), value
