"""Call, event and trace pages read one partition when the link carries the row's time (Postgres).

With hour partitions a lookup by id alone probes every partition (about 720 a month). Links
carry ``?at=<the row's time>`` (``dashboard.lib.hints``): the plans of the pages' lookups
then touch one partition, the pages are the same as without the hint, and a hint that is
malformed or points elsewhere falls back to the lookup by id alone.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts_app.models import Trace
from dashboard.lib.hints import at_param
from telemetry import partitions
from telemetry.models import ValidationEvent

from .conftest import Cast

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs DATABASE_URL on Postgres"
)

TABLES = (partitions.EVENT_TABLE, partitions.TRACE_TABLE)
DAYS = 1


def _event(project: Any, moment: datetime, **fields: Any) -> ValidationEvent:
    values: dict[str, Any] = {
        "event_id": f"e-{moment.timestamp()}-{fields.get('contract', 'c')}",
        "call_id": "call-1",
        "timestamp": moment,
        "contract": "c",
        "category": "output",
        "is_valid": False,
        "severity": "error",
        "enforcement": "strict",
        "message": "broken",
        "outcome": "violated",
        "latency_ms": 1.0,
        "model": "gpt-4o",
        "trace_id": "trace-1",
        **fields,
    }
    return ValidationEvent.objects.create(project=project, **values)


@pytest.fixture
def seeded(cast: Cast) -> dict[str, Any]:
    """A day of hour partitions (both tables), a call of two verdicts mid-hour and its trace."""
    first = timezone.now().date() - timedelta(days=12)
    with connection.cursor() as cursor:
        for table in TABLES:
            for day in (first + timedelta(days=d) for d in range(DAYS)):
                partitions.hour_partitions_create(cursor, day, table)
    moment = datetime.combine(first, time(10, 30, 15, 123456), tzinfo=UTC)
    project = cast.project_a
    # The call's verdicts (the SDK stamps a call's events with its end), and other calls
    # in other hours so the other partitions are not empty.
    violated = _event(project, moment, contract="a")
    held = _event(project, moment, contract="b", is_valid=True, outcome="passed", message="")
    for hours in (-8, -3, 2, 8):
        _event(project, moment + timedelta(hours=hours), call_id=f"other-{hours}", trace_id=None)
    trace = Trace.objects.create(
        project=project, trace_id="trace-1", call_id="call-1", created_at=moment - timedelta(seconds=2)
    )
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table.name}")
    client = Client()
    client.force_login(cast.owner)
    return {"client": client, "moment": moment, "violated": violated, "held": held, "trace": trace}


def pages(seeded: dict[str, Any]) -> dict[str, str]:
    return {
        "call": "/p/alpha/calls/call-1/",
        "event": f"/p/alpha/events/{seeded['violated'].pk}/",
        "trace": "/p/alpha/traces/trace-1/",
    }


def partitions_read(sql: str) -> int:
    """Return how many partitions of the events and traces tables the plan of ``sql`` reads."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (root,) = cursor.fetchone()[0]
    found = set()
    stack = [root["Plan"]]
    while stack:
        node = stack.pop()
        stack.extend(node.get("Plans", []))
        name = node.get("Relation Name", "")
        if name.startswith(tuple(t.prefix for t in TABLES)) or name in {t.default for t in TABLES}:
            found.add(name)
    return len(found)


def get(client: Client, url: str) -> tuple[int, str, list[str]]:
    """Return the page's status, its body without per-request tokens, and its SQL on the two tables."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    body = re.sub(
        r'(name="csrfmiddlewaretoken" value|nonce)="[^"]*"|next=[^"]*"|"X-CSRFToken": "[^"]*"',
        "",
        response.content.decode(),
    )
    queries = [
        q["sql"]
        for q in captured.captured_queries
        if any(f'"{t.name}"' in q["sql"] for t in TABLES) and q["sql"].lstrip().startswith("SELECT")
    ]
    return response.status_code, body, queries


class TestHints:
    def test_with_the_hint_each_lookup_reads_one_partition_and_the_page_is_the_same(
        self, seeded: dict[str, Any]
    ) -> None:
        client, hint = seeded["client"], f"?at={at_param(seeded['moment'])}"
        # The trace link from a call's page carries the call's time, 2 s after the trace's.
        assert len(partitions.partitions_parts(partitions.EVENT_TABLE)) > DAYS * 24
        problems = {}
        for name, url in pages(seeded).items():
            status, plain, old_queries = get(client, url)
            hinted_status, hinted, queries = get(client, url + hint)
            assert status == hinted_status == 200, name
            assert hinted == plain, name
            read = [partitions_read(sql) for sql in queries]
            # Without the hint, a lookup by id reads every partition.
            assert max(partitions_read(sql) for sql in old_queries) > DAYS * 24, name
            if not queries or max(read) > 1:
                problems[name] = read
        assert problems == {}

    def test_a_bad_or_wrong_hint_falls_back_to_the_lookup_by_id(self, seeded: dict[str, Any]) -> None:
        client = seeded["client"]
        elsewhere = at_param(seeded["moment"] + timedelta(days=1))
        for name, url in pages(seeded).items():
            status, plain, _ = get(client, url)
            assert status == 200
            for bad in (
                "nonsense",
                "",
                "2026-13-45T99:00:00Z",
                "99999999999999999999",
                "1e400",
                "9999-12-31T23:59:59.999999Z",
                "0001-01-01T00:00:00Z",
                "x" * 500,
                elsewhere,
            ):
                status, body, _ = get(client, f"{url}?at={bad}")
                assert (name, bad, status) == (name, bad, 200)
                assert body == plain, (name, bad)
        # An unknown id is still a 404, with or without a hint.
        for url in ("/p/alpha/calls/nope/", "/p/alpha/events/999999/", "/p/alpha/traces/nope/"):
            assert client.get(url).status_code == 404
            assert client.get(f"{url}?at={at_param(seeded['moment'])}").status_code == 404

    def test_the_links_carry_the_rows_time(self, seeded: dict[str, Any], cast: Cast) -> None:
        client, urls = seeded["client"], pages(seeded)
        hint = f"?at={at_param(seeded['moment'])}"
        explorer = client.get("/p/alpha/violations/").content.decode()
        assert f'href="{urls["call"]}{hint}"' in explorer
        assert f'href="{urls["event"]}{hint}"' in explorer
        assert f'href="{urls["trace"]}{hint}"' in explorer
        call = client.get(urls["call"]).content.decode()
        assert f'href="{urls["event"]}{hint}"' in call
        assert f'href="/p/alpha/events/{seeded["held"].pk}/{hint}"' in call
        assert f'href="{urls["trace"]}{hint}"' in call
        event = client.get(urls["event"]).content.decode()
        assert f'href="{urls["call"]}{hint}"' in event and f'href="{urls["trace"]}{hint}"' in event
        trace = client.get(urls["trace"]).content.decode()
        assert f'href="{urls["call"]}{hint}"' in trace
        # Links to a trace from the traces' own lists carry the trace's time.
        compare = client.get("/p/alpha/traces/compare/?t=trace-1&t=trace-1").content.decode()
        assert f'href="{urls["trace"]}?at={at_param(seeded["trace"].created_at)}"' in compare
