"""Plotly figures and CSV tables of the overview: data in, figure JSON or rows out, no HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils.html import escape

from dashboard.lib.tz import chart_time
from dashboard.selectors import Overview

Figure = dict[str, Any]
Rows = list[list[Any]]

# Lines beyond these many contracts would make the chart unreadable.
MAX_CONTRACT_LINES = 8
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 50, "r": 20, "t": 30, "b": 40},
    "height": 300,
    "hovermode": "x unified",
    "legend": {"orientation": "h", "y": -0.2},
}


def _label(text: str) -> str:
    # Plotly renders trace names and hover text as a subset of HTML: escape model-supplied
    # text, which Plotly shows back as the original characters.
    return escape(text)


def _iso(at: datetime) -> str:
    return at.isoformat()


def _local_times(buckets: list[datetime]) -> list[str]:
    # Plotly has no time zones (it draws epoch numbers in the browser's zone): give it the
    # wall time of the page's one time zone, the zone of the header and the date inputs.
    return [chart_time(b) for b in buckets]


def _rate(count: int, violations: int) -> float | None:
    return None if count == 0 else round(100.0 * violations / count, 3)


def violation_rate_figure(overview: Overview) -> Figure:
    """Return the violation rate (%) over time: the total and the most failing contracts."""
    buckets = overview.time_range.buckets()
    x = _local_times(buckets)
    totals = [_sum_cells(overview.cells.get(b, {}).values()) for b in buckets]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "all contracts",
            "x": x,
            "y": [_rate(n, v) for n, v in totals],
            "connectgaps": False,
            "line": {"width": 3},
        }
    ]
    for contract in overview.contracts()[:MAX_CONTRACT_LINES]:
        cells = [overview.cells.get(b, {}).get(contract, (0, 0)) for b in buckets]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": _label(contract),
                "x": x,
                "y": [_rate(n, v) for n, v in cells],
                "connectgaps": False,
            }
        )
    layout = {
        **_LAYOUT,
        "title": {"text": "Violation rate"},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "%"}, "rangemode": "tozero"},
    }
    return {"data": data, "layout": layout}


def validations_figure(overview: Overview) -> Figure:
    """Return the validations per minute over time."""
    buckets = overview.time_range.buckets()
    minutes = overview.time_range.step.total_seconds() / 60
    y = [round(_sum_cells(overview.cells.get(b, {}).values())[0] / minutes, 3) for b in buckets]
    data = [{"type": "bar", "name": "validations / min", "x": _local_times(buckets), "y": y}]
    layout = {
        **_LAYOUT,
        "title": {"text": "Validations per minute"},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "per minute"}, "rangemode": "tozero"},
        "bargap": 0,
    }
    return {"data": data, "layout": layout}


def latency_figure(overview: Overview) -> Figure:
    """Return p50/p95/p99 of validation and of the LLM call, as grouped bars (ms)."""
    latency = overview.latency()
    quantiles = ["p50", "p95", "p99"]
    data = [
        {
            "type": "bar",
            "name": name,
            "x": quantiles,
            "y": [None if latency[key][q] is None else round(latency[key][q] or 0.0, 3) for q in quantiles],
        }
        for key, name in (("validation", "validation"), ("llm", "LLM call"))
    ]
    layout = {
        **_LAYOUT,
        "hovermode": "closest",
        "title": {"text": "Latency"},
        "yaxis": {"title": {"text": "ms"}, "type": "log"},
        "barmode": "group",
    }
    return {"data": data, "layout": layout}


def _sum_cells(cells: Iterable[tuple[int, int]]) -> tuple[int, int]:
    n = v = 0
    for count, violations in cells:
        n += count
        v += violations
    return n, v


# CSV: the same data as the charts, one row per point.


def violation_rate_rows(overview: Overview) -> Rows:
    """Return bucket, contract, validations, violations and rate rows; contract "*" is the total."""
    rows: Rows = [["bucket", "contract", "validations", "violations", "violation_rate"]]
    for bucket in overview.time_range.buckets():
        cells = overview.cells.get(bucket, {})
        n, v = _sum_cells(cells.values())
        rows.append([_iso(bucket), "*", n, v, _csv_rate(n, v)])
        for contract in sorted(cells):
            n, v = cells[contract]
            rows.append([_iso(bucket), contract, n, v, _csv_rate(n, v)])
    return rows


def validations_rows(overview: Overview) -> Rows:
    """Return bucket, validations and validations-per-minute rows."""
    minutes = overview.time_range.step.total_seconds() / 60
    rows: Rows = [["bucket", "validations", "per_minute"]]
    for bucket in overview.time_range.buckets():
        n, _ = _sum_cells(overview.cells.get(bucket, {}).values())
        rows.append([_iso(bucket), n, round(n / minutes, 3)])
    return rows


def latency_rows(overview: Overview) -> Rows:
    """Return one row per measured latency and quantile (ms)."""
    rows: Rows = [["latency", "quantile", "ms"]]
    for key, quantiles in overview.latency().items():
        for q, ms in quantiles.items():
            rows.append([key, q, "" if ms is None else round(ms, 3)])
    return rows


def _csv_rate(count: int, violations: int) -> str | float:
    return "" if count == 0 else round(violations / count, 6)


CSV_TABLES = {
    "violation_rate": violation_rate_rows,
    "validations": validations_rows,
    "latency": latency_rows,
}


def csv_safe(value: Any) -> Any:
    """Return ``value`` so that a spreadsheet shows it as text, never runs it as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# Numbers and tables shown beside the charts, formatted for display.


def _pct(fraction: float | None) -> str:
    return "–" if fraction is None else f"{100 * fraction:.2f}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def overview_numbers(overview: Overview) -> list[tuple[str, str]]:
    """Return the overview's headline figures as (label, text) pairs."""
    latency = overview.latency()
    return [
        ("Validations", f"{overview.count:,}"),
        ("Violations", f"{overview.violations:,}"),
        ("Violation rate", _pct(overview.violation_rate)),
        ("Validations / min", f"{overview.per_minute:,.2f}"),
        ("Auto-fix success", _pct(overview.fix_rate)),
        (
            "Validation p50 / p95 / p99",
            " / ".join(_ms(latency["validation"][q]) for q in ("p50", "p95", "p99")),
        ),
        ("LLM call p50 / p95 / p99", " / ".join(_ms(latency["llm"][q]) for q in ("p50", "p95", "p99"))),
    ]


def top_table(rows: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """Return (name, validations, violations) rows with their violation rate as text."""
    return [
        {"name": name, "count": n, "violations": v, "rate": _pct(None if n == 0 else v / n)}
        for name, n, v in rows
    ]
