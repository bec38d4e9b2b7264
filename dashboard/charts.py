"""Plotly figures and CSV tables of the overview: data in, figure JSON or rows out, no HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.html import escape

from dashboard.lib.tz import chart_times
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
    return chart_times(buckets)


def _rates(counts: list[int], violations: list[int]) -> list[float | None]:
    # The violation rate in percent, None where nothing was validated.
    return [None if n == 0 else round(100.0 * v / n, 3) for n, v in zip(counts, violations, strict=True)]


def violation_rate_figure(overview: Overview, x: list[str] | None = None) -> Figure:
    """Return the violation rate (%) over time: the total and the most failing contracts.

    ``x`` is the buckets' wall times, when the caller has them already.
    """
    series = overview.series()
    x = x if x is not None else _local_times(series.buckets)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "all contracts",
            "x": x,
            "y": _rates(series.counts, series.violations),
            "connectgaps": False,
            "line": {"width": 3},
        }
    ]
    empty = [0] * len(series.buckets)
    for contract in overview.contracts()[:MAX_CONTRACT_LINES]:
        counts, violations = series.by_contract.get(contract, (empty, empty))
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": _label(contract),
                "x": x,
                "y": _rates(counts, violations),
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


def validations_figure(overview: Overview, x: list[str] | None = None) -> Figure:
    """Return the validations per minute over time."""
    series = overview.series()
    minutes = overview.time_range.step.total_seconds() / 60
    y = [round(n / minutes, 3) for n in series.counts]
    x = x if x is not None else _local_times(series.buckets)
    data = [{"type": "bar", "name": "validations / min", "x": x, "y": y}]
    layout = {
        **_LAYOUT,
        "title": {"text": "Validations per minute"},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "per minute"}, "rangemode": "tozero"},
        "bargap": 0,
    }
    return {"data": data, "layout": layout}


def overview_figures(overview: Overview) -> dict[str, Figure]:
    """Return the overview's three figures, ready for the page (see ``shared_x``)."""
    x = _local_times(overview.series().buckets)
    return {
        "violation_rate": shared_x(violation_rate_figure(overview, x)),
        "validations": shared_x(validations_figure(overview, x)),
        "latency": latency_figure(overview),
    }


def shared_x(figure: Figure) -> Figure:
    """Write the x values the traces share once, as ``figure["x"]``, for charts.js to hand out.

    A day of minutes is 1,440 dates per line: nine lines would repeat them nine times in
    the page.
    """
    traces = figure["data"]
    if not traces or any("x" not in trace or trace["x"] is not traces[0]["x"] for trace in traces):
        return figure
    x = traces[0]["x"]
    return {**figure, "x": x, "data": [{k: v for k, v in trace.items() if k != "x"} for trace in traces]}


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


# CSV: the same data as the charts, one row per point.


def violation_rate_rows(overview: Overview) -> Rows:
    """Return bucket, contract, validations, violations and rate rows; contract "*" is the total."""
    rows: Rows = [["bucket", "contract", "validations", "violations", "violation_rate"]]
    series = overview.series()
    names = sorted(series.by_contract)
    for i, bucket in enumerate(series.buckets):
        n, v = series.counts[i], series.violations[i]
        rows.append([_iso(bucket), "*", n, v, _csv_rate(n, v)])
        for contract in names:
            counts, violations = series.by_contract[contract]
            if counts[i]:
                rows.append(
                    [_iso(bucket), contract, counts[i], violations[i], _csv_rate(counts[i], violations[i])]
                )
    return rows


def validations_rows(overview: Overview) -> Rows:
    """Return bucket, validations and validations-per-minute rows."""
    minutes = overview.time_range.step.total_seconds() / 60
    rows: Rows = [["bucket", "validations", "per_minute"]]
    series = overview.series()
    for bucket, n in zip(series.buckets, series.counts, strict=True):
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
