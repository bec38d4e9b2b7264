"""Plotly figures of the experiment pages, built from plain data (no requests, no queries)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from dashboard.lib.tz import chart_time

ARM_COLOURS = {"control": "#4c78a8", "treatment": "#f58518"}
Series = Mapping[str, Sequence[tuple[datetime, float, int]]]


def _layout(figure: go.Figure, y_title: str, **yaxis: Any) -> dict[str, Any]:
    figure.update_layout(
        height=280,
        margin={"l": 50, "r": 10, "t": 10, "b": 40},
        yaxis={"title": {"text": y_title}, "rangemode": "tozero", **yaxis},
        legend={"orientation": "h", "y": -0.2},
        # The default theme adds ~10 kB of styles per figure; the page's own CSS is enough.
        template="none",
    )
    return figure.to_plotly_json()  # type: ignore[no-any-return]


def violation_rate_figure(series: Series) -> dict[str, Any]:
    """Return each arm's violation rate over time as a line chart (Plotly JSON).

    Hover text is HTML-escaped: Plotly renders it as a subset of HTML.
    """
    figure = go.Figure()
    for arm, points in series.items():
        figure.add_trace(
            go.Scatter(
                x=[chart_time(p[0]) for p in points],
                y=[p[1] for p in points],
                mode="lines+markers",
                name=html.escape(arm),
                line={"color": ARM_COLOURS.get(arm, "#8c8c8c")},
                hovertext=[f"{html.escape(arm)}: {p[1]:.2%} of {p[2]} calls" for p in points],
                hoverinfo="text",
            )
        )
    return _layout(figure, "violation rate", tickformat=".0%")


def traffic_figure(series: Series) -> dict[str, Any]:
    """Return each arm's calls per time bucket as a bar chart (Plotly JSON)."""
    figure = go.Figure()
    for arm, points in series.items():
        figure.add_trace(
            go.Bar(
                x=[chart_time(p[0]) for p in points],
                y=[p[2] for p in points],
                name=html.escape(arm),
                marker_color=ARM_COLOURS.get(arm, "#8c8c8c"),
                hovertext=[f"{html.escape(arm)}: {p[2]} calls" for p in points],
                hoverinfo="text",
            )
        )
    figure.update_layout(barmode="group")
    return _layout(figure, "calls")
