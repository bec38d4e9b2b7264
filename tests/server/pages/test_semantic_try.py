"""Try it on the LLMCL editor with the semantic functions: similarity and on_topic run, judge is refused."""

from __future__ import annotations

from django.test import Client

HTMX = {"HX-Request": "true"}
SOURCE = """contract Support {
  ensure on_topic(output, ["billing and payments", "shipping and delivery", "returns and refunds"])
  ensure similarity(output, "Refunds reach your card within a week.") >= 0.5
}
"""


def _try(owner: Client, source: str, output: str):
    response = owner.post(
        "/p/alpha/contracts/try/",
        {"source": source, "input": "When will my refund arrive?", "output": output},
        headers=HTMX,
    )
    assert response.status_code == 200
    return response.context["result"]


class TestSemanticTryIt:
    def test_similarity_and_on_topic_judge_the_pasted_answer(self, owner: Client) -> None:
        on = _try(owner, SOURCE, "Your refund should reach your card within five business days.")
        off = _try(owner, SOURCE, "Jupiter is the largest planet in our solar system.")

        assert [v.is_valid for v in on.verdicts] == [True, True] and not on.diagnostics
        assert [v.is_valid for v in off.verdicts] == [False, False]
        assert "off topic" in off.verdicts[0].message

    def test_a_judge_clause_is_refused_with_a_message_naming_it(self, owner: Client) -> None:
        result = _try(owner, 'contract Polite {\n  ensure judge("Is it polite?") >= 0.7\n}\n', "Fine.")

        assert result.verdicts == []
        [diagnostic] = result.diagnostics
        assert 'judge("Is it polite?") needs a judge client' in diagnostic.message
        assert ":2:3:" in diagnostic.message
