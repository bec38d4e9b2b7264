"""ContractCallbackHandler: the verdicts of every LangChain model call, recorded, never enforced."""

from __future__ import annotations

import importlib
import sys

import pytest

from llm_contracts import ContractConfigError, Enforcement, FunctionContract
from llm_contracts.contracts import PromptLengthContract

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402

from llm_contracts.integrations.langchain import ContractCallbackHandler  # noqa: E402


def no_forbidden() -> FunctionContract:
    return FunctionContract(
        lambda text: "forbidden" not in text, name="no_forbidden", message="the answer says forbidden"
    )


def handler(**kwargs) -> ContractCallbackHandler:
    kwargs.setdefault("output_contracts", [no_forbidden()])
    return ContractCallbackHandler(**kwargs)


def test_a_violation_is_recorded_and_the_answer_still_reaches_the_caller(chat_openai, fake):
    fake.reply("a forbidden answer")
    monitor = handler(input_contracts=[PromptLengthContract(max_chars=5)])

    message = chat_openai().invoke("Answer the question.", config={"callbacks": [monitor]})

    assert message.content == "a forbidden answer"
    report = monitor.last_report
    assert report.outcome == "warned"
    verdicts = {r.contract_name: r for r in report.results}
    assert set(verdicts) == {"PromptLengthContract", "no_forbidden"}
    assert all(not r.is_valid and r.enforcement is Enforcement.MONITOR for r in verdicts.values())
    assert verdicts["no_forbidden"].details["would_block"] is True
    assert (report.provider, report.model) == ("openai", "gpt-4o-mini")
    assert report.total_usage.total_tokens == fake.responses[-1]["usage"]["total_tokens"]


def test_a_clean_call_passes(chat_openai, fake):
    fake.reply("a fine answer")
    monitor = handler()

    chat_openai(callbacks=[monitor]).invoke("Answer.")

    assert monitor.last_report.outcome == "passed"
    assert monitor.last_report.attempts[0].text == "a fine answer"


def test_a_stream_is_judged_once_it_is_complete(fake, chat_openai):
    fake.reply("a forbidden answer.")
    monitor = handler()

    text = "".join(c.content for c in chat_openai().stream("Answer.", config={"callbacks": [monitor]}))

    assert text == "a forbidden answer."
    assert monitor.last_report.outcome == "warned"
    assert monitor.last_report.attempts[0].text == "a forbidden answer."


async def test_async_calls_are_judged_too():
    monitor = handler()
    model = GenericFakeChatModel(messages=iter(["a forbidden answer"]))

    await model.ainvoke("Answer.", config={"callbacks": [monitor]})

    assert monitor.last_report.outcome == "warned"


def test_a_contract_that_raises_never_reaches_the_call():
    def broken(text: str) -> bool:
        raise RuntimeError("bug in a contract")

    monitor = handler(output_contracts=[FunctionContract(broken, name="broken")])
    model = GenericFakeChatModel(messages=iter(["an answer"]))

    assert model.invoke("Answer.", config={"callbacks": [monitor]}).content == "an answer"
    (verdict,) = monitor.last_report.results
    assert verdict.error is True and "bug in a contract" in verdict.message


def test_verdicts_reach_the_control_plane(chat_openai, fake, plane_reporter):
    plane, reporter = plane_reporter
    fake.reply("a forbidden answer")
    monitor = handler(reporter=reporter)

    chat_openai().invoke("Answer.", config={"callbacks": [monitor]})
    assert reporter.flush(5)

    (event,) = plane.events
    assert (event["contract"], event["is_valid"], event["outcome"]) == ("no_forbidden", False, "warned")
    assert event["enforcement"] == "monitor"
    assert (event["provider"], event["endpoint"]) == ("openai", "langchain:chat")


def test_a_bad_max_pending_is_refused_by_name():
    with pytest.raises(ContractConfigError, match="max_pending"):
        ContractCallbackHandler(max_pending=0)


def test_without_langchain_the_import_error_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "langchain_core" or m.startswith("langchain_core.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "llm_contracts.integrations.langchain")

    with pytest.raises(ImportError, match=r"pip install 'llm-contracts\[langchain\]'"):
        importlib.import_module("llm_contracts.integrations.langchain")
