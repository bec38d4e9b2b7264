"""Token counting: exact with the bundled encodings, labelled estimates otherwise, never a download."""

from __future__ import annotations

import gzip
import logging
import threading
from pathlib import Path

import pytest

tiktoken = pytest.importorskip("tiktoken")

from llm_contracts.contracts import _tokens  # noqa: E402
from llm_contracts.contracts._tokens import (  # noqa: E402
    TokenizerDataError,
    count_message_tokens,
    count_tokens,
    encoding_name_for,
    estimate_tokens,
    get_encoding,
    load_bpe_ranks,
    message_token_bound,
    model_limits,
    truncate_to_tokens,
    utf8_len,
)
from llm_contracts.contracts._types import Message  # noqa: E402

TEXTS = [
    "hello world",
    "Design by Contract for LLM APIs: preconditions, postconditions, invariants.",
    "naïve café, Grüße aus Köln — 東京は晴れです 🤖🚀",
    "def f(x):\n    return x ** 2  # squared\n\n\n",
    "   leading and trailing spaces   ",
    "<|endoftext|> is plain text when a user writes it",
    "1234567890 3.14159 2024-01-15",
]

DATA = Path(_tokens.__file__).resolve().parent.parent / "_data"


@pytest.fixture
def fresh_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the loaded encodings and failures, so a test sees the loader work from scratch."""
    monkeypatch.setattr(_tokens, "_ENCODINGS", {})
    monkeypatch.setattr(_tokens, "_FAILED", {})
    monkeypatch.setattr(_tokens, "_MODEL_ENCODINGS", {})
    monkeypatch.setattr(_tokens, "_CACHE", _tokens._CountCache())
    monkeypatch.setattr(_tokens, "_SMALL", {})


def _corrupt_copy(tmp_path: Path, name: str) -> Path:
    data = bytearray(gzip.decompress((DATA / f"{name}.tiktoken.gz").read_bytes()))
    data[100] ^= 0x01
    path = tmp_path / f"{name}.tiktoken.gz"
    path.write_bytes(gzip.compress(bytes(data)))
    return path


class TestExactCounts:
    @pytest.mark.parametrize("text", TEXTS)
    @pytest.mark.parametrize(("model", "encoding"), [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")])
    def test_it_counts_exactly_what_the_encoding_encodes(self, text: str, model: str, encoding: str) -> None:
        count = count_tokens(text, model)

        assert count.tokens == len(get_encoding(encoding).encode_ordinary(text))
        assert (count.exact, count.encoding, count.method) == (True, encoding, "tiktoken")

    def test_the_bundled_encodings_give_openais_token_ids(self) -> None:
        assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
        assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]

    @pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
    def test_the_bundled_encoding_matches_tiktokens_own_definition(
        self, name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from tiktoken_ext import openai_public

        ours = get_encoding(name)
        # tiktoken's constructor would download the ranks: hand it ours and compare the rest.
        monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **kw: ours._mergeable_ranks)
        spec = getattr(openai_public, name)()

        assert ours.name == spec["name"]
        assert ours._pat_str == spec["pat_str"]
        assert ours._special_tokens == spec["special_tokens"]

    def test_text_that_spells_a_special_token_is_counted_as_plain_text(self) -> None:
        count = count_tokens("<|endoftext|>", "gpt-4o")

        assert count.tokens == len(get_encoding("o200k_base").encode_ordinary("<|endoftext|>")) > 1

    def test_fine_tunes_and_snapshots_use_their_base_models_encoding(self) -> None:
        assert encoding_name_for("gpt-4o-2024-08-06") == "o200k_base"
        assert encoding_name_for("ft:gpt-4o-mini-2024-07-18:acme::abc123") == "o200k_base"
        assert encoding_name_for("gpt-3.5-turbo-0125") == "cl100k_base"

    def test_the_gpt_oss_encoding_counts_like_o200k(self) -> None:
        count = count_tokens("hello there, world", encoding="o200k_harmony")

        assert count.exact and count.tokens == count_tokens("hello there, world", "gpt-4o").tokens


class TestEstimates:
    def test_an_unknown_model_gets_a_labelled_estimate(self) -> None:
        count = count_tokens("The quick brown fox jumps over the lazy dog.", "my-local-llama")

        assert (count.exact, count.encoding, count.method) == (False, None, "estimate")
        assert count.tokens == estimate_tokens("The quick brown fox jumps over the lazy dog.") > 0

    def test_without_tiktoken_every_count_is_an_estimate(
        self, fresh_loader: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_tokens, "_import_tiktoken", lambda: None)

        count = count_message_tokens([Message("user", "hello world")], "gpt-4o")

        assert (count.exact, count.method, count.encoding) == (False, "estimate", None)
        assert not _tokens.tiktoken_available()

    @pytest.mark.parametrize("text", [*TEXTS, "a", "x" * 1000, "ü" * 50, "word " * 300])
    def test_the_estimate_stays_between_a_quarter_of_the_bytes_and_the_bytes(self, text: str) -> None:
        n = estimate_tokens(text)

        assert utf8_len(text) / 4 <= n <= utf8_len(text)

    def test_an_empty_text_is_zero_tokens_either_way(self) -> None:
        assert count_tokens("", "gpt-4o").tokens == 0
        assert count_tokens("", "unknown-model").tokens == 0


class TestBundledFiles:
    def test_loading_never_reaches_for_the_network(
        self, fresh_loader: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import tiktoken.load

        def no_network(*args: object, **kwargs: object) -> bytes:
            raise AssertionError("tiktoken tried to fetch a file")

        monkeypatch.setattr(tiktoken.load, "read_file", no_network)
        monkeypatch.setattr(tiktoken.load, "read_file_cached", no_network)

        assert count_tokens("hello world", "gpt-4o").exact

    def test_a_corrupted_file_fails_the_hash_check(self, tmp_path: Path) -> None:
        path = _corrupt_copy(tmp_path, "cl100k_base")
        expected = _tokens._BUNDLED["cl100k_base"][0]

        with pytest.raises(TokenizerDataError, match="corrupt: sha256"):
            load_bpe_ranks(path, expected)

    def test_the_intact_file_passes_the_hash_check(self) -> None:
        ranks = load_bpe_ranks(DATA / "cl100k_base.tiktoken.gz", _tokens._BUNDLED["cl100k_base"][0])

        assert len(ranks) == 100256

    def test_a_file_that_is_not_gzip_is_rejected(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.gz"
        path.write_bytes(b"not gzip at all")

        with pytest.raises(TokenizerDataError, match="cannot read"):
            load_bpe_ranks(path, "0" * 64)

    def test_a_corrupted_bundled_file_degrades_to_a_logged_estimate(
        self,
        fresh_loader: None,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        bad = _corrupt_copy(tmp_path, "o200k_base")
        monkeypatch.setattr(_tokens, "_bundled_path", lambda name: bad)

        with caplog.at_level(logging.ERROR, logger="llm_contracts"):
            first = count_tokens("hello world", "gpt-4o")
            second = count_tokens("hello world", "gpt-4o")

        assert (first.exact, first.method) == (False, "estimate") and not second.exact
        assert len([r for r in caplog.records if "corrupt" in r.getMessage()]) == 1

    def test_concurrent_first_uses_load_an_encoding_once(
        self, fresh_loader: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        loads = []
        real = _tokens.load_bpe_ranks

        def counting(*args: object, **kwargs: object) -> dict[bytes, int]:
            loads.append(args)
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(_tokens, "load_bpe_ranks", counting)
        got: list[object] = []
        barrier = threading.Barrier(6)

        def use() -> None:
            barrier.wait()
            got.append(get_encoding("cl100k_base"))

        threads = [threading.Thread(target=use) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert len(loads) == 1
        assert len(got) == 6 and all(enc is got[0] for enc in got)


class TestMessages:
    def test_a_chat_prompt_adds_openais_per_message_and_reply_overheads(self) -> None:
        enc = get_encoding("o200k_base")
        messages = [Message("system", "You are terse."), Message("user", "Hi there", name="ada")]

        expected = 3 + sum(3 + len(enc.encode(m.role)) + len(enc.encode(m.content)) for m in messages)
        expected += len(enc.encode("ada")) + 1

        assert count_message_tokens(messages, "gpt-4o").tokens == expected

    def test_dict_messages_and_content_parts_count_like_messages(self) -> None:
        as_dicts = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hello"},
                    {"type": "image_url", "image_url": {"url": "x"}},
                ],
            }
        ]

        assert count_message_tokens(as_dicts, "gpt-4o") == count_message_tokens(
            [Message("user", "hello")], "gpt-4o"
        )

    def test_a_resent_history_is_not_counted_again(self) -> None:
        history = [Message("system", "You answer questions about invoices, carefully and briefly.")]
        history += [Message("user", f"question number {i} about invoice {i * 7}") for i in range(20)]
        count_message_tokens([*history, Message("user", "first new question")], "gpt-4o")
        misses = _tokens._CACHE.misses

        count_message_tokens([*history, Message("user", "second, different new question")], "gpt-4o")

        assert _tokens._CACHE.misses - misses == 1

    def test_the_byte_bound_is_never_below_the_count(self) -> None:
        messages = [Message("user", t) for t in TEXTS] + [Message("assistant", "ok", name="bot")]

        assert message_token_bound(messages) >= count_message_tokens(messages, "gpt-4o").tokens
        assert message_token_bound(messages) >= count_message_tokens(messages, "gpt-4").tokens
        assert message_token_bound(messages) >= count_message_tokens(messages, "unknown").tokens

    def test_the_byte_bound_stops_early_above_a_limit(self) -> None:
        messages = [Message("user", "ü" * 1000), Message("user", "x" * 1000)]

        assert message_token_bound(messages, stop_above=100) > 100
        assert message_token_bound(messages) == 3 + 2 * 3 + 8 + 2000 + 1000


class TestCountCache:
    def test_it_evicts_the_least_recently_used_beyond_its_entry_bound(self) -> None:
        cache = _tokens._CountCache(max_entries=2)
        cache.put_many("e", [("a", 1), ("b", 2)])
        cache.get_many("e", ["a"])
        cache.put_many("e", [("c", 3)])

        assert cache.get_many("e", ["a", "b", "c"]) == [1, None, 3]

    def test_it_stays_within_its_character_bound(self) -> None:
        cache = _tokens._CountCache(max_entries=100, max_chars=10)
        cache.put_many("e", [("abcdef", 1), ("ghijkl", 2), ("x" * 11, 3)])

        assert len(cache) == 1 and cache.get_many("e", ["ghijkl", "x" * 11]) == [2, None]

    def test_encodings_do_not_share_counts(self) -> None:
        cache = _tokens._CountCache()
        cache.put_many("o200k_base", [("hello", 1)])

        assert cache.get_many("cl100k_base", ["hello"]) == [None]


class TestTruncation:
    TEXT = "one two three four five six seven eight nine ten — 東京 " * 20

    @pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "unknown-model"])
    @pytest.mark.parametrize("keep", ["head", "tail"])
    def test_it_keeps_the_longest_part_within_the_limit(self, model: str, keep: str) -> None:
        out = truncate_to_tokens(self.TEXT, 25, model, keep=keep)

        assert 0 < count_tokens(out, model).tokens <= 25
        assert self.TEXT.startswith(out) if keep == "head" else self.TEXT.endswith(out)

    def test_a_text_within_the_limit_is_returned_whole(self) -> None:
        assert truncate_to_tokens("short", 10, "gpt-4o") == "short"


class TestModelLimits:
    def test_known_models_snapshots_and_fine_tunes_have_limits(self) -> None:
        assert model_limits("gpt-4o").context_window == 128_000  # type: ignore[union-attr]
        assert model_limits("gpt-4o-mini-2024-07-18") == model_limits("gpt-4o-mini")
        assert model_limits("ft:gpt-4.1-mini-2025-04-14:acme::x1") == model_limits("gpt-4.1-mini")
        assert model_limits("gpt-4-0613").max_output_tokens == 8_192  # type: ignore[union-attr]
        assert model_limits("o3-mini").reasoning  # type: ignore[union-attr]

    def test_an_unknown_model_has_no_limits(self) -> None:
        assert model_limits("my-local-llama") is None
        assert model_limits("") is None
