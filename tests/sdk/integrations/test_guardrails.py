"""Guardrails AI validators as contracts, run by the drop-in client on the fake model.

The validators are Guardrails' own hub validators, installed from the package index
(guardrails-ai-regex-match, -valid-length, -valid-choices), plus one registered here with
Guardrails' own API to return error spans.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import pytest

from llm_contracts import Category, ContractConfigError, ContractViolationError, Enforcement, get_report

pytest.importorskip("guardrails")
regex_match = pytest.importorskip("guardrails_ai.regex_match")
valid_length = pytest.importorskip("guardrails_ai.valid_length")
valid_choices = pytest.importorskip("guardrails_ai.valid_choices")

from guardrails import Guard  # noqa: E402
from guardrails.settings import settings as guardrails_settings  # noqa: E402
from guardrails.validator_base import (  # noqa: E402
    ErrorSpan,
    FailResult,
    PassResult,
    Validator,
    register_validator,
)

from llm_contracts.integrations.guardrails import ON_FAIL, from_guard, from_guardrails  # noqa: E402

RegexMatch = regex_match.RegexMatch
ValidLength = valid_length.ValidLength
ValidChoices = valid_choices.ValidChoices


@pytest.fixture(autouse=True)
def no_guardrails_telemetry(monkeypatch):
    # Guardrails sends usage telemetry to its own servers unless told otherwise.
    monkeypatch.setattr(guardrails_settings.rc, "enable_metrics", False)


@register_validator(name="tests/no_sorry", data_type="string")
class NoSorry(Validator):
    """Fail on the word "sorry", pointing at it."""

    def _validate(self, value: Any, metadata: dict[str, Any]) -> Any:
        at = value.lower().find("sorry")
        if at < 0:
            return PassResult()
        return FailResult(
            error_message="the answer apologises",
            error_spans=[ErrorSpan(start=at, end=at + 5, reason="apology")],
        )


def ask(client: Any, text: str = "Answer.") -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def feedback(fake: Any) -> str:
    return fake.requests[-1]["messages"][-1]["content"]


class TestVerdicts:
    def test_a_passing_validator_passes(self, make_client, fake):
        fake.reply("12345")
        client = make_client(output_contracts=[from_guardrails(RegexMatch(regex=r"\d+"))])

        assert get_report(ask(client)).outcome == "passed"

    def test_a_failure_carries_the_message_spans_and_validator(self, make_client, fake):
        fake.reply("I am sorry, I cannot.")
        client = make_client(output_contracts=[from_guardrails(NoSorry())])

        with pytest.raises(ContractViolationError) as caught:
            ask(client)

        (verdict,) = caught.value.results
        assert verdict.contract_name == "tests/no_sorry"
        assert verdict.message == "the answer apologises"
        assert verdict.details["error_spans"] == [{"start": 5, "end": 10, "reason": "apology"}]
        assert verdict.details["guardrails_validator"] == "tests/no_sorry"
        assert verdict.details["on_fail"] == "exception"

    def test_the_validator_gets_the_metadata_given(self, make_client, fake):
        seen: list[dict[str, Any]] = []

        class Recording(NoSorry):
            def _validate(self, value: Any, metadata: dict[str, Any]) -> Any:
                seen.append(metadata)
                return super()._validate(value, metadata)

        Recording.rail_alias = NoSorry.rail_alias
        fake.reply("Here it is.")
        client = make_client(output_contracts=[from_guardrails(Recording(), metadata={"source": "faq"})])

        ask(client)

        assert seen == [{"source": "faq"}]

    def test_a_choice_validator_rejects_an_answer_outside_its_choices(self, make_client, fake):
        fake.reply("maybe")
        client = make_client(output_contracts=[from_guardrails(ValidChoices(choices=["yes", "no"]))])

        with pytest.raises(ContractViolationError, match="not in choices"):
            ask(client)

    async def test_the_async_client_runs_validators_too(self, make_async_client, fake):
        fake.reply("I am sorry.", "Here it is.")
        client = make_async_client(
            output_contracts=[from_guardrails(NoSorry(on_fail="reask"))], contract_retries=1
        )

        reply = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Answer."}]
        )

        assert reply.choices[0].message.content == "Here it is."
        assert get_report(reply).outcome == "repaired"


class TestOnFail:
    """Each row of the on_fail table of the README."""

    def test_the_table_covers_every_guardrails_action(self):
        from guardrails.types.on_fail import OnFailAction

        assert set(ON_FAIL) == {a.value for a in OnFailAction}

    def test_exception_raises_without_retries(self, make_client, fake):
        fake.reply("lowercase answer")
        contract = from_guardrails(RegexMatch(regex=r"[A-Z].*"))

        with pytest.raises(ContractViolationError, match="Result must match"):
            ask(make_client(output_contracts=[contract]))
        assert contract.enforcement is Enforcement.STRICT

    def test_reask_re_asks_with_the_validator_message(self, make_client, fake):
        fake.reply("lowercase answer", "Capitalised answer")
        capitalised = from_guardrails(RegexMatch(regex=r"[A-Z].*", on_fail="reask"))
        client = make_client(output_contracts=[capitalised], contract_retries=1)

        reply = ask(client)

        assert reply.choices[0].message.content == "Capitalised answer"
        assert get_report(reply).outcome == "repaired"
        assert "Result must match [A-Z].*" in feedback(fake)

    @pytest.mark.parametrize("action", ["fix", "fix_reask"])
    def test_a_fix_of_the_answer_is_offered_to_the_model_never_substituted(self, action, make_client, fake):
        fake.reply("123456789", "12345")
        client = make_client(
            output_contracts=[from_guardrails(ValidLength(max=5, on_fail=action))], contract_retries=1
        )

        reply = ask(client)

        assert reply.choices[0].message.content == "12345"  # the model's own second answer
        assert 'corrected answer is "12345"' in feedback(fake)
        fake.reply("123456789")
        with pytest.raises(ContractViolationError):
            ask(make_client(output_contracts=[from_guardrails(ValidLength(max=5, on_fail=action))]))

    def test_a_fix_of_a_request_message_replaces_it_before_sending(self, make_client, fake):
        contract = from_guardrails(ValidLength(max=10, on_fail="fix"), on="messages")
        client = make_client(input_contracts=[contract])

        reply = ask(client, "a prompt longer than ten characters")

        assert fake.requests[-1]["messages"][0]["content"] == "a prompt l"
        assert get_report(reply).input_fixes == [contract.name]
        assert contract.category is Category.INPUT

    def test_a_request_message_that_fails_without_a_fix_stops_the_call(self, make_client, fake):
        client = make_client(input_contracts=[from_guardrails(NoSorry(), on="messages")])

        with pytest.raises(ContractViolationError) as caught:
            ask(client, "sorry to bother you")

        assert caught.value.stage == "input"
        assert fake.requests == []

    @pytest.mark.parametrize("action", ["filter", "refrain"])
    def test_filter_and_refrain_refuse_the_answer_or_give_the_fallback(self, action, make_client, fake):
        fake.reply("I am sorry.", "I am sorry.")

        with pytest.raises(ContractViolationError):
            ask(make_client(output_contracts=[from_guardrails(NoSorry(on_fail=action))]))
        reply = ask(
            make_client(output_contracts=[from_guardrails(NoSorry(on_fail=action))], fallback="No answer.")
        )
        assert reply.choices[0].message.content == "No answer."
        assert get_report(reply).outcome == "fallback"

    def test_noop_records_the_violation_and_lets_the_answer_through(self, make_client, fake):
        fake.reply("I am sorry.")
        client = make_client(output_contracts=[from_guardrails(NoSorry(on_fail="noop"))])

        reply = ask(client)

        assert reply.choices[0].message.content == "I am sorry."
        report = get_report(reply)
        assert report.outcome == "warned"
        assert report.violations[0].enforcement is Enforcement.MONITOR

    def test_a_custom_handler_is_strict_and_never_called(self, make_client, fake):
        called: list[Any] = []
        fake.reply("I am sorry.")
        client = make_client(
            output_contracts=[
                from_guardrails(NoSorry(on_fail=lambda value, result: called.append(value) or "fixed"))
            ]
        )

        with pytest.raises(ContractViolationError):
            ask(client)
        assert called == []

    def test_an_explicit_enforcement_overrides_the_mapping(self, make_client, fake):
        fake.reply("I am sorry.")
        strict = from_guardrails(NoSorry(on_fail="noop"), enforcement="strict")
        client = make_client(output_contracts=[strict])

        with pytest.raises(ContractViolationError):
            ask(client)


class TestGuard:
    def test_a_guard_migrates_in_one_call(self, make_client, fake):
        guard = Guard().use(RegexMatch(regex=r"[A-Z].*", on_fail="reask"), NoSorry(on_fail="reask"))
        guard.use(ValidLength(max=10, on_fail="fix"), on="messages")
        fake.reply("i am sorry", "Here it is")

        contracts = from_guard(guard)
        client = make_client(contracts=contracts, contract_retries=1)
        reply = ask(client, "a prompt longer than ten characters")

        assert [(c.name, c.category) for c in contracts] == [
            ("guardrails/valid_length", Category.INPUT),
            ("guardrails/regex_match", Category.OUTPUT),
            ("tests/no_sorry", Category.OUTPUT),
        ]
        assert fake.requests[0]["messages"][0]["content"] == "a prompt l"
        assert reply.choices[0].message.content == "Here it is"
        first = {r.contract_name for r in get_report(reply).attempts[0].results if not r.is_valid}
        assert first == {"guardrails/regex_match", "tests/no_sorry"}

    def test_two_validators_of_one_kind_keep_apart(self):
        guard = Guard().use(RegexMatch(regex=r"a.*"), RegexMatch(regex=r".*z"))

        assert [c.name for c in from_guard(guard)] == ["guardrails/regex_match", "guardrails/regex_match#2"]

    def test_validators_on_a_json_path_are_refused_by_name(self):
        guard = Guard().use(RegexMatch(regex=r"a.*"), on="$.answer")

        with pytest.raises(ContractConfigError, match=r"'\$\.answer'"):
            from_guard(guard)


def test_something_that_is_not_a_validator_is_refused_by_name():
    with pytest.raises(ContractConfigError, match="Validator instance; got str"):
        from_guardrails("guardrails/regex_match")
    with pytest.raises(ContractConfigError, match="needs a Guardrails Guard; got dict"):
        from_guard({})


def test_the_verdict_is_json_friendly(make_client, fake):
    fake.reply("I am sorry.")
    client = make_client(output_contracts=[from_guardrails(NoSorry(on_fail="noop"))])

    json.dumps(get_report(ask(client)).to_dict())


def test_without_guardrails_the_import_error_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "guardrails" or m.startswith("guardrails.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "llm_contracts.integrations.guardrails")

    with pytest.raises(ImportError, match=r"pip install 'llm-contracts\[guardrails\]'"):
        importlib.import_module("llm_contracts.integrations.guardrails")
