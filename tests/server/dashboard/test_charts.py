"""The overview's figures and CSV tables as pure functions, and the time ranges they cover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard import charts
from dashboard.selectors import BadQuery, Overview, TimeRange, time_range_parse

NOW = datetime(2025, 3, 4, 12, 30, 15, tzinfo=UTC)


def overview_of(cells: dict[datetime, dict[str, tuple[int, int]]], key: str = "1h") -> Overview:
    start = NOW - (timedelta(hours=1) if key == "1h" else timedelta(days=7))
    overview = Overview(time_range=TimeRange(key, start, NOW), cells=cells)
    totals: dict[str, list[int]] = {}
    for row in cells.values():
        for name, (n, v) in row.items():
            totals.setdefault(name, [0, 0])
            totals[name][0] += n
            totals[name][1] += v
    overview.by_contract = sorted(((k, n, v) for k, (n, v) in totals.items()), key=lambda r: -r[2])
    overview.histogram = [0] * 14
    overview.llm_histogram = [0] * 14
    return overview


class TestTimeRange:
    def test_a_day_reads_minutes_and_longer_ranges_read_hours(self) -> None:
        assert not time_range_parse({"range": "24h"}, now=NOW).hourly
        assert time_range_parse({"range": "7d"}, now=NOW).hourly

    def test_buckets_cover_the_range_from_its_first_whole_unit(self) -> None:
        minutes = time_range_parse({"range": "1h"}, now=NOW).buckets()
        assert (minutes[0], minutes[-1], len(minutes)) == (
            datetime(2025, 3, 4, 11, 30, tzinfo=UTC),
            datetime(2025, 3, 4, 12, 30, tzinfo=UTC),
            61,
        )
        hours = time_range_parse({"range": "7d"}, now=NOW).buckets()
        assert hours[0] == datetime(2025, 2, 25, 12, tzinfo=UTC)
        assert len(hours) == 7 * 24 + 1

    def test_a_custom_range_without_a_zone_is_read_as_utc(self) -> None:
        time_range = time_range_parse({"range": "custom", "start": "2025-03-01T10:00"}, now=NOW)
        assert time_range.start == datetime(2025, 3, 1, 10, tzinfo=UTC)
        assert time_range.end == NOW

    def test_an_unknown_range_names_the_choices(self) -> None:
        with pytest.raises(BadQuery, match="range must be one of 1h, 24h, 7d, 30d, custom, got '2w'"):
            time_range_parse({"range": "2w"}, now=NOW)


class TestFigures:
    def test_the_rate_chart_has_a_total_and_a_line_per_contract_with_gaps_for_empty_buckets(self) -> None:
        minute = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
        figure = charts.violation_rate_figure(overview_of({minute: {"a": (4, 1), "b": (4, 3)}}))
        names = [trace["name"] for trace in figure["data"]]
        assert names == ["all contracts", "b", "a"]
        total = figure["data"][0]
        at = total["x"].index("2025-03-04 12:00:00")
        assert total["y"][at] == 50.0
        assert total["y"][at - 1] is None
        assert figure["data"][1]["y"][at] == 75.0

    def test_contract_names_are_escaped_for_plotly(self) -> None:
        minute = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
        figure = charts.violation_rate_figure(
            overview_of({minute: {'<img src=x onerror="alert(1)">': (1, 1)}})
        )
        assert figure["data"][1]["name"] == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"

    def test_validations_per_minute_divide_hour_buckets_by_sixty(self) -> None:
        hour = datetime(2025, 3, 1, 10, tzinfo=UTC)
        figure = charts.validations_figure(overview_of({hour: {"a": (120, 0)}}, key="7d"))
        trace = figure["data"][0]
        assert trace["y"][trace["x"].index(hour.strftime("%Y-%m-%d %H:%M:%S"))] == 2.0

    def test_latency_is_none_without_data_and_read_from_the_histogram_with_it(self) -> None:
        overview = overview_of({})
        assert charts.latency_figure(overview)["data"][0]["y"] == [None, None, None]
        overview.llm_histogram = [0] * 8 + [10] + [0] * 5  # all between 200 and 500 ms
        llm = charts.latency_figure(overview)["data"][1]["y"]
        assert all(200 <= y <= 500 for y in llm)


class TestTables:
    def test_csv_rows_start_with_a_header_and_mark_the_total(self) -> None:
        minute = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
        rows = charts.violation_rate_rows(overview_of({minute: {"a": (4, 1)}}))
        assert rows[0] == ["bucket", "contract", "validations", "violations", "violation_rate"]
        assert [minute.isoformat(), "*", 4, 1, 0.25] in rows
        assert [minute.isoformat(), "a", 4, 1, 0.25] in rows

    @pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)"])
    def test_csv_cells_never_start_a_formula(self, value: str) -> None:
        assert charts.csv_safe(value) == "'" + value

    def test_numbers_show_dashes_when_nothing_was_measured(self) -> None:
        numbers = dict(charts.overview_numbers(overview_of({})))
        assert numbers["Violation rate"] == "–"
        assert numbers["Auto-fix success"] == "–"
        assert numbers["LLM call p50 / p95 / p99"] == "– / – / –"
