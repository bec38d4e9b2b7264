"""Record and replay through the pytest plugin, with the real openai client over a real local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_pytest_plugin import run

SECRET = "sk-test-secret-key-123"

CLIENTS = """
import os

import pytest

from llm_contracts import AsyncContractOpenAI, ContractOpenAI, FunctionContract

URL = {url!r}
KEY = {key!r}
MESSAGES = [{{"role": "user", "content": "Where is my order?"}}]
NO_SORRY = FunctionContract(lambda text: "sorry" not in text, name="no_sorry")


def client(**kwargs):
    return ContractOpenAI(api_key=KEY, base_url=URL, max_retries=0, output_contracts=[NO_SORRY],
                          default_headers={{"x-team": "payments"}}, **kwargs)
"""


def make_tests(pytester: pytest.Pytester, url: str, body: str) -> None:
    pytester.makepyfile(test_support=CLIENTS.format(url=url, key=SECRET) + body)


def cassette(pytester: pytest.Pytester, name: str, ext: str = "json") -> Path:
    return pytester.path / "cassettes" / "test_support" / f"{name}.{ext}"


ANSWER = """
@pytest.mark.llm_cassette
def test_answer():
    reply = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert reply.choices[0].message.content == "Recorded answer."
"""


def test_once_records_a_readable_cassette_without_keys_and_replays_it_without_the_network(
    pytester: pytest.Pytester, model_server, monkeypatch
):
    monkeypatch.delenv("CI", raising=False)
    make_tests(pytester, model_server.url, ANSWER)

    recorded = run(pytester)
    model_server.close()  # the network is gone: only the cassette can answer now
    replayed = run(pytester)

    recorded.assert_outcomes(passed=1)
    replayed.assert_outcomes(passed=1)
    assert model_server.requests == 1
    assert model_server.headers[0]["authorization"] == f"Bearer {SECRET}"
    text = cassette(pytester, "test_answer").read_text()
    assert SECRET not in text and "secret-cookie" not in text
    entry = json.loads(text)["interactions"][0]
    assert entry["request"]["method"] == "POST"
    assert entry["request"]["url"] == f"{model_server.url}/chat/completions"
    assert entry["request"]["json"]["messages"] == [{"role": "user", "content": "Where is my order?"}]
    assert "authorization" not in entry["request"]["headers"]
    assert entry["request"]["headers"]["x-team"] == "payments"
    assert entry["response"]["status"] == 200
    assert entry["response"]["json"]["choices"][0]["message"]["content"] == "Recorded answer."
    assert entry["response"]["headers"]["x-request-id"] == "req_123"
    assert "set-cookie" not in entry["response"]["headers"]


def test_streams_are_recorded_event_by_event_and_replayed_in_pieces_sync_and_async(
    pytester: pytest.Pytester, model_server, monkeypatch
):
    monkeypatch.delenv("CI", raising=False)
    make_tests(
        pytester,
        model_server.url,
        """
@pytest.mark.llm_cassette
def test_stream():
    stream = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1
    assert "".join(pieces) == "Recorded answer."


@pytest.mark.llm_cassette
async def test_async_stream():
    client = AsyncContractOpenAI(api_key=KEY, base_url=URL, max_retries=0, output_contracts=[NO_SORRY])
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "Recorded answer."
""",
    )

    recorded = run(pytester)
    model_server.close()
    replayed = run(pytester)

    recorded.assert_outcomes(passed=2)
    replayed.assert_outcomes(passed=2)
    entry = json.loads(cassette(pytester, "test_stream").read_text())["interactions"][0]
    events = entry["response"]["sse"]
    assert events[-1] == "data: [DONE]"
    assert all(event.startswith("data: ") for event in events)
    async_entry = json.loads(cassette(pytester, "test_async_stream").read_text())["interactions"][0]
    assert async_entry["response"]["sse"][-1] == "data: [DONE]"


def test_in_ci_a_request_missing_from_the_cassette_fails_naming_it_and_never_reaches_the_network(
    pytester: pytest.Pytester, model_server, monkeypatch
):
    monkeypatch.delenv("CI", raising=False)
    make_tests(pytester, model_server.url, ANSWER)
    run(pytester).assert_outcomes(passed=1)
    pytester.makepyfile(
        test_support=(pytester.path / "test_support.py")
        .read_text()
        .replace(
            'MESSAGES = [{"role": "user", "content": "Where is my order?"}]',
            'MESSAGES = [{"role": "user", "content": "Cancel my order"}]',
        )
    )
    monkeypatch.setenv("CI", "true")

    result = run(pytester)

    result.assert_outcomes(failed=1)
    assert model_server.requests == 1
    path = cassette(pytester, "test_answer")
    result.stdout.fnmatch_lines(
        [
            f"*CassetteMissError: no recorded answer in cassette {path} for request POST "
            f"{model_server.url}/chat/completions with body *Cancel my order*; the cassette has 1 entry for "
            "this method and URL, 0 already played in this test; the next unplayed one has a different body "
            "(messages differ); recording is off (record mode 'none', replay only because the CI environment "
            "variable is set); record it with --llm-record=new*"
        ]
    )


def test_a_miss_fails_the_test_even_when_the_code_swallowed_the_error(
    pytester: pytest.Pytester, model_server, monkeypatch
):
    monkeypatch.setenv("CI", "1")
    make_tests(
        pytester,
        model_server.url,
        """
@pytest.mark.llm_cassette
def test_swallowed():
    try:
        client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    except Exception:
        pass  # an app that falls back quietly
""",
    )

    result = run(pytester)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no recorded answer in cassette *test_swallowed.json*the cassette file does not exist*"]
    )
    assert model_server.requests == 0


def test_new_records_only_what_is_missing_and_all_records_everything_anew(
    pytester: pytest.Pytester, model_server, monkeypatch
):
    monkeypatch.setenv("CI", "1")  # an explicit --llm-record wins over CI's replay-only default
    make_tests(
        pytester,
        model_server.url,
        """
@pytest.mark.llm_cassette
def test_two():
    first = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    second = client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES + MESSAGES)
    assert first.choices[0].message.content == second.choices[0].message.content == "Recorded answer."
""",
    )
    path = cassette(pytester, "test_two")

    run(pytester, "--llm-record=new").assert_outcomes(passed=1)
    assert model_server.requests == 2
    run(pytester, "--llm-record=new").assert_outcomes(passed=1)
    assert model_server.requests == 2
    run(pytester, "--llm-record=all").assert_outcomes(passed=1)
    assert model_server.requests == 4
    assert len(json.loads(path.read_text())["interactions"]) == 2


def test_repeated_identical_requests_replay_their_recorded_answers_in_order(
    pytester: pytest.Pytester, model_server, monkeypatch
):
    monkeypatch.delenv("CI", raising=False)
    model_server.fake.reply("first answer", "second answer")
    make_tests(
        pytester,
        model_server.url,
        """
@pytest.mark.llm_cassette
def test_twice():
    replies = [client().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES) for _ in range(2)]
    texts = [reply.choices[0].message.content for reply in replies]
    assert texts == ["first answer", "second answer"]
""",
    )

    run(pytester).assert_outcomes(passed=1)
    model_server.close()
    run(pytester, "--llm-record=none").assert_outcomes(passed=1)


def test_yaml_cassettes_and_configured_headers(pytester: pytest.Pytester, model_server, monkeypatch):
    pytest.importorskip("yaml")
    import yaml

    monkeypatch.delenv("CI", raising=False)
    make_tests(pytester, model_server.url, ANSWER)
    pytester.makeini("""
[pytest]
asyncio_default_fixture_loop_scope = function
llm_cassette_format = yaml
llm_cassette_filter_headers =
    x-team
    x-request-id
""")

    result = pytester.runpytest(*_plugin_and_isolation())

    result.assert_outcomes(passed=1)
    path = cassette(pytester, "test_answer", "yaml")
    text = path.read_text()
    entry = yaml.safe_load(text)["interactions"][0]
    assert SECRET not in text and "payments" not in text and "req_123" not in text
    assert entry["response"]["json"]["choices"][0]["message"]["content"] == "Recorded answer."


def test_a_named_cassette_is_used_and_a_bad_cassette_is_a_clear_error(
    pytester: pytest.Pytester, model_server, monkeypatch
):
    monkeypatch.setenv("CI", "1")
    (pytester.path / "cassettes" / "test_support").mkdir(parents=True)
    (pytester.path / "cassettes" / "test_support" / "shared.json").write_text('{"interactions": 3}')
    make_tests(
        pytester,
        model_server.url,
        """
@pytest.mark.llm_cassette("shared.json")
def test_shared():
    pass
""",
    )

    result = run(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*cassette *shared.json is not valid: expected a mapping with 'interactions'*"]
    )
    assert "Traceback" not in result.stdout.str() and "_cassette.py" not in result.stdout.str()


def _plugin_and_isolation() -> list[str]:
    from .test_pytest_plugin import ISOLATION, plugin_args

    return [*plugin_args(), *ISOLATION]


def test_a_cassette_wraps_any_transport_outside_pytest_and_replays_streams_in_yaml(tmp_path: Path):
    yaml = pytest.importorskip("yaml")
    from llm_contracts import ContractOpenAI
    from llm_contracts.testing import Cassette, FakeLLM, FakeReply, http_module

    http = http_module()
    path = tmp_path / "support.yaml"
    messages = [{"role": "user", "content": "hi"}]

    def ask(cassette: Cassette, fake: FakeLLM) -> tuple[str, list[str]]:
        client = ContractOpenAI(
            api_key=SECRET,
            max_retries=0,
            http_client=http.Client(transport=cassette.transport(fake.transport())),
        )
        text = client.chat.completions.create(model="m", messages=messages).choices[0].message.content or ""
        stream = client.chat.completions.create(model="m", messages=messages, stream=True)
        return text, [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]

    recorder = Cassette(path, mode="once")
    streamed = FakeReply("streamed answer", chunks=["stream", "ed ", "answer"])
    recorded = ask(recorder, FakeLLM().reply("plain answer", streamed))
    assert recorder.save()
    other = FakeLLM(default="a different answer")
    replayed = ask(Cassette(path, mode="none"), other)

    assert recorded == replayed == ("plain answer", ["stream", "ed ", "answer"])
    assert other.requests == []
    text = path.read_text()
    assert SECRET not in text
    entries = yaml.safe_load(text)["interactions"]
    assert entries[0]["response"]["json"]["choices"][0]["message"]["content"] == "plain answer"
    assert entries[1]["response"]["sse"][-1] == "data: [DONE]"
    assert not any(name.startswith("x-stainless-") for name in entries[0]["request"]["headers"])
