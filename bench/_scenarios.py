"""The scenarios: the same call made through each client, and the token counting checks."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import instructor
from pydantic import ValidationError

from llm_contracts import ContractOpenAI, get_report
from llm_contracts.contracts import (
    JSONFormatContract,
    LLMRequest,
    Message,
    PromptLengthContract,
    RegexContract,
    ValidationContext,
)

from ._fixtures import (
    FORBIDDEN_PATTERN,
    MESSAGES,
    MODEL,
    TICKET_PATTERN,
    TICKET_SCHEMA,
    VALID_ANSWER,
    Ticket,
    Transport,
    client_options,
    raw_client,
    stream_pieces,
    words_text,
)
from ._harness import Scenario

# Table names; run.py's goal checks refer to them.
RAW = "raw openai"
RAW_PYDANTIC = "raw + pydantic"
WRAP_NONE = "wrapper, no contracts"
WRAP_THREE = "wrapper, 3 contracts"
INSTRUCTOR = "instructor"
RETRY_HAND = "re-ask: hand loop"
RETRY_WRAP = "re-ask: wrapper"
RETRY_INSTRUCTOR = "re-ask: instructor"
STREAM_RAW = "stream: raw"
STREAM_WRAP_NONE = "stream: wrapper, none"
STREAM_WRAP = "stream: wrapper + regex"
STREAM_HOLD = "stream: wrapper + regex, hold_back"
TOK_INCREMENTAL = "tokens a: +1 message"
TOK_FRESH = "tokens b: fresh 4k"
TOK_TIKTOKEN = "tokens b: tiktoken encode"
TOK_ORDINARY = "tokens b: encode_ordinary"
TOK_BYTES = "tokens c: under byte limit"
SEM_TOPIC = "semantic: on_topic, 200 words"
SEM_SIMILARITY = "semantic: similarity, 200 words"
SEM_WORDS = 200

LIMIT = 4000


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def three_contracts() -> dict[str, Any]:
    return {
        "input_contracts": [PromptLengthContract(max_tokens=LIMIT)],
        "output_contracts": [JSONFormatContract(schema=TICKET_SCHEMA), RegexContract(TICKET_PATTERN)],
    }


def http_scenarios() -> list[Scenario]:
    """Return scenarios 1-7: one chat completion made through each client."""
    out: list[Scenario] = []
    valid = Transport()

    raw = raw_client(valid.valid)
    create = raw.chat.completions.create

    def raw_call(_: Any) -> Any:
        return create(model=MODEL, messages=MESSAGES)

    def raw_check() -> None:
        _expect(raw_call(None).choices[0].message.content == VALID_ANSWER, "raw answer")

    out.append(Scenario(RAW, raw_call, check=raw_check))

    def raw_pydantic(_: Any) -> Ticket:
        completion = create(model=MODEL, messages=MESSAGES)
        return Ticket.model_validate_json(completion.choices[0].message.content or "")

    out.append(
        Scenario(
            RAW_PYDANTIC,
            raw_pydantic,
            baseline=RAW,
            check=lambda: _expect(isinstance(raw_pydantic(None), Ticket), "pydantic model"),
        )
    )

    for name, kwargs, results in ((WRAP_NONE, {}, 0), (WRAP_THREE, three_contracts(), 3)):
        out.append(_wrapper_scenario(name, ContractOpenAI(**client_options(valid.valid), **kwargs), results))

    ic = instructor.from_openai(raw_client(valid.valid), mode=instructor.Mode.JSON)

    def instructor_call(_: Any) -> Ticket:
        return ic.chat.completions.create(
            model=MODEL, messages=MESSAGES, response_model=Ticket, max_retries=0
        )

    out.append(
        Scenario(
            INSTRUCTOR,
            instructor_call,
            baseline=RAW,
            check=lambda: _expect(isinstance(instructor_call(None), Ticket), "instructor model"),
        )
    )
    out += _reask_scenarios()
    out += _stream_scenarios()
    return out


def _wrapper_scenario(name: str, client: ContractOpenAI, results: int) -> Scenario:
    create = client.chat.completions.create

    def call(_: Any) -> Any:
        return create(model=MODEL, messages=MESSAGES)

    def check() -> None:
        report = get_report(call(None))
        assert report is not None, f"{name}: a report"
        _expect(report.outcome == "passed", f"{name}: outcome passed")
        _expect(len(report.results) == results, f"{name}: {results} verdicts, got {len(report.results)}")

    return Scenario(name, call, baseline=RAW, check=check)


def _counting_check(
    name: str, transport: Transport, call: Callable[[Any], Any], verdict: Callable[[Any], bool]
) -> Callable[[], None]:
    def check() -> None:
        before = transport.requests
        result = call(None)
        _expect(transport.requests - before == 2, f"{name}: 2 requests, got {transport.requests - before}")
        _expect(verdict(result), f"{name}: valid final answer")

    return check


def _reask_scenarios() -> list[Scenario]:
    """Scenario 6: the first answer breaks the schema, the re-ask's answer is valid."""
    out: list[Scenario] = []

    hand = Transport()
    create = raw_client(hand.invalid_then_valid).chat.completions.create

    def hand_loop(_: Any) -> Ticket:
        messages: list[Any] = list(MESSAGES)
        for _attempt in range(2):
            content = create(model=MODEL, messages=messages).choices[0].message.content or ""
            try:
                return Ticket.model_validate_json(content)
            except ValidationError as exc:
                messages = [
                    *messages,
                    {"role": "assistant", "content": content},
                    {"role": "user", "content": f"Fix these errors and answer again:\n{exc}"},
                ]
        raise AssertionError("the re-ask did not repair the answer")

    out.append(
        Scenario(
            RETRY_HAND,
            hand_loop,
            check=_counting_check(RETRY_HAND, hand, hand_loop, lambda r: isinstance(r, Ticket)),
        )
    )

    wrapped = Transport()
    wcreate = ContractOpenAI(
        **client_options(wrapped.invalid_then_valid), contract_retries=1, **three_contracts()
    ).chat.completions.create

    def wrapper_loop(_: Any) -> Any:
        return wcreate(model=MODEL, messages=MESSAGES)

    def repaired(result: Any) -> bool:
        report = get_report(result)
        return report is not None and report.outcome == "repaired"

    out.append(
        Scenario(
            RETRY_WRAP,
            wrapper_loop,
            baseline=RETRY_HAND,
            check=_counting_check(RETRY_WRAP, wrapped, wrapper_loop, repaired),
        )
    )

    inst = Transport()
    ic = instructor.from_openai(raw_client(inst.invalid_then_valid), mode=instructor.Mode.JSON)

    def instructor_loop(_: Any) -> Ticket:
        return ic.chat.completions.create(
            model=MODEL, messages=MESSAGES, response_model=Ticket, max_retries=INSTRUCTOR_RETRIES
        )

    out.append(
        Scenario(
            RETRY_INSTRUCTOR,
            instructor_loop,
            baseline=RETRY_HAND,
            check=_counting_check(RETRY_INSTRUCTOR, inst, instructor_loop, lambda r: isinstance(r, Ticket)),
        )
    )
    return out


# instructor counts attempts, not re-asks: max_retries=2 is one first ask and one re-ask.
INSTRUCTOR_RETRIES = 2


def _stream_scenarios() -> list[Scenario]:
    """Scenario 7: the same 200-chunk answer streamed through each client."""
    expected = "".join(stream_pieces())
    out: list[Scenario] = []
    clients: list[tuple[str, Any, str | None]] = [
        (STREAM_RAW, raw_client(Transport().stream), None),
        (STREAM_WRAP_NONE, ContractOpenAI(**client_options(Transport().stream)), STREAM_RAW),
        (
            STREAM_WRAP,
            ContractOpenAI(
                **client_options(Transport().stream),
                output_contracts=[RegexContract(FORBIDDEN_PATTERN, must_match=False)],
            ),
            STREAM_RAW,
        ),
        # A holding policy: each chunk waits until the pattern can no longer match into it.
        (
            STREAM_HOLD,
            ContractOpenAI(
                **client_options(Transport().stream),
                stream_policy="hold_back:8",
                output_contracts=[RegexContract(FORBIDDEN_PATTERN, must_match=False)],
            ),
            STREAM_RAW,
        ),
    ]
    for name, client, baseline in clients:
        out.append(_stream_scenario(name, client, baseline, expected))
    return out


def _stream_scenario(name: str, client: Any, baseline: str | None, expected: str) -> Scenario:
    create = client.chat.completions.create

    def call(_: Any) -> str:
        parts = []
        for chunk in create(model=MODEL, messages=MESSAGES, stream=True):
            if chunk.choices:
                delta = chunk.choices[0].delta.content
                if delta:
                    parts.append(delta)
        return "".join(parts)

    def check() -> None:
        _expect(call(None) == expected, f"{name}: streamed text")
        if isinstance(client, ContractOpenAI):
            _expect(
                client.last_report is not None and client.last_report.outcome == "passed",
                f"{name}: outcome passed",
            )
            streaming = client._contract_settings.engine.streaming_contracts
            _expect(
                bool(streaming) == (name in (STREAM_WRAP, STREAM_HOLD)),
                f"{name}: streaming contracts {streaming}",
            )

    return Scenario(name, call, baseline=baseline, check=check)


# -- scenario 8: token counting, timed on the contract itself ----------------------------------


class _Texts:
    """Fresh prose texts, each made once and shared by the scenarios that read text ``i``."""

    def __init__(self, seed: int, words: int) -> None:
        self.seed = seed
        self.words = words
        self.made: dict[int, str] = {}

    def __getitem__(self, i: int) -> str:
        text = self.made.get(i)
        if text is None:
            text = self.made[i] = words_text(random.Random(self.seed * 1_000_003 + i), self.words)
        return text


def token_scenarios(seed: int, *, fresh_block: int) -> tuple[list[Scenario], dict[str, str]]:
    """Return scenario 8 (a, b, c) and notes on the texts they use."""
    from llm_contracts.contracts._tokens import _CACHE, encoding_name_for, get_encoding

    enc = get_encoding(encoding_name_for(MODEL) or "o200k_base")
    _expect(enc is not None, "tiktoken and the bundled encoding are needed for the token scenarios")
    contract = PromptLengthContract(max_tokens=LIMIT)
    validate = contract.validate
    ctx = ValidationContext()
    notes: dict[str, str] = {}
    out: list[Scenario] = []

    def request(messages: list[Message]) -> LLMRequest:
        return LLMRequest(model=MODEL, messages=messages)

    def passes(req: LLMRequest) -> bool:
        return validate(req, ctx).is_valid

    # (a) a conversation: each call resends the previous call's messages plus one new one.
    rng = random.Random(seed)
    history = [Message("system", words_text(rng, 220))]
    for _ in range(4):
        history += [Message("user", words_text(rng, 60)), Message("assistant", words_text(rng, 90))]
    new_words = 155
    new_texts = _Texts(seed + 1, new_words)
    counter = iter(range(10**9))
    per_block = 12  # keeps the conversation under the limit: about 1,100 + 12 x 200 tokens

    def grow(n: int) -> list[LLMRequest]:
        messages = list(history)
        reqs = []
        for _ in range(n):
            messages = [*messages, Message("user", new_texts[next(counter)])]
            reqs.append(request(messages))
        return reqs

    def check_a() -> None:
        reqs = grow(per_block)
        for r in reqs[:-1]:
            passes(r)
        misses = _CACHE.misses
        _expect(passes(reqs[-1]), f"{TOK_INCREMENTAL}: passes the limit")
        _expect(
            _CACHE.misses - misses <= 1,
            f"{TOK_INCREMENTAL}: only the new message is counted ({_CACHE.misses - misses} cache misses)",
        )

    out.append(
        Scenario(
            TOK_INCREMENTAL, validate_one(validate, ctx), prepare=grow, check=check_a, max_block=per_block
        )
    )
    hist_tokens = sum(len(enc.encode_ordinary(m.content)) for m in history)
    notes[TOK_INCREMENTAL] = (
        f"history {len(history)} messages / {hist_tokens} tokens, then {per_block} "
        f"calls each adding a ~{len(enc.encode_ordinary(new_texts[-1]))}-token "
        f"message; goal < 50 µs"
    )

    # (b) a fresh ~3,900-token prompt (under the limit with the chat overhead) vs tiktoken.
    probe = words_text(random.Random(seed), 1000)
    words = int(1000 * 3900 / len(enc.encode_ordinary(probe)))
    fresh = _Texts(seed + 2, words)
    warm = _Texts(seed + 3, words)
    sources: list[dict[str, Any]] = []

    def fresh_source() -> Callable[[int], list[str]]:
        # Warm-up reads its own texts; the timed blocks of every 'tokens b' row then read
        # fresh[0], fresh[1], ... in the same order.
        state: dict[str, Any] = {"pool": warm, "next": 0}
        sources.append(state)

        def take(n: int) -> list[str]:
            start = state["next"]
            state["next"] += n
            return [state["pool"][i] for i in range(start, start + n)]

        return take

    def timed_texts() -> None:
        for state in sources:
            state["pool"], state["next"] = fresh, 0

    def as_requests(take: Callable[[int], list[str]]) -> Callable[[int], list[LLMRequest]]:
        return lambda n: [request([Message("user", t)]) for t in take(n)]

    def check_b() -> None:
        req = request([Message("user", fresh[10**6])])
        result = validate(req, ctx)
        _expect(result.is_valid, f"{TOK_FRESH}: passes the limit ({result.message})")

    out.append(
        Scenario(
            TOK_FRESH,
            validate_one(validate, ctx),
            baseline=TOK_TIKTOKEN,
            prepare=as_requests(fresh_source()),
            check=check_b,
        )
    )
    encode, ordinary = enc.encode, enc.encode_ordinary
    out.append(Scenario(TOK_TIKTOKEN, encode, prepare=fresh_source()))
    out.append(Scenario(TOK_ORDINARY, ordinary, baseline=TOK_TIKTOKEN, prepare=fresh_source()))
    for s in out[-3:]:
        s.max_block = s.block = fresh_block
        s.fixed = True
    out[-1].after_warmup = timed_texts  # the last of the three to warm up switches all of them
    notes[TOK_FRESH] = (
        f"one user message of ~{len(enc.encode_ordinary(fresh[10**6]))} tokens "
        f"({len(fresh[10**6].encode()):,} bytes), new every call, the same texts in the "
        f"same order for the three 'tokens b' rows; goal <= tiktoken encode + 10%"
    )

    # (c) a prompt whose UTF-8 length is under the limit: no tokenizer needed.
    base = words_text(random.Random(seed + 4), 520)
    _expect(len(base.encode()) < LIMIT - 200, "the short prompt fits in bytes")
    system = Message("system", MESSAGES[0]["content"])
    serial = iter(range(10**9))

    def short(n: int) -> list[LLMRequest]:
        return [request([system, Message("user", f"{next(serial):09d} {base}")]) for _ in range(n)]

    def check_c() -> None:
        req = short(1)[0]
        calls: list[str] = []
        original = enc.encode_ordinary

        def spy(text: str, *a: Any, **k: Any) -> Any:
            calls.append(text)
            return original(text, *a, **k)

        enc.encode_ordinary = spy
        try:
            hits, misses = _CACHE.hits, _CACHE.misses
            _expect(passes(req), f"{TOK_BYTES}: passes")
            _expect(
                not calls and (_CACHE.hits, _CACHE.misses) == (hits, misses),
                f"{TOK_BYTES}: counted tokens ({len(calls)} encodes) though the bytes fit",
            )
        finally:
            del enc.encode_ordinary

    out.append(Scenario(TOK_BYTES, validate_one(validate, ctx), prepare=short, check=check_c, max_block=300))
    size = sum(len(m.content.encode()) for m in short(1)[0].messages)
    notes[TOK_BYTES] = f"system + user message, {size:,} bytes in all, new every call; goal: no tokenizer"
    return out, notes


def validate_one(validate: Callable[..., Any], ctx: ValidationContext) -> Callable[[Any], Any]:
    def call(req: Any) -> Any:
        return validate(req, ctx)

    return call


def semantic_scenarios(seed: int) -> tuple[list[Scenario], dict[str, str]]:
    """Return the semantic contracts' scenarios: one check of a fresh 200-word answer each."""
    import itertools

    from llm_contracts.contracts import LLMResponse, SimilarityContract, TopicContract

    topic = TopicContract(allowed=["billing and payments", "shipping and delivery", "returns and refunds"])
    similar = SimilarityContract(
        reference="Refunds reach your card within five to seven business days.", min_similarity=0.5
    )
    texts = _Texts(seed + 16, SEM_WORDS)
    counter = itertools.count()

    def fresh(n: int) -> list[LLMResponse]:
        return [LLMResponse(text=texts[next(counter) % 4096]) for _ in range(n)]

    def check() -> None:
        answer = LLMResponse(text=texts[0])
        _expect(len(answer.text.split()) == SEM_WORDS, f"{SEM_TOPIC}: a {SEM_WORDS}-word answer")
        _expect("allowed" in topic.validate(answer).details, f"{SEM_TOPIC}: scored the topics")
        _expect("similarity" in similar.validate(answer).details, f"{SEM_SIMILARITY}: scored the reference")

    ctx = ValidationContext()
    notes = {
        SEM_TOPIC: "TopicContract, 3 topics, WordLlama shipped model; goal < 1 ms",
        SEM_SIMILARITY: "SimilarityContract, 1 reference; goal < 1 ms",
    }
    out = [
        Scenario(SEM_TOPIC, validate_one(topic.validate, ctx), prepare=fresh, check=check, max_block=500),
        Scenario(SEM_SIMILARITY, validate_one(similar.validate, ctx), prepare=fresh, max_block=500),
    ]
    return out, notes
