"""The ids of events and traces: stored as sent unless the redactor finds personal data in them."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings

from llm_contracts.contracts import redact
from telemetry.services import redact_id
from tests.sdk.reporting.test_ids import uuid_hex


def expected(value: str) -> str:
    """Return what the redactor makes of ``value`` as an id: itself, or a hash when it finds something."""
    if redact(value) == value:
        return value
    return "pii-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


class TestRedactId:
    @settings(max_examples=2000, deadline=None)
    @given(uuid_hex())
    def test_a_hex_id_is_what_the_redactor_makes_of_it(self, value: str) -> None:
        assert redact_id(value) == expected(value)

    def test_a_card_number_at_the_start_of_a_hex_id_is_hashed(self) -> None:
        value = "4111111111111111" + "a" * 16
        assert redact(value) != value
        assert redact_id(value) == expected(value) != value

    def test_a_card_number_after_a_letter_is_part_of_the_id(self) -> None:
        value = "a4111111111111111" + "b" * 15
        assert redact_id(value) == value == redact(value)
