"""Temporal contracts over scripted conversations, through the real openai client and the fake server."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from llm_contracts import (
    AlwaysContract,
    AsyncContractOpenAI,
    ContractConfigError,
    ContractOpenAI,
    ContractViolationError,
    EventuallyContract,
    FunctionContract,
    Invariant,
    NeverContract,
    NextContract,
    RegexContract,
    UntilContract,
    ValidationContext,
    get_report,
)
from llm_contracts.contracts import LLMResponse
from llm_contracts.testing import FakeLLM

MODEL = "gpt-4o-mini"


def mentions_ada() -> RegexContract:
    return RegexContract(r"\bAda\b", name="mentions_ada")


class Chat:
    """A scripted user: sends the whole history plus one new message per turn, like a chat app."""

    def __init__(self, client: ContractOpenAI, system: str = "You are a support bot.") -> None:
        self.client = client
        self.messages: list[dict[str, str]] = [{"role": "system", "content": system}]

    def say(self, text: str = "Go on.") -> str:
        self.messages.append({"role": "user", "content": text})
        reply = self.client.chat.completions.create(model=MODEL, messages=self.messages)  # type: ignore[arg-type]
        answer = reply.choices[0].message.content or ""
        self.messages.append({"role": "assistant", "content": answer})
        return answer


def outcome_of_turns(chat: Chat, user_texts: list[str]) -> list[str]:
    """Play the user's turns; return each turn's report outcome, or "raised" (and stop) on a violation."""
    outcomes = []
    for text in user_texts:
        try:
            chat.say(text)
        except ContractViolationError as exc:
            assert exc.stage == "output"
            outcomes.append("raised")
            break
        assert chat.client.last_report is not None
        outcomes.append(chat.client.last_report.outcome)
    return outcomes


@pytest.fixture
def client(fake: FakeLLM) -> ContractOpenAI:
    return ContractOpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0)


class TestEventually:
    def test_it_is_violated_on_turn_within_and_not_a_turn_earlier(self, client, fake):
        client.add_contract(EventuallyContract(mentions_ada(), within=3))
        fake.reply("Hello.", "How can I help?", "Anything else?")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["Hi", "I'm Ada", "Thanks"])

        assert outcomes == ["passed", "passed", "raised"]

    def test_the_violation_names_the_contract_and_the_turn(self, client, fake):
        contract = EventuallyContract(mentions_ada(), within=2)
        client.add_contract(contract)
        fake.reply("Hello.", "How can I help?")

        with client.conversation("s-1"):
            chat = Chat(client)
            chat.say("Hi")
            with pytest.raises(ContractViolationError) as caught:
                chat.say("I'm Ada")

        (violation,) = caught.value.violations
        assert violation.contract_name == contract.name
        assert violation.details["turn"] == 2
        assert "within 2 turn(s)" in violation.message

    def test_once_met_it_stays_met(self, client, fake):
        client.add_contract(EventuallyContract(mentions_ada(), within=3))
        fake.reply("Hello.", "Hi Ada!", "Bye.", "Bye again.", "Still here.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["a", "b", "c", "d", "e"])

        assert outcomes == ["passed"] * 5

    def test_it_may_be_met_on_the_last_allowed_turn(self, client, fake):
        client.add_contract(EventuallyContract(mentions_ada(), within=3))
        fake.reply("Hello.", "How can I help?", "Sure, Ada.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["a", "b", "c"])

        assert outcomes == ["passed", "passed", "passed"]

    def test_a_reask_on_the_deadline_turn_repairs_it(self, make_client, fake):
        client = make_client(contract_retries=1)
        client.add_contract(EventuallyContract(mentions_ada(), within=2))
        fake.reply("Hello.", "How can I help?", "How can I help, Ada?")

        with client.conversation("s-1") as conv:
            outcomes = outcome_of_turns(Chat(client), ["a", "b", "c"])

        # Turn 2 was repaired by the re-ask; turn 3 is past the (met) deadline.
        assert outcomes == ["passed", "repaired", "passed"]
        assert "mentions_ada" in fake.requests[2]["messages"][-1]["content"]
        # Only the kept answer became a turn.
        assert [t.content for t in conv.turns if t.role == "assistant"] == [
            "Hello.",
            "How can I help, Ada?",
            '{"answer": "all clean here"}',
        ]

    def test_a_rejected_turn_is_not_recorded_and_the_same_turn_is_judged_again(self, client, fake):
        client.add_contract(EventuallyContract(mentions_ada(), within=2))
        fake.reply("Hello.", "How can I help?", "Welcome, Ada.")

        with client.conversation("s-1") as conv:
            chat = Chat(client)
            chat.say("Hi")
            with pytest.raises(ContractViolationError):
                chat.say("I'm Ada")
            chat.messages.pop()  # the app drops the unanswered question and asks again
            assert chat.say("I'm Ada") == "Welcome, Ada."

        assert conv.assistant_turns == 2
        assert [t.content for t in conv.turns if t.role == "user"] == ["Hi", "I'm Ada"]

    def test_under_warn_it_logs_once_and_returns_the_answer(self, client, fake, caplog):
        client.add_contract(EventuallyContract(mentions_ada(), within=2, enforcement="warn"))
        fake.reply("Hello.", "How can I help?", "Bye.")

        with caplog.at_level(logging.WARNING, logger="llm_contracts"), client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["a", "b", "c"])

        assert outcomes == ["passed", "warned", "passed"]
        warnings = [r for r in caplog.records if r.name == "llm_contracts"]
        assert len(warnings) == 1 and "within 2 turn(s)" in warnings[0].getMessage()

    def test_it_counts_turns_from_its_activation(self, client, fake):
        fake.reply("Hello.", "How can I help?", "Sure.", "Fine.")

        with client.conversation("s-1"):
            chat = Chat(client)
            chat.say("a")
            chat.say("b")
            client.add_contract(EventuallyContract(mentions_ada(), within=2))
            outcomes = outcome_of_turns(chat, ["c", "d"])

        assert outcomes == ["passed", "raised"]

    def test_without_a_conversation_a_call_is_a_one_turn_conversation(self, client, fake):
        client.add_contract(EventuallyContract(mentions_ada(), within=2))
        client.add_contract(EventuallyContract(RegexContract("Hello", name="hello"), within=1))
        fake.reply("Hello.", "Hello again.", "Bye.")

        for _ in range(2):  # no history: "within 2" never runs out
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(ContractViolationError) as caught:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])

        assert caught.value.violations[0].contract_name == "eventually(hello, within=1)"

    @pytest.mark.parametrize("within", [0, -1, 1.5, True, "3"])
    def test_it_rejects_a_within_that_is_not_a_positive_int(self, within):
        with pytest.raises(ContractConfigError, match="within must be an int >= 1"):
            EventuallyContract(mentions_ada(), within=within)


class TestNext:
    def test_the_turn_after_the_trigger_must_meet_it(self, client, fake):
        gave_name = RegexContract(r"(?i)my name is", category="input", name="gave_name")
        client.add_contract(NextContract(mentions_ada(), trigger=gave_name))
        fake.reply("Hello.", "Noted.", "Sure thing.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["Hi", "My name is Ada", "Book a table"])

        # The trigger fired on turn 2 (the user's message): turn 2 is free, turn 3 is not.
        assert outcomes == ["passed", "passed", "raised"]

    def test_it_applies_each_time_the_trigger_fires_and_only_then(self, client, fake):
        gave_name = RegexContract(r"(?i)my name is", category="input", name="gave_name")
        client.add_contract(NextContract(mentions_ada(), trigger=gave_name))
        fake.reply("Hello.", "Noted.", "Right, Ada.", "Bye.", "Noted.", "Mm.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(
                Chat(client), ["My name is Ada", "x", "y", "My name is Ada", "z", "w"]
            )

        assert outcomes == ["passed", "raised"]

    def test_the_history_resent_with_each_request_does_not_fire_the_trigger_again(self, client, fake):
        gave_name = RegexContract(r"(?i)my name is", category="input", name="gave_name")
        client.add_contract(NextContract(mentions_ada(), trigger=gave_name))
        fake.reply("Hello.", "Thanks, Ada.", "Sure.", "Bye.")

        with client.conversation("s-1"):
            # "My name is Ada" stays in every later request's messages.
            outcomes = outcome_of_turns(Chat(client), ["My name is Ada", "x", "y", "z"])

        assert outcomes == ["passed"] * 4

    def test_an_output_trigger_is_judged_on_the_answer(self, client, fake):
        promised = RegexContract(r"(?i)I will check", name="promised")
        followed_up = RegexContract(r"(?i)I checked", name="followed_up")
        client.add_contract(NextContract(followed_up, trigger=promised))
        fake.reply("I will check.", "Still looking.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["a", "b"])

        assert outcomes == ["passed", "raised"]

    def test_without_a_trigger_it_binds_the_second_turn_only(self, client, fake):
        client.add_contract(NextContract(mentions_ada()))
        fake.reply("Hello.", "Hi Ada.", "Bye.")
        with client.conversation("s-1"):
            assert outcome_of_turns(Chat(client), ["a", "b", "c"]) == ["passed"] * 3

        fake.reply("Hello.", "Hi there.")
        with client.conversation("s-2"):
            assert outcome_of_turns(Chat(client), ["a", "b"]) == ["passed", "raised"]


class TestUntil:
    @pytest.fixture
    def no_digits_until_verified(self) -> UntilContract:
        no_digits = RegexContract(r"\d", must_match=False, name="no_digits")
        verified = RegexContract(r"(?i)code accepted", category="input", name="verified")
        return UntilContract(no_digits, release=verified)

    def test_hold_must_hold_on_every_turn_before_the_release(self, client, fake, no_digits_until_verified):
        client.add_contract(no_digits_until_verified)
        fake.reply("Please verify.", "Your balance is 120.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["balance?", "balance now?"])

        assert outcomes == ["passed", "raised"]

    def test_after_the_release_hold_is_free(self, client, fake, no_digits_until_verified):
        client.add_contract(no_digits_until_verified)
        fake.reply("Please verify.", "Your balance is 120.", "Your card ends in 4242.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["balance?", "code accepted: balance?", "card?"])

        assert outcomes == ["passed", "passed", "passed"]


class TestAlwaysAndNever:
    def test_never_is_violated_on_the_turn_where_inner_holds(self, client, fake):
        client.add_contract(NeverContract(RegexContract(r"As an AI", name="as_an_ai")))
        fake.reply("Hi.", "Sure.", "As an AI, I can't.")

        with client.conversation("s-1"):
            outcomes = outcome_of_turns(Chat(client), ["a", "b", "c"])

        assert outcomes == ["passed", "passed", "raised"]

    def test_always_and_invariant_hold_on_every_turn(self, client, fake):
        client.add_contract(AlwaysContract(RegexContract(r"\.$", name="ends_with_period")))
        client.add_contract(Invariant(RegexContract(r"^[A-Z]", name="capitalised")))
        fake.reply("Hi.", "Sure.", "yes.")

        with client.conversation("s-1"):
            chat = Chat(client)
            chat.say()
            chat.say()
            with pytest.raises(ContractViolationError) as caught:
                chat.say()

        (violation,) = caught.value.violations
        assert violation.contract_name == "invariant(capitalised)"
        assert "failed on turn 3" in violation.message


class TestConversationContracts:
    def test_contracts_given_to_the_conversation_judge_the_calls_inside_it(self, client, fake):
        fake.reply("Hello.", "How can I help?", "Hello.", "How can I help?")
        eventually = EventuallyContract(mentions_ada(), within=2)

        with client.conversation("s-1", temporal_contracts=[eventually]):
            assert outcome_of_turns(Chat(client), ["a", "b"]) == ["passed", "raised"]
        # Outside the block the client has no such contract.
        assert outcome_of_turns(Chat(client), ["a", "b"]) == ["passed", "passed"]

    def test_a_warn_conversation_caps_its_contracts_at_warn(self, client, fake):
        fake.reply("Hello.", "How can I help?")

        with client.conversation(
            "s-1", enforcement="warn", temporal_contracts=[EventuallyContract(mentions_ada(), within=2)]
        ):
            assert outcome_of_turns(Chat(client), ["a", "b"]) == ["passed", "warned"]

    def test_contracts_read_the_apps_facts_through_the_context(self, client, fake):
        def mentions_user(response: LLMResponse, context: ValidationContext | None = None) -> bool:
            assert context is not None
            facts = context.conversation.get_context_for_contracts()
            return facts["user_name"] in response.text

        class MentionsUser(FunctionContract):
            def validate(self, value: Any, context: ValidationContext | None = None) -> Any:
                return self._verdict(mentions_user(value, context))

        client.add_contract(EventuallyContract(MentionsUser(lambda _: True, name="mentions_user"), within=2))
        fake.reply("Hello.", "Bye, Grace.", "Hello.", "Bye, Grace.")

        with client.conversation("s-grace") as conv:
            conv.context["user_name"] = "Grace"
            assert outcome_of_turns(Chat(client), ["a", "b"]) == ["passed", "passed"]
        with client.conversation("s-ada") as conv:
            conv.context["user_name"] = "Ada"
            assert outcome_of_turns(Chat(client), ["a", "b"]) == ["passed", "raised"]


class TestSeparateConversations:
    def test_interleaved_conversations_keep_separate_state(self, client, fake):
        client.add_contract(EventuallyContract(mentions_ada(), within=2))
        # A meets the contract on its first turn; B never does.
        fake.reply("Hi Ada.", "Hello.", "Bye.", "Bye.")
        a, b = client.conversation("A"), client.conversation("B")
        chat_a, chat_b = Chat(client), Chat(client)

        with a:
            chat_a.say()
        with b:
            chat_b.say()
        with a:
            chat_a.say()  # A's turn 2: met on turn 1
        with b, pytest.raises(ContractViolationError):
            chat_b.say()  # B's turn 2: deadline missed

        assert a.conversation.assistant_turns == 2
        assert b.conversation.assistant_turns == 1

    def test_conversations_in_threads_do_not_mix(self, fake):
        # Each thread's user says who they are; the fake greets only "Ada" by name.
        def answer(body: dict[str, Any]) -> str:
            first = body["messages"][1]["content"]
            return "Hello Ada." if first == "I am Ada" else "Hello."

        fake.default = answer
        client = ContractOpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0)
        client.add_contract(EventuallyContract(mentions_ada(), within=3))
        outcomes: dict[str, list[str]] = {}
        barrier = threading.Barrier(8)

        def user(name: str) -> None:
            with client.conversation(name):
                chat = Chat(client)
                barrier.wait()
                outcomes[name] = outcome_of_turns(chat, [f"I am {name.split('-')[0]}", "x", "y"])

        threads = [
            threading.Thread(target=user, args=(f"{who}-{i}",)) for i in range(4) for who in ("Ada", "Bob")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert {k: v for k, v in outcomes.items() if k.startswith("Ada")} == {
            f"Ada-{i}": ["passed"] * 3 for i in range(4)
        }
        assert {k: v for k, v in outcomes.items() if k.startswith("Bob")} == {
            f"Bob-{i}": ["passed", "passed", "raised"] for i in range(4)
        }


class TestAsync:
    @pytest.fixture
    def aclient(self, fake: FakeLLM) -> AsyncContractOpenAI:
        return AsyncContractOpenAI(api_key="test-key", http_client=fake.async_http_client(), max_retries=0)

    @staticmethod
    async def play(client: AsyncContractOpenAI, texts: list[str]) -> list[str]:
        messages: list[Any] = [{"role": "system", "content": "Be brief."}]
        outcomes = []
        for text in texts:
            messages.append({"role": "user", "content": text})
            try:
                reply = await client.chat.completions.create(model=MODEL, messages=messages)
            except ContractViolationError:
                outcomes.append("raised")
                break
            outcomes.append(get_report(reply).outcome)  # type: ignore[union-attr]
            messages.append({"role": "assistant", "content": reply.choices[0].message.content})
        return outcomes

    async def test_eventually_is_violated_on_turn_within_with_async_with(self, aclient, fake):
        aclient.add_contract(EventuallyContract(mentions_ada(), within=3))
        fake.reply("Hello.", "How can I help?", "Anything else?")

        async with aclient.conversation("s-1") as conv:
            outcomes = await self.play(aclient, ["a", "b", "c"])

        assert outcomes == ["passed", "passed", "raised"]
        assert conv.assistant_turns == 2

    async def test_a_plain_with_works_in_async_code_too(self, aclient, fake):
        gave_name = RegexContract(r"(?i)my name is", category="input", name="gave_name")
        aclient.add_contract(NextContract(mentions_ada(), trigger=gave_name))
        fake.reply("Hello.", "Noted.")

        with aclient.conversation("s-1"):
            outcomes = await self.play(aclient, ["My name is Ada", "x"])

        assert outcomes == ["passed", "raised"]

    async def test_concurrent_tasks_keep_separate_conversations(self, fake):
        def answer(body: dict[str, Any]) -> str:
            return "Hello Ada." if body["messages"][1]["content"] == "I am Ada" else "Hello."

        fake.default = answer
        client = AsyncContractOpenAI(api_key="test-key", http_client=fake.async_http_client(), max_retries=0)
        client.add_contract(EventuallyContract(mentions_ada(), within=2))

        async def user(name: str, first: str) -> list[str]:
            async with client.conversation(name):
                return await self.play(client, [first, "x", "y"])

        results = await asyncio.gather(
            *(user(f"s-{i}", "I am Ada" if i % 2 else "I am Bob") for i in range(6))
        )

        assert results == [["passed", "raised"] if i % 2 == 0 else ["passed"] * 3 for i in range(6)]


class TestStreams:
    def test_a_streamed_answer_is_judged_and_recorded_as_a_turn(self, client, fake):
        client.add_contract(EventuallyContract(mentions_ada(), within=2))
        fake.reply("Hello there.", "Still nothing.")
        messages: list[Any] = [{"role": "user", "content": "hi"}]

        with client.conversation("s-1") as conv:
            text = "".join(
                c.choices[0].delta.content or ""
                for c in client.chat.completions.create(model=MODEL, messages=messages, stream=True)
            )
            messages += [{"role": "assistant", "content": text}, {"role": "user", "content": "again"}]
            stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
            with pytest.raises(ContractViolationError):
                list(stream)

        assert [(t.role, t.content) for t in conv.turns] == [("user", "hi"), ("assistant", "Hello there.")]


@pytest.mark.parametrize(
    "make",
    [
        lambda: AlwaysContract("not a contract"),  # type: ignore[arg-type]
        lambda: UntilContract(mentions_ada(), release=None),  # type: ignore[arg-type]
    ],
)
def test_it_rejects_an_operand_that_is_not_a_contract(make: Callable[[], Any]):
    with pytest.raises(ContractConfigError, match="needs Contract objects"):
        make()


def test_operators_are_temporal_contracts_with_the_usual_settings():
    contract = EventuallyContract(
        mentions_ada(), within=3, name="greets", severity="critical", priority=5, enforcement="warn"
    )

    assert contract.describe() | {"description": ""} == {
        "name": "greets",
        "type": "EventuallyContract",
        "description": "",
        "category": "temporal",
        "severity": "critical",
        "priority": 5,
        "enforcement": "warn",
        "supports_streaming": False,
        "operator": "EventuallyContract",
        "within": 3,
    }
