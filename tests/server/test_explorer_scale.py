"""The violations explorer's model filter and message search at scale (Postgres, partitioned events).

Two things: the plans read few rows whatever the filter matches (a model or a word found
nowhere used to make the explorer read every violation of the project), and the pages are
the same as the query gave without the indexes that make that so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Project
from bench.dashboard_bench import RARE_MODEL, generate
from dashboard import selectors
from dashboard.selectors import ViolationFilters, violations_page, violations_queryset
from telemetry import partitions
from telemetry import services as telemetry_services
from tests.server.conftest import Cast, make_event

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)

# 30 days of the bench's events: 6,000 violations, one of them by RARE_MODEL with the word "quota".
EVENTS = 60_000
VIOLATIONS = EVENTS // 10
SCAN = 200  # rows the explorer asks for per scan (dashboard.selectors._SCAN)
WALK = 1000  # violations a search reads in index order first (dashboard.selectors._SEARCH_WALK)
RARE_EXPERIMENT, RARE_ARM = "exp-rare", "arm-rare"


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def explain(project: Project, filters: ViolationFilters) -> list[dict[str, Any]]:
    """Open the explorer's first page; return the nodes of its scans of violations under EXPLAIN ANALYZE."""
    with CaptureQueriesContext(connection) as captured:
        violations_page(project=project, filters=filters)
    scans = [
        q["sql"] for q in captured.captured_queries if q["sql"].endswith((f"LIMIT {SCAN}", f"LIMIT {WALK}"))
    ]
    assert scans
    plan = []
    with connection.cursor() as cursor:
        for sql in scans:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            (root,) = cursor.fetchone()[0]
            plan += list(nodes(root["Plan"]))
    return plan


def rows_read(plan: list[dict[str, Any]]) -> int:
    """Return the rows the plan's scans of the events read: those they returned and those they dropped."""
    return sum(
        n["Actual Rows"] * n["Actual Loops"]
        + n.get("Rows Removed by Filter", 0)
        + n.get("Rows Removed by Index Recheck", 0)
        for n in plan
        if n.get("Relation Name", "").startswith(partitions.EVENTS)
    )


@pytest.fixture
def seeded(cast: Cast) -> Project:
    """Project A with 30 days of the bench's events, one partition a day, and fresh statistics."""
    generate(cast.project_a.pk, EVENTS)
    return cast.project_a


# A partition this small may be read whole (not counted in the rows-read limits).
SMALL_PARTITION = 100

CASES = {
    # name: (filters, most rows the scans may read, calls found)
    "absent model": (ViolationFilters(model="no-such-model"), 100, 0),
    # A search first reads the newest 1,000 violations in index order (a frequent word is
    # found there), then probes the message index.
    "absent word": (ViolationFilters(q="zebra"), WALK + 100, 0),
    "rare model": (ViolationFilters(model=RARE_MODEL), 100, 1),
    "rare word": (ViolationFilters(q="quota"), WALK + 100, 1),
    # A third of the violations: about 3 read for each of the 200 rows asked.
    "frequent model": (ViolationFilters(model="gpt-4o"), 4 * SCAN, SCAN),
    # A fifth of the violations ("an email address was found in the output").
    "frequent word": (ViolationFilters(q="email"), 6 * SCAN, SCAN),
    "frequent model and word": (ViolationFilters(model="gpt-4o", q="email"), 16 * SCAN, SCAN),
    # The other exact filters (every violation of the seed is in experiment "exp1", arm "a"
    # or "b"; one more, in RARE_EXPERIMENT / RARE_ARM, is added by the test).
    "absent experiment": (ViolationFilters(experiment="no-such-experiment"), 100, 0),
    "absent arm": (ViolationFilters(variant="no-such-arm"), 100, 0),
    "absent arm of an experiment": (ViolationFilters(experiment="exp1", variant="c"), 100, 0),
    "rare experiment": (ViolationFilters(experiment=RARE_EXPERIMENT), 100, 1),
    "rare arm": (ViolationFilters(variant=RARE_ARM), 100, 1),
    "rare arm of an experiment": (ViolationFilters(experiment=RARE_EXPERIMENT, variant=RARE_ARM), 100, 1),
    "frequent arm of an experiment": (ViolationFilters(experiment="exp1", variant="a"), 4 * SCAN, SCAN),
    # The seed's violations have all four severities; a project's rare one is like an absent one.
    "absent severity": (ViolationFilters(severity="no-such-severity"), 100, 0),
    "absent contract": (ViolationFilters(contract="no-such-contract"), 100, 0),
    "absent version of a contract": (ViolationFilters(contract="pii", contract_version=99), 100, 0),
    # An eighth of the violations, all of version 2.
    "frequent contract": (ViolationFilters(contract="pii"), 12 * SCAN, SCAN),
    "frequent version of a contract": (ViolationFilters(contract="pii", contract_version=2), 12 * SCAN, SCAN),
    "absent session": (ViolationFilters(session_id="no-such-session"), 100, 0),
    "absent call": (ViolationFilters(call_id="no-such-call"), 100, 0),
}


class TestPlans:
    def test_the_scan_reads_few_rows_and_no_partition_in_full(self, seeded: Project) -> None:
        # Every case on one seeded database (seeding is most of the time): each case's
        # problem, if any, is reported by its name.
        # One violation in an experiment and an arm no other event has.
        telemetry_services.event_ingest_batch(
            project=seeded,
            events=[
                make_event(
                    call_id="call-rare",
                    timestamp=(timezone.now() - timedelta(days=3)).isoformat(),
                    is_valid=False,
                    outcome="violated",
                    experiment=RARE_EXPERIMENT,
                    variant=RARE_ARM,
                )
            ],
            now=timezone.now(),
        )
        problems = {}
        for case, (filters, most, found) in CASES.items():
            plan = explain(seeded, filters)
            # Sequential scans only of partitions without a row (days ahead, the default one) or
            # with a handful: the oldest day holds only what is left of it inside the 30 days
            # (late in the day, a few dozen rows), and there a scan is the planner's right call.
            full = [
                n["Relation Name"]
                for n in plan
                if n["Node Type"] == "Seq Scan" and rows_read([n]) > SMALL_PARTITION
            ]
            small = [n for n in plan if n["Node Type"] == "Seq Scan" and rows_read([n]) <= SMALL_PARTITION]
            read = rows_read(plan) - rows_read(small)
            calls = min(len({row for row in self._rows(seeded, filters)}), SCAN)
            # Without an index of its own, a filter that matches nothing reads all 6,000 violations.
            if full or read > most or calls != found:
                problems[case] = {"full scans": full, "rows read": read, "calls": calls}
        assert problems == {}, "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))

    @staticmethod
    def _rows(project: Project, filters: ViolationFilters) -> list[tuple[Any, ...]]:
        return list(violations_queryset(project=project, filters=filters).values_list("call_id")[:SCAN])

    def test_the_indexes_are_on_every_partition_and_on_days_and_hours_created_later(
        self, seeded: Project
    ) -> None:
        with connection.cursor() as cursor:
            day = timezone.now().date() + timedelta(days=40)
            partitions.partition_create(cursor, day)
            # A day of hour partitions, as busy projects get them.
            hours = partitions.hour_partitions_create(cursor, day + timedelta(days=1))
            cursor.execute(
                "SELECT c.relname, array_agg(i.indexdef ORDER BY i.indexname) FILTER ("
                "WHERE i.indexdef LIKE '%%to_tsvector%%' OR i.indexdef ~ %s) "
                "FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
                "JOIN pg_class p ON p.oid = h.inhparent LEFT JOIN pg_indexes i ON i.tablename = c.relname "
                "WHERE p.relname = %s GROUP BY c.relname",
                # The filter indexes of telemetry 0002 and 0003: model, experiment and arm,
                # arm, severity, version, each followed by the page order.
                ['(model|variant|severity|contract_version), "timestamp" DESC', partitions.EVENTS],
            )
            found = dict(cursor.fetchall())
        assert partitions.partition_name(day) in found and len(found) > 30
        assert hours and set(hours) <= set(found)
        for name, definitions in found.items():
            assert definitions is not None and len(definitions) == 6, name
            assert all(
                "WHERE (NOT is_valid)" in d or "WHERE ((NOT is_valid) AND" in d for d in definitions
            ), name


# The old plans, for the comparison: the same query without the two indexes.
NEW_INDEXES = ("event_violation_model", "event_message_fts")

MODELS = ["gpt-4o", "gpt-4o-mini", "claude", "o1"]
WORDS = ["email", "quota", "json", "refused", "printer", "answer", "answers"]
QUERIES = [
    "",
    "email",
    "zebra",
    "quota",
    "answer",
    "answering",
    "email OR quota",
    '"not valid"',
    "answer -refused",
    "the",
]


def all_pages(project: Project, filters: ViolationFilters) -> list[list[tuple[str, list[int]]]]:
    """Return every page of the explorer: (call, its verdicts' ids) per call, until the last page."""
    pages = []
    cursor = None
    while True:
        page = violations_page(project=project, filters=filters, cursor=cursor, size=3)
        pages.append([(c.call_id, [v.pk for v in c.verdicts]) for c in page.calls])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


event = st.fixed_dictionaries(
    {
        "call": st.integers(0, 12),
        "minutes_ago": st.integers(0, 3 * 24 * 60),
        "is_valid": st.booleans(),
        "model": st.sampled_from(MODELS),
        "message": st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join),
    }
)


class TestSameResults:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        events=st.lists(event, min_size=1, max_size=40),
        model=st.sampled_from(["", *MODELS, "absent"]),
        q=st.sampled_from(QUERIES),
        since_hours=st.sampled_from([None, 0.5, 2, 30]),
    )
    def test_every_page_is_what_the_query_gave_without_the_indexes(
        self, cast: Cast, events: list[dict[str, Any]], model: str, q: str, since_hours: float | None
    ) -> None:
        now = timezone.now()
        since = None if since_hours is None else now - timedelta(hours=since_hours)
        with transaction.atomic():
            telemetry_services.event_ingest_batch(
                project=cast.project_a,
                events=[
                    make_event(
                        call_id=f"call-{e['call']}",
                        timestamp=(now - timedelta(minutes=e["minutes_ago"])).isoformat(),
                        is_valid=e["is_valid"],
                        outcome="passed" if e["is_valid"] else "violated",
                        model=e["model"],
                        message=e["message"],
                    )
                    for e in events
                ],
                now=now,
            )
            filters = ViolationFilters(model=model, q=q, since=since, until=since and now)
            with connection.cursor() as cursor:
                # Plans as on a large table: the indexes wherever they apply.
                cursor.execute("SET LOCAL enable_seqscan = off")
            # Scans of 4 rows and a first step over 6 violations, so that a search's two
            # steps and its windows all take part on this little data.
            with patch.object(selectors, "_SCAN", 4), patch.object(selectors, "_SEARCH_WALK", 6):
                indexed = all_pages(cast.project_a, filters)
                # The old query: no index of its own, and one search over all time.
                with (
                    transaction.atomic(),
                    patch.object(selectors, "_SEARCH_WINDOWS", 0),
                    patch.object(selectors, "_SEARCH_WALK", 0),
                ):
                    with connection.cursor() as cursor:
                        for name in NEW_INDEXES:
                            cursor.execute(f"DROP INDEX {name}")
                        cursor.execute("SET LOCAL enable_seqscan = on")
                    before = all_pages(cast.project_a, filters)
                    transaction.set_rollback(True)
            assert indexed == before
            calls = {call for page in indexed for call, _ in page}
            if not q and since is None:
                assert calls == {
                    f"call-{e['call']}" for e in events if not e["is_valid"] and model in ("", e["model"])
                }
            if q == "zebra" or model == "absent":
                assert calls == set()
            transaction.set_rollback(True)
