"""The semantic functions of LLMCL: similarity(), on_topic() and judge(), compiled, loaded and enforced."""

from __future__ import annotations

import json

import pytest

from llm_contracts import ContractOpenAI, ContractViolationError
from llm_contracts.contracts import JudgeContract, LLMResponse, SimilarityContract, TopicContract
from llm_contracts.llmcl import LLMCLError, compile_source, format_source, load_source, load_spec
from llm_contracts.testing import FakeLLM

MODEL = "gpt-4o-mini"
QUESTION = [{"role": "user", "content": "When will my refund arrive?"}]
REFUND = "Your refund was processed today and should reach your card within five business days."
JUPITER = "Jupiter is the largest planet in our solar system and has dozens of moons."

SUPPORT = """contract Support {
  ensure on_topic(output, ["billing and payments", "shipping and delivery", "returns and refunds"])
  ensure similarity(output, "Refunds reach your card within a week.") >= 0.5
}
"""
POLITE = """contract Polite {
  ensure judge("Is the answer polite?") >= 0.7
}
"""


def _client(fake: FakeLLM, contracts, **kwargs) -> ContractOpenAI:
    return ContractOpenAI(
        api_key="test-key", http_client=fake.http_client(), max_retries=0, contracts=contracts, **kwargs
    )


def test_similarity_and_on_topic_clauses_load_as_the_semantic_contracts_and_enforce():
    contracts = load_source(SUPPORT)
    topic, similar = contracts.output

    assert isinstance(topic, TopicContract) and topic.allowed[0] == "billing and payments"
    assert isinstance(similar, SimilarityContract) and similar.min_similarity == 0.5
    client = _client(FakeLLM(default=REFUND), contracts)
    reply = client.chat.completions.create(model=MODEL, messages=QUESTION)
    assert reply.choices[0].message.content == REFUND
    with pytest.raises(ContractViolationError) as caught:
        _client(FakeLLM(default=JUPITER), contracts).chat.completions.create(model=MODEL, messages=QUESTION)
    assert {r.contract_name for r in caught.value.results} == {"Support.ensure[1]", "Support.ensure[2]"}


def test_semantic_functions_work_inside_larger_expressions():
    contracts = load_source("""contract Mixed {
  ensure similarity(output, "Refunds reach your card within a week.") >= 0.5 and words(output) < 40
  ensure not on_topic(output, "planets and astronomy") or len(output) < 10
}
""")

    assert [c.validate(LLMResponse(text=REFUND)).is_valid for c in contracts.output] == [True, True]
    assert [c.validate(LLMResponse(text=JUPITER)).is_valid for c in contracts.output] == [False, False]


def test_a_judge_clause_grades_with_the_client_given_to_the_loader():
    judge_fake = FakeLLM(default=json.dumps({"score": 0.3, "reason": "curt"}))
    judge = ContractOpenAI(api_key="test-key", http_client=judge_fake.http_client(), max_retries=0)
    contracts = load_source(POLITE, judge=judge)

    assert isinstance(contracts.output[0], JudgeContract) and contracts.output[0].threshold == 0.7
    with pytest.raises(ContractViolationError) as caught:
        _client(FakeLLM(default="Read the page."), contracts).chat.completions.create(
            model=MODEL, messages=QUESTION
        )
    assert "curt" in caught.value.results[0].message
    assert caught.value.report.judge_usage["calls"] == 1


def test_a_judge_inside_an_expression_uses_the_same_client():
    judge_fake = FakeLLM(default=json.dumps({"score": 0.9, "reason": "kind"}))
    judge = ContractOpenAI(api_key="test-key", http_client=judge_fake.http_client(), max_retries=0)
    contracts = load_source(
        'contract P {\n  ensure judge("Is it kind?") > 0.5 and len(output) < 100\n}\n', judge=judge
    )

    assert contracts.output[0].validate(LLMResponse(text="Happy to help!")).is_valid
    assert "Is it kind?" in judge_fake.requests[0]["messages"][-1]["content"]


IN_EXPRESSION = 'contract P {\n  ensure judge("Kind?") > 0.5 or len(output) < 3\n}\n'


@pytest.mark.parametrize("source", [POLITE, IN_EXPRESSION])
def test_a_judge_clause_without_a_judge_client_names_the_clause_and_its_line(source):
    spec = compile_source(source)  # compiling needs no client: only loading does

    with pytest.raises(LLMCLError) as caught:
        load_spec(spec)

    text = str(caught.value)
    assert ":2:3:" in text and "judge(" in text and "needs a judge client" in text


@pytest.mark.parametrize(
    "line, where, what",
    [
        ('ensure on_topic(output, [1, "billing"])', ":2:28:", "a list holds strings"),
        ("ensure on_topic(output, [])", ":2:27:", "needs at least one topic"),
        ('require judge("Is it polite?") >= 0.5', ":2:11:", "judge() grades the answer"),
        ("ensure judge(output) >= 0.5", ":2:16:", "takes the rubric as a string"),
        ("ensure similarity(output) >= 0.5", ":2:10:", "similarity() takes 2 arguments"),
        ('ensure similarity(output, "x")', ":2:10:", "a condition must be true or false"),
        ("ensure on_topic(output, 3)", ":2:27:", "needs a list of strings or a string"),
    ],
)
def test_mistakes_are_reported_at_their_line_and_column(line, where, what):
    with pytest.raises(LLMCLError) as caught:
        compile_source(f"contract C {{\n  {line}\n}}\n")

    assert where in str(caught.value) and what in str(caught.value)


def test_the_formatter_keeps_topic_lists():
    source = 'contract C {\n  ensure on_topic(output, [ "billing",\n    "shipping" ])\n}\n'

    formatted = format_source(source)

    assert 'on_topic(output, ["billing", "shipping"])' in formatted
    assert compile_source(formatted)["contracts"][0]["clauses"][0]["expression"]["args"][1]["op"] == "list"


def test_a_reference_from_the_call_s_context_is_compared_per_call():
    from llm_contracts.contracts import ValidationContext

    contracts = load_source("contract C {\n  ensure similarity(output, context.expected) >= 0.5\n}\n")
    check = contracts.output[0]

    close = check.validate(
        LLMResponse(text=REFUND),
        ValidationContext(metadata={"expected": "Refunds reach your card within a week."}),
    )
    far = check.validate(
        LLMResponse(text=JUPITER),
        ValidationContext(metadata={"expected": "Refunds reach your card within a week."}),
    )

    assert close.is_valid and not far.is_valid


def test_a_failing_judge_expression_explains_the_score():
    judge_fake = FakeLLM(default=json.dumps({"score": 0.2, "reason": "curt"}))
    judge = ContractOpenAI(api_key="test-key", http_client=judge_fake.http_client(), max_retries=0)
    contracts = load_source(
        'contract P {\n  ensure judge("Is it kind?") > 0.5 and len(output) < 100\n}\n', judge=judge
    )

    result = contracts.output[0].validate(LLMResponse(text="Go away."))

    assert not result.is_valid and not result.error
    assert 'judge("Is it kind?") is 0.2' in result.message
    assert len(judge_fake.requests) == 1  # the explanation reuses the cached verdict


def test_without_wordllama_a_semantic_clause_names_the_extra_at_its_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "wordllama", None)  # what an absent package looks like to import
    source = (
        "contract C {\n  ensure len(output) < 900\n"
        '  ensure on_topic(output, ["a topic never used elsewhere"])\n}\n'
    )

    with pytest.raises(LLMCLError) as caught:
        load_source(source)

    assert ":3:3:" in str(caught.value) and "llm-contracts[semantic]" in str(caught.value)
