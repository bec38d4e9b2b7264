"""The trace view (the debugger): the steps of a stored call in order, a timeline, and escaped model text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.test import Client

from contracts_app import services
from contracts_app.charts import trace_timeline
from contracts_app.models import Trace
from contracts_app.schemas import TraceIn
from llm_contracts import ContractOpenAI, FunctionContract
from llm_contracts.contracts import PromptLengthContract
from llm_contracts.debugging import Trace as SdkTrace
from llm_contracts.testing import FakeLLM

from ..conftest import Cast

PAYLOAD = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def stored_trace_of_a_reasked_call(cast: Cast) -> Trace:
    """Make a real contracted call that is re-asked once, and store its SDK-built trace."""
    reports: list[Any] = []
    fake = FakeLLM(default="a short and clean answer")
    fake.reply("this answer is forbidden " + PAYLOAD)
    client = ContractOpenAI(
        api_key="test",
        http_client=fake.http_client(),
        max_retries=0,
        contract_retries=1,
        input_contracts=[PromptLengthContract(max_tokens=500)],
        output_contracts=[
            FunctionContract(
                lambda t: "forbidden" not in t, name="no_forbidden", message="the answer says forbidden"
            )
        ],
        on_report=reports.append,
    )
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Mail me at alice@example.com"}]
    )
    body = SdkTrace.from_report(reports[0], trace_id="t-reask", call_id="c-1").to_dict()
    stored, _ = services.trace_store(project=cast.project_a, trace=TraceIn.model_validate(body))
    return stored


class TestTraceView:
    def test_it_shows_every_step_in_order_with_the_reask_and_its_feedback(
        self, cast: Cast, viewer: Client
    ) -> None:
        trace = stored_trace_of_a_reasked_call(cast)
        response = viewer.get(f"/p/alpha/traces/{trace.trace_id}/")
        assert response.status_code == 200
        kinds = [s["kind"] for s in response.context["steps"]]
        assert kinds == [
            "request",
            "input_contract",
            "model_call",
            "output_contract",
            "reask",
            "model_call",
            "output_contract",
            "outcome",
        ]
        html = response.content.decode()
        labels = re.findall(r'<span class="kind">(.*?)</span>', html)
        assert labels == [
            "Request",
            "Input contract",
            "Model call",
            "Output contract",
            "Re-ask",
            "Model call",
            "Output contract",
            "Outcome",
        ]
        assert "the answer says forbidden" in html  # the failed verdict, and the feedback that quotes it
        assert "a short and clean answer" in html and "repaired" in html
        assert "[EMAIL]" in html and "alice@example.com" not in html  # the request as sent, redacted
        assert "prompt + " in html and "1 re-ask" in html

    def test_model_text_is_escaped_in_the_page_and_in_the_timeline(self, cast: Cast, owner: Client) -> None:
        stored_trace_of_a_reasked_call(cast)
        html = owner.get("/p/alpha/traces/t-reask/").content.decode()
        assert "<script>window.pwned" not in html and "<img src=x" not in html
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=" in html
        figure = json.loads(
            re.search(
                r'<script id="trace-timeline" type="application/json">(.*?)</script>', html, re.S
            ).group(1)
        )  # type: ignore[union-attr]
        bars = figure["data"][0]
        assert len(bars["y"]) == 8 and bars["orientation"] == "h"
        assert not any("<script" in text or "<img" in text for text in bars["hovertext"] + bars["y"])

    def test_a_step_name_from_the_model_is_escaped_in_the_figure(self) -> None:
        figure = trace_timeline(
            [
                {
                    "kind": "output_contract",
                    "name": "<img src=x onerror=alert(1)>",
                    "started_ms": 2.0,
                    "duration_ms": 3.0,
                    "data": {"is_valid": False, "severity": "error", "message": "<b>bad</b>"},
                },
            ]
        )
        bar = figure["data"][0]
        assert bar["y"] == ["1. output contract: &lt;img src=x onerror=alert(1)&gt;"]
        assert "&lt;b&gt;bad&lt;/b&gt;" in bar["hovertext"][0] and "failed (error)" in bar["hovertext"][0]
        assert (list(bar["base"]), list(bar["x"])) == ([2.0], [3.0])

    def test_steps_that_take_no_time_still_show_on_the_timeline(self) -> None:
        figure = trace_timeline(
            [
                {"kind": "request", "name": "chat", "started_ms": 0.0, "duration_ms": 0.0},
                {"kind": "model_call", "name": "m", "started_ms": 0.0, "duration_ms": 500.0},
            ]
        )
        widths = list(figure["data"][0]["x"])
        assert widths[0] > 0 and widths[1] == 500.0

    def test_an_outsider_and_an_unknown_trace_get_404(
        self, cast: Cast, outsider: Client, owner: Client
    ) -> None:
        stored_trace_of_a_reasked_call(cast)
        assert outsider.get("/p/alpha/traces/t-reask/").status_code == 404
        assert outsider.get("/p/bravo/traces/t-reask/").status_code == 404
        assert owner.get("/p/alpha/traces/nope/").status_code == 404

    def test_a_trace_with_odd_steps_still_renders(self, cast: Cast, owner: Client) -> None:
        Trace.objects.create(
            project=cast.project_a,
            trace_id="odd",
            created_at=datetime(2025, 1, 1, tzinfo=UTC),
            steps=[{"kind": "model_call", "name": "m"}, "junk", {"kind": "outcome", "data": None}],
        )
        response = owner.get("/p/alpha/traces/odd/")
        assert response.status_code == 200 and len(response.context["steps"]) == 2
