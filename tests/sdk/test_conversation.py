"""Conversations: turns, exact token counts, the context window, per-turn contracts, client recording."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import pytest

import llm_contracts
from llm_contracts import (
    ContractConfigError,
    ContractOpenAI,
    ContractViolationError,
    ConversationStateManager,
    EventuallyContract,
    FunctionContract,
    RegexContract,
    ValidationContext,
    ValidationResult,
)
from llm_contracts.contracts import Contract, count_message_tokens
from llm_contracts.conversation import active_conversation
from llm_contracts.testing import FakeLLM

MODEL = "gpt-4o-mini"
DATA = Path(llm_contracts.__file__).parent / "_data"
TEXTS = [
    "You are a terse support bot.",
    "Hi, I'm Ada Lovelace. Où est ma commande #4521?",
    "Hello Ada! Let me check order #4521 for you.",
    "Thanks 🙏 — any update?",
]


@pytest.fixture
def tiktoken_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return tiktoken's own encoding for MODEL, built by tiktoken's loader from a local rank file."""
    pytest.importorskip("tiktoken")
    import tiktoken
    import tiktoken.load
    from tiktoken_ext import openai_public

    name = tiktoken.encoding_name_for_model(MODEL)
    local = tmp_path / f"{name}.tiktoken"
    local.write_bytes(gzip.decompress((DATA / f"{name}.tiktoken.gz").read_bytes()))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    # tiktoken's definition would download the ranks; point it at the same bytes on disk.
    monkeypatch.setattr(
        openai_public,
        "load_tiktoken_bpe",
        lambda _url, expected_hash=None: tiktoken.load.load_tiktoken_bpe(str(local), expected_hash),
    )
    return tiktoken.Encoding(**getattr(openai_public, name)())


def conversation(**kwargs: Any) -> ConversationStateManager:
    conv = ConversationStateManager("s-1", model=MODEL, **kwargs)
    for role, text in zip(["system", "user", "assistant", "user"], TEXTS, strict=True):
        conv.add_turn(role, text)
    return conv


class TestTurns:
    def test_it_records_role_content_metadata_timestamp_and_index(self):
        conv = ConversationStateManager("s-1", model=MODEL)

        conv.add_turn("user", "Hi", channel="web")
        conv.add_turn("assistant", "Hello")

        first, second = conv.turns
        assert (first.role, first.content, first.index) == ("user", "Hi", 0)
        assert first.metadata == {"channel": "web"}
        assert (second.role, second.index) == ("assistant", 1)
        assert 0 < first.timestamp <= second.timestamp
        assert conv.assistant_turns == 1 and len(conv) == 2

    def test_token_counts_equal_tiktokens_for_a_known_model(self, tiktoken_encoding):
        conv = conversation()

        assert [t.tokens for t in conv.turns] == [len(tiktoken_encoding.encode(t)) for t in TEXTS]
        assert all(t.tokens_exact and t.token_count.method == "tiktoken" for t in conv.turns)
        assert conv.total_tokens == sum(len(tiktoken_encoding.encode(t)) for t in TEXTS)

    def test_an_unknown_model_gets_a_labelled_estimate(self):
        conv = ConversationStateManager(model="my-local-llama")

        conv.add_turn("user", "hello there")

        (turn,) = conv.turns
        assert not turn.tokens_exact and turn.token_count.method == "estimate" and turn.tokens > 0

    @pytest.mark.parametrize(
        ("role", "content", "message"),
        [
            ("robot", "hi", "role must be one of .*got 'robot'"),
            ("user", None, "content must be a str; got NoneType"),
        ],
    )
    def test_it_rejects_a_bad_turn_naming_what_is_wrong(self, role, content, message):
        conv = ConversationStateManager()

        with pytest.raises(ContractConfigError, match=message):
            conv.add_turn(role, content)
        assert conv.turns == []

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"max_context_tokens": 0}, "max_context_tokens must be a positive int"),
            ({"enforcement": "loud"}, "enforcement must be one of strict, warn, monitor; got 'loud'"),
            ({"invariants": ["no lies"]}, "an invariant must be a Contract; got str"),
            ({"session_id": ""}, "session_id must be a non-empty str"),
        ],
    )
    def test_it_rejects_bad_options_naming_them(self, kwargs, message):
        with pytest.raises(ContractConfigError, match=message):
            ConversationStateManager(**kwargs)


class TestContextWindow:
    def test_without_a_budget_it_is_every_message(self):
        assert conversation().context_window() == [
            {"role": r, "content": t}
            for r, t in zip(["system", "user", "assistant", "user"], TEXTS, strict=True)
        ]

    def test_a_budget_that_fits_everything_drops_nothing(self):
        conv = conversation()
        full = count_message_tokens(conv.messages(), MODEL).tokens

        assert conv.context_window(full) == conv.messages()

    def test_one_token_short_drops_the_oldest_turn_and_keeps_the_system_message(self):
        conv = conversation()
        full = count_message_tokens(conv.messages(), MODEL).tokens

        window = conv.context_window(full - 1)

        assert [m["content"] for m in window] == [TEXTS[0], TEXTS[2], TEXTS[3]]
        assert count_message_tokens(window, MODEL).tokens <= full - 1

    def test_a_tight_budget_keeps_the_system_message_and_the_newest_turns(self):
        conv = conversation(max_context_tokens=None)
        system_and_last = count_message_tokens([conv.messages()[0], conv.messages()[-1]], MODEL).tokens

        window = conv.context_window(system_and_last)

        assert [m["content"] for m in window] == [TEXTS[0], TEXTS[3]]
        assert conv.context_tokens(system_and_last).tokens == system_and_last

    def test_without_keep_system_the_system_message_goes_first(self):
        conv = conversation(keep_system=False)
        last_two = count_message_tokens(conv.messages()[2:], MODEL).tokens

        assert [m["content"] for m in conv.context_window(last_two)] == TEXTS[2:]

    def test_max_context_tokens_is_the_default_budget(self):
        conv = conversation(max_context_tokens=10_000)
        conv.max_context_tokens = count_message_tokens(conv.messages(), MODEL).tokens - 1

        assert [m["content"] for m in conv.context_window()] == [TEXTS[0], TEXTS[2], TEXTS[3]]


class TestContextForContracts:
    def test_it_holds_the_session_the_last_user_message_the_apps_facts_and_token_totals(self):
        conv = conversation()
        conv.context["user_name"] = "Ada"

        assert conv.get_context_for_contracts() == {
            "user_name": "Ada",
            "session_id": "s-1",
            "turn_count": 4,
            "assistant_turns": 1,
            "last_user_message": TEXTS[3],
            "total_tokens": conv.total_tokens,
            "tokens_exact": True,
            "model": MODEL,
        }

    def test_a_fact_cannot_shadow_the_session_id(self):
        conv = conversation()
        conv.context["session_id"] = "forged"

        assert conv.get_context_for_contracts()["session_id"] == "s-1"


class TestPerTurnContracts:
    def test_a_strict_invariant_raises_at_the_turn_that_breaks_it_and_the_turn_is_kept(self):
        no_ai = RegexContract("As an AI", must_match=False, name="no_ai")
        conv = ConversationStateManager(invariants=[no_ai])

        assert conv.add_turn("assistant", "Hi.")[0].is_valid
        with pytest.raises(ContractViolationError) as caught:
            conv.add_turn("assistant", "As an AI, no.")

        assert caught.value.stage == "conversation"
        assert caught.value.violations[0].contract_name == "no_ai"
        assert "turn 2" in str(caught.value)
        assert [t.content for t in conv.turns] == ["Hi.", "As an AI, no."]

    def test_user_turns_are_not_judged(self):
        conv = ConversationStateManager(invariants=[RegexContract("never matches xyz", name="x")])

        assert conv.add_turn("user", "anything") == []

    def test_eventually_raises_exactly_at_turn_within(self):
        eventually = EventuallyContract(RegexContract("Ada"), within=3)
        conv = ConversationStateManager(temporal_contracts=[eventually])
        conv.context["user_name"] = "Ada"
        verdicts = []
        for text in ["Hello.", "How can I help?"]:
            conv.add_turn("user", "hi")
            verdicts.append(conv.add_turn("assistant", text)[0].is_valid)
        conv.add_turn("user", "hi")

        with pytest.raises(ContractViolationError):
            conv.add_turn("assistant", "Bye.")
        assert verdicts == [True, True]
        # Reported once: a fourth turn is not blamed again.
        assert conv.add_turn("assistant", "Still no name.")[0].is_valid

    def test_warn_logs_and_returns_the_verdicts(self, caplog):
        conv = ConversationStateManager(enforcement="warn", invariants=[RegexContract(r"\.$", name="period")])

        with caplog.at_level(logging.WARNING, logger="llm_contracts"):
            (result,) = conv.add_turn("assistant", "no period")

        assert not result.is_valid
        assert [r.getMessage() for r in caplog.records if r.name == "llm_contracts"] == [
            f"contract period violated: {result.message}"
        ]
        assert conv.violations == [result]

    def test_monitor_records_the_violation_silently(self, caplog):
        period = RegexContract(r"\.$", name="period")
        conv = ConversationStateManager(enforcement="monitor", invariants=[period])

        with caplog.at_level(logging.DEBUG, logger="llm_contracts"):
            (result,) = conv.add_turn("assistant", "no period")

        assert not result.is_valid and conv.violations == [result]
        assert [r for r in caplog.records if r.name == "llm_contracts"] == []

    def test_an_input_trigger_sees_only_the_messages_of_its_turn(self):
        seen: list[str] = []

        class Spy(Contract):
            def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
                seen.append(value.user_text)
                return self.ok()

        from llm_contracts import NextContract

        conv = ConversationStateManager(
            temporal_contracts=[NextContract(RegexContract(r"\w"), trigger=Spy(category="input"))]
        )
        conv.add_turn("system", "rules")
        conv.add_turn("user", "one")
        conv.add_turn("assistant", "a")
        conv.add_turn("user", "two")
        conv.add_turn("user", "three")
        conv.add_turn("assistant", "b")

        assert seen == ["one", "two\nthree"]

    async def test_aadd_turn_awaits_async_contracts(self):
        async def polite(text: str) -> bool:
            return "please" in text

        conv = ConversationStateManager(invariants=[FunctionContract(polite, name="polite")])

        assert (await conv.aadd_turn("assistant", "please wait"))[0].is_valid
        with pytest.raises(ContractViolationError):
            await conv.aadd_turn("assistant", "wait")


@pytest.fixture
def client(fake: FakeLLM) -> ContractOpenAI:
    return ContractOpenAI(api_key="test-key", http_client=fake.http_client(), max_retries=0)


class TestRecordingByTheClient:
    def test_each_call_records_the_new_user_message_and_the_answer(self, client, fake):
        fake.reply("Hello Ada.", "It ships today.")
        history: list[Any] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]

        with client.conversation("s-1") as conv:
            first = client.chat.completions.create(model=MODEL, messages=history)
            history += [
                {"role": "assistant", "content": first.choices[0].message.content},
                {"role": "user", "content": "Where is my order?"},
            ]
            client.chat.completions.create(model=MODEL, messages=history)

        assert [(t.role, t.content) for t in conv.turns] == [
            ("system", "Be brief."),
            ("user", "Hi"),
            ("assistant", "Hello Ada."),
            ("user", "Where is my order?"),
            ("assistant", "It ships today."),
        ]
        assert conv.model == MODEL and conv.turns[2].metadata["model"] == MODEL

    def test_an_app_that_sends_only_the_new_message_gets_the_same_turns(self, client, fake):
        fake.reply("Hello.", "Sure.")

        with client.conversation("s-1") as conv:
            for text in ["Hi", "Help me"]:
                client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
                )

        assert [(t.role, t.content) for t in conv.turns] == [
            ("system", "Be brief."),
            ("user", "Hi"),
            ("assistant", "Hello."),
            ("user", "Help me"),
            ("assistant", "Sure."),
        ]

    def test_sending_the_context_window_continues_the_conversation(self, client, fake):
        fake.reply("One.", "Two.", "Three.")

        with client.conversation("s-1", max_context_tokens=30) as conv:
            conv.add_turn("system", "Be brief.")
            for text in ["first question", "second question", "third question"]:
                conv.add_turn("user", text)
                client.chat.completions.create(model=MODEL, messages=conv.context_window())

        assert [(t.role, t.content) for t in conv.turns] == [
            ("system", "Be brief."),
            ("user", "first question"),
            ("assistant", "One."),
            ("user", "second question"),
            ("assistant", "Two."),
            ("user", "third question"),
            ("assistant", "Three."),
        ]
        assert len(fake.requests[-1]["messages"]) < len(conv.turns) - 1  # the window was trimmed
        # The system turn, added before the first call told the model, is counted exactly too.
        assert all(t.tokens_exact for t in conv.turns)

    def test_the_responses_api_is_recorded_too(self, client, fake):
        fake.reply("Hello.")

        with client.conversation("s-1") as conv:
            client.responses.create(model=MODEL, input="Hi there")

        assert [(t.role, t.content) for t in conv.turns] == [("user", "Hi there"), ("assistant", "Hello.")]

    def test_calls_outside_the_block_are_not_recorded_and_the_block_ends_cleanly(self, client, fake):
        fake.reply("a", "b", "c")

        with pytest.raises(RuntimeError), client.conversation("s-1") as conv:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "in"}])
            raise RuntimeError("the app failed")
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "out"}])

        assert active_conversation() is None
        assert [t.content for t in conv.turns] == ["in", "a"]

    def test_an_existing_conversation_can_be_continued(self, client, fake):
        fake.reply("a", "b")
        conv = ConversationStateManager("s-1")

        with client.conversation(conv):
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "one"}])
        with client.conversation(conv) as again:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "two"}])

        assert again is conv and conv.assistant_turns == 2

    def test_it_rejects_an_unknown_option_naming_it(self, client):
        with pytest.raises(ContractConfigError, match="unknown conversation option.*max_tokens"):
            client.conversation("s-1", max_tokens=10)

    def test_input_contracts_read_the_apps_facts(self, client, fake):
        class GreetsUser(Contract):
            def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
                name = context.conversation.get_context_for_contracts().get("user_name")
                return self.ok() if name in value.prompt_text else self.fail(f"the prompt omits {name}")

        client.add_contract(GreetsUser(category="input"))

        with client.conversation("s-1") as conv:
            conv.context["user_name"] = "Ada"
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "I am Ada"}])
            with pytest.raises(ContractViolationError, match="the prompt omits Ada"):
                client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])

        assert conv.assistant_turns == 1

    def test_output_contracts_see_the_answer_being_judged_as_the_latest_turn(self, client, fake):
        seen: list[dict[str, Any]] = []

        class Spy(Contract):
            def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
                state = context.conversation
                seen.append(
                    {
                        **state.get_context_for_contracts(),
                        "last": state.turns[-1].content,
                        "turn": state.turn_number,
                    }
                )
                return self.ok()

        client.add_contract(Spy())
        fake.reply("Hello.", "Fine.")

        with client.conversation("s-1") as conv:
            for text in ["Hi", "How are you?"]:
                client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}])

        assert [(s["turn"], s["turn_count"], s["last"], s["last_user_message"]) for s in seen] == [
            (1, 2, "Hello.", "Hi"),
            (2, 4, "Fine.", "How are you?"),
        ]
        assert seen[-1]["total_tokens"] == conv.total_tokens

    async def test_the_async_client_records_turns_in_async_with(self, fake):
        from llm_contracts import AsyncContractOpenAI

        client = AsyncContractOpenAI(api_key="test-key", http_client=fake.async_http_client(), max_retries=0)
        fake.reply("Hello.")

        async with client.conversation("s-1") as conv:
            await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])

        assert [(t.role, t.content) for t in conv.turns] == [("user", "Hi"), ("assistant", "Hello.")]
