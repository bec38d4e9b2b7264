"""Which calls a pulled breakpoint catches."""

from __future__ import annotations

import pytest

from llm_contracts.contracts import Severity, ValidationResult
from llm_contracts.debugging._trace import Breakpoint
from llm_contracts.enforcement._report import Attempt, ContractReport


def verdict(name: str, ok: bool, severity: Severity = Severity.ERROR) -> ValidationResult:
    return ValidationResult(ok, "" if ok else "broken", severity, name)


def repaired_report() -> ContractReport:
    """A call whose first answer violated Reply.ensure[1] and whose re-ask passed."""
    return ContractReport(
        model="gpt-4o",
        outcome="repaired",
        attempts=[
            Attempt(0, "no refund, sorry", [verdict("Reply.ensure[1]", False)]),
            Attempt(1, "here is the policy", [verdict("Reply.ensure[1]", True)]),
        ],
    )


def breakpoint_(**conditions) -> Breakpoint:
    return Breakpoint.from_dict(
        {
            "id": 1,
            "contract": None,
            "severity": None,
            "model": None,
            "input_contains": None,
            "output_contains": None,
            "remaining": 3,
            **conditions,
        }
    )


class TestBreakpointMatching:
    def test_a_repaired_call_is_caught_by_a_severity_breakpoint(self):
        assert breakpoint_(severity="error").matches(repaired_report())

    def test_a_call_that_passed_at_once_is_not_caught_by_a_severity_breakpoint(self):
        clean = ContractReport(attempts=[Attempt(0, "fine", [verdict("Reply.ensure[1]", True)])])
        assert not breakpoint_(severity="error").matches(clean)

    def test_an_llmcl_contract_name_matches_its_clauses(self):
        assert breakpoint_(contract="Reply").matches(repaired_report())
        assert not breakpoint_(contract="Rep").matches(repaired_report())

    def test_output_text_of_any_attempt_is_searched(self):
        assert breakpoint_(output_contains="refund").matches(repaired_report())
        assert not breakpoint_(output_contains="voucher").matches(repaired_report())

    def test_a_spent_breakpoint_catches_nothing(self):
        assert not breakpoint_(severity="error", remaining=0).matches(repaired_report())


class TestBreakpointParsing:
    @pytest.mark.parametrize(
        ("item", "field"),
        [
            ({"id": True}, "id"),
            ({"id": "1"}, "id"),
            ({"id": 1, "severity": "fatal"}, "severity"),
            ({"id": 1, "model": 3}, "model"),
            ({"id": 1, "remaining": "5"}, "remaining"),
            ({"id": 1, "rate_per_minute": 0}, "rate_per_minute"),
        ],
    )
    def test_an_item_the_protocol_refuses_is_refused_naming_its_field(self, item, field):
        with pytest.raises(ValueError, match=rf"BreakpointSpec\n{field}"):
            Breakpoint.from_dict(item)
