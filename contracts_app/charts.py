"""Plotly figures of the contracts pages, built from plain data (no requests, no queries)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

# Colours by step kind, so the same kind looks the same on every trace.
STEP_COLOURS = {
    "request": "#8c8c8c",
    "input_contract": "#4c78a8",
    "model_call": "#f58518",
    "output_contract": "#54a24b",
    "reask": "#e45756",
    "outcome": "#72b7b2",
}
_VERDICT_KINDS = ("input_contract", "output_contract")


def _label(index: int, step: Mapping[str, Any]) -> str:
    kind = str(step.get("kind", ""))
    name = str(step.get("name", "") or kind)
    return f"{index + 1}. {kind.replace('_', ' ')}: {name[:60]}"


def _hover(step: Mapping[str, Any]) -> str:
    data = step.get("data") or {}
    kind = step.get("kind")
    parts = [f"<b>{html.escape(str(step.get('name', '') or kind))}</b>"]
    started, duration = float(step.get("started_ms", 0.0)), float(step.get("duration_ms", 0.0))
    parts.append(f"{duration:.3f} ms from {started:.3f} ms")
    if kind in _VERDICT_KINDS and isinstance(data, Mapping):
        verdict = "passed" if data.get("is_valid") else "failed"
        parts.append(f"{verdict} ({html.escape(str(data.get('severity', '')))})")
        if data.get("message"):
            parts.append(html.escape(str(data["message"])[:200]))
    elif kind == "model_call" and isinstance(data, Mapping):
        usage = data.get("usage") or {}
        if isinstance(usage, Mapping):
            prompt, completion = usage.get("prompt_tokens", "?"), usage.get("completion_tokens", "?")
            parts.append(f"{prompt} prompt + {completion} completion tokens")
    return "<br>".join(parts)


def trace_timeline(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return a horizontal bar chart (Plotly JSON) of where a trace's time went, steps top to bottom.

    Every text that reaches the figure is HTML-escaped: Plotly renders hover text and
    tick labels as a subset of HTML, and step names and messages come from the model.
    """
    ends = [float(s.get("started_ms", 0.0)) + float(s.get("duration_ms", 0.0)) for s in steps]
    total = max(ends, default=0.0)
    # Steps that take no time (the request, a re-ask, the outcome) still get a visible sliver.
    sliver = max(total * 0.004, 0.001)
    labels = [html.escape(_label(i, s)) for i, s in enumerate(steps)]
    figure = go.Figure(
        go.Bar(
            orientation="h",
            y=labels,
            base=[float(s.get("started_ms", 0.0)) for s in steps],
            x=[max(float(s.get("duration_ms", 0.0)), sliver) for s in steps],
            marker_color=[STEP_COLOURS.get(str(s.get("kind")), "#b279a2") for s in steps],
            hovertext=[_hover(s) for s in steps],
            hoverinfo="text",
        )
    )
    figure.update_layout(
        height=max(160, 28 * len(steps) + 80),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        xaxis={"title": {"text": "ms since the call started"}, "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "automargin": True},
        showlegend=False,
        # The default theme adds ~10 kB of styles per figure; the page's own CSS is enough.
        template="none",
    )
    return figure.to_plotly_json()  # type: ignore[no-any-return]
