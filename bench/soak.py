"""Load and soak: sustained ingest through gunicorn with Celery workers and beat on Redis, then checks.

Usage: ``DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python bench/soak.py
[--minutes 10] [--rate EVENTS_PER_S] [--web-processes 2] [--workers 2]``.

Everything runs on this machine over loopback, in a database of its own (``--db-name``,
created and dropped here): gunicorn with ``--web-processes`` sync workers, ``--workers``
Celery workers (prefork, one pool process each, as docker/compose.yaml runs them) and one
beat, which sends the aggregation every ``--rollup-interval`` seconds (the settings' 10 s
by default). Bounded in time (``--minutes``) and count (``--max-events``).

1. The maximum: unless ``--rate`` is given, the load generator sends as fast as the server
   answers for ``--probe-seconds`` and the accepted events/s is the maximum.
2. The soak: ``--minutes`` at 80% of that maximum, on a fixed schedule, in batches of
   ``--batch`` over ``--projects`` projects; a share of the events is late (up to three
   hours old, into buckets already counted) and a share of the batches is sent twice
   (an SDK retry: the copy must be reported as duplicates and stored once).
3. The load stops; the aggregation gets until its queue is empty and a pass has started
   after the last accepted event.

Checks (exit 1 when one fails):
- the rate was held: at least 90% of the target answered;
- every accepted event is stored exactly once, and nothing else is stored;
- the minute and hour rollups and breakdowns equal a recount from the raw events (SQL,
  not through the aggregation's queue);
- worker lag p99 <= ``--max-lag-s`` (60): lag is now minus the aggregation watermark (the
  start of the last finished pass), sampled every second during the soak;
- web p99 <= ``--max-web-p99-ms`` (1000): the latency of each POST as the client sees it;
- memory flat: every process (gunicorn's master and workers, each Celery worker and its
  pool process, beat) is sampled every second; after the warm-up (the first
  ``--warmup`` share of the soak, 30%), the median RSS of the last third of the samples
  may exceed the median of the first third by at most ``--rss-tolerance-mb`` (10 MiB) or
  10%, whichever is larger; a process that exits or is replaced fails the check.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._stack import (  # noqa: E402
    Batch,
    LoadResult,
    Stack,
    bench_database,
    gzip_batch,
    make_events,
    percentile,
    run_load,
)

MIB = 1024 * 1024


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def rss_flat(
    samples: Sequence[tuple[float, int]],
    warmup_until: float,
    tolerance_mb: float,
    tolerance_share: float = 0.1,
) -> tuple[bool, str]:
    """Judge one process's (time, RSS bytes) samples: flat when, after ``warmup_until``, the
    median of the last third exceeds the median of the first third by at most
    ``tolerance_mb`` MiB or ``tolerance_share`` of it, whichever is larger."""
    after = [rss for t, rss in samples if t >= warmup_until]
    if len(after) < 3:
        return False, f"{len(after)} samples after warm-up (3 needed)"
    third = len(after) // 3
    first = statistics.median(after[:third])
    last = statistics.median(after[-third:])
    allowed = max(tolerance_mb * MIB, tolerance_share * first)
    grew = last - first
    detail = f"{first / MIB:.0f} -> {last / MIB:.0f} MiB ({grew / MIB:+.1f}, allowed +{allowed / MIB:.1f})"
    return grew <= allowed, detail


@dataclass
class Sampler:
    """Samples worker lag, queue depth and every process's RSS once a second, in a thread."""

    dsn: dict[str, Any]
    stack: Stack
    started: float
    lag_s: list[tuple[float, float]] = field(default_factory=list)
    queue: list[tuple[float, int]] = field(default_factory=list)
    rss: dict[tuple[str, int], list[tuple[float, int]]] = field(default_factory=dict)
    gone: set[tuple[str, int]] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import psutil
        import psycopg

        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                now = time.monotonic()
                row = conn.execute(
                    "SELECT EXTRACT(EPOCH FROM clock_timestamp() - value) FROM contracts_app_watermark "
                    "WHERE name = 'rollups'"
                ).fetchone()
                # No pass has finished yet: the lag is the time since the soak began.
                self.lag_s.append((now, float(row[0]) if row else now - self.started))
                depth = conn.execute("SELECT count(*) FROM contracts_app_pendingevent").fetchone()
                self.queue.append((now, int(depth[0])))
                for proc in self.stack.procs:
                    try:
                        parent = psutil.Process(proc.popen.pid)
                        family = [parent, *parent.children(recursive=True)]
                    except psutil.NoSuchProcess:
                        self.gone.add((proc.role, proc.popen.pid))
                        continue
                    for member in family:
                        try:
                            rss = member.memory_info().rss
                        except psutil.NoSuchProcess:
                            continue
                        role = proc.role if member.pid == parent.pid else f"{proc.role} child"
                        self.rss.setdefault((role, member.pid), []).append((now, rss))
                self.stop.wait(1.0)


def recount_check(dsn: dict[str, Any]) -> Check:
    """Compare the rollups and breakdowns with a recount from the raw events in one SQL pass."""
    import psycopg

    from telemetry.models import BUCKET_FIELDS, LATENCY_BUCKETS_MS, LLM_BUCKET_FIELDS

    def histogram(column: str) -> list[str]:
        out, lower = [], None
        for upper in LATENCY_BUCKETS_MS:
            conds = [f"{column} IS NOT NULL"]
            if lower is not None:
                conds.append(f"{column} >= {lower!r}")
            if upper != float("inf"):
                conds.append(f"{column} < {upper!r}")
            out.append(f"count(*) FILTER (WHERE {' AND '.join(conds)})")
            lower = upper
        return out

    ints = ["count", "violations", "errors", "fixes_attempted", "fixes_succeeded", "prompt_tokens",
            "completion_tokens", *BUCKET_FIELDS, *LLM_BUCKET_FIELDS]  # fmt: skip
    floats = ["latency_sum_ms", "llm_latency_sum_ms"]
    problems: list[str] = []
    rows_compared = 0
    with psycopg.connect(**dsn) as conn:
        for unit, table in (("minute", "contracts_app_minuterollup"), ("hour", "contracts_app_hourrollup")):
            key = (
                f"project_id, date_trunc('{unit}', \"timestamp\" AT TIME ZONE 'UTC'), contract, "
                "COALESCE(contract_version, 0), COALESCE(experiment, ''), COALESCE(variant, '')"
            )
            values = [
                "count(*)",
                "count(*) FILTER (WHERE NOT is_valid)",
                "count(*) FILTER (WHERE error)",
                "count(*) FILTER (WHERE auto_fix_attempted)",
                "count(*) FILTER (WHERE auto_fix_succeeded)",
                "COALESCE(sum(prompt_tokens), 0)",
                "COALESCE(sum(completion_tokens), 0)",
                *histogram("latency_ms"),
                *histogram("llm_latency_ms"),
                "COALESCE(sum(latency_ms), 0)",
                "COALESCE(sum(llm_latency_ms), 0)",
            ]
            want = {
                tuple(r[:6]): r[6:]
                for r in conn.execute(
                    f"SELECT {key}, {', '.join(values)} FROM contracts_app_validationevent GROUP BY {key}"
                )
            }
            got = {
                tuple(r[:6]): r[6:]
                for r in conn.execute(
                    "SELECT project_id, bucket AT TIME ZONE 'UTC', contract, contract_version, experiment, "
                    f"variant, {', '.join(ints + floats)} FROM {table}"
                )
            }
            rows_compared += len(want)
            if want.keys() != got.keys():
                problems.append(
                    f"{unit}: {len(want.keys() - got.keys())} buckets missing, "
                    f"{len(got.keys() - want.keys())} extra"
                )
            for k in want.keys() & got.keys():
                w, g = want[k], got[k]
                n = len(ints)
                if list(w[:n]) != list(g[:n]) or any(
                    abs(float(a) - float(b)) > 1e-3 + 1e-9 * abs(float(a))
                    for a, b in zip(w[n:], g[n:], strict=True)
                ):
                    problems.append(f"{unit} {k}: recount {list(w)} != rollup {list(g)}")
                    break
        for unit, table in (
            ("minute", "contracts_app_minutebreakdown"),
            ("hour", "contracts_app_hourbreakdown"),
        ):
            key = f"project_id, date_trunc('{unit}', \"timestamp\" AT TIME ZONE 'UTC'), model, severity"
            want = {
                tuple(r[:4]): tuple(r[4:])
                for r in conn.execute(
                    f"SELECT {key}, count(*), count(*) FILTER (WHERE NOT is_valid) "
                    f"FROM contracts_app_validationevent GROUP BY {key}"
                )
            }
            got = {
                tuple(r[:4]): tuple(r[4:])
                for r in conn.execute(
                    "SELECT project_id, bucket AT TIME ZONE 'UTC', model, severity, count, violations "
                    f"FROM {table}"
                )
            }
            rows_compared += len(want)
            if want != got:
                problems.append(
                    f"{unit} breakdown differs in {len(set(want.items()) ^ set(got.items()))} rows"
                )
    detail = "; ".join(problems[:3]) if problems else f"{rows_compared:,} rollup and breakdown rows equal"
    return Check("rollups equal a recount from raw events", not problems, detail)


def stored_once_check(dsn: dict[str, Any], sent: dict[int, set[str]], load: LoadResult) -> Check:
    import psycopg

    with psycopg.connect(**dsn) as conn:
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM contracts_app_validationevent "
            "GROUP BY project_id, event_id HAVING count(*) > 1) d"
        ).fetchone()[0]
        stored: dict[int, set[str]] = {}
        total = 0
        for project_id, event_id in conn.execute(
            "SELECT project_id, event_id FROM contracts_app_validationevent"
        ):
            stored.setdefault(project_id, set()).add(event_id)
            total += 1
    accepted = sum(len(ids) for ids in load.accepted_ids.values())
    problems = []
    if twice:
        problems.append(f"{twice} events stored more than once")
    if load.rejected or load.failures or load.server_errors:
        problems.append(
            f"{load.rejected} rejected, {load.server_errors} server errors, failures: {load.failures[:2]}"
        )
    for project_id, ids in sent.items():
        answered = load.accepted_ids.get(project_id, set())
        if answered != ids:
            problems.append(f"project {project_id}: {len(ids - answered)} sent events not accepted")
        if stored.get(project_id, set()) != answered:
            have = stored.get(project_id, set())
            problems.append(
                f"project {project_id}: {len(answered - have)} accepted events missing, "
                f"{len(have - answered)} stored that were never accepted"
            )
    if total != accepted:
        problems.append(f"{total:,} rows stored for {accepted:,} accepted events")
    detail = (
        "; ".join(problems)
        if problems
        else (f"{total:,} events stored once each; {load.duplicates:,} resent events answered as duplicates")
    )
    return Check("every accepted event stored exactly once", not problems, detail)


def merge(into: LoadResult, other: LoadResult) -> None:
    for name in ("requests", "events", "accepted", "duplicates", "rejected", "retries", "server_errors"):
        setattr(into, name, getattr(into, name) + getattr(other, name))
    into.latencies_ms += other.latencies_ms
    into.failures += other.failures
    for project, ids in other.accepted_ids.items():
        into.accepted_ids.setdefault(project, set()).update(ids)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s to hold (default: 80%% of a probe)")
    parser.add_argument("--probe-seconds", type=float, default=20.0, help="length of the maximum's probe")
    parser.add_argument("--share", type=float, default=0.8, help="share of the maximum to hold (0.8)")
    parser.add_argument("--web-processes", type=int, default=2, help="gunicorn workers (compose: 2)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (compose: 2)")
    parser.add_argument("--projects", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100, help="events per request (the SDK's default)")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="client threads (default: web processes + 2)"
    )
    parser.add_argument(
        "--rollup-interval", type=float, default=0.0, help="seconds between passes (settings: 10)"
    )
    parser.add_argument("--max-events", type=int, default=2_000_000, help="upper bound on events sent")
    parser.add_argument("--late", type=float, default=0.05, help="share of events up to 3 hours late")
    parser.add_argument("--resend", type=float, default=0.02, help="share of batches sent a second time")
    parser.add_argument("--warmup", type=float, default=0.3, help="share of the soak before memory is judged")
    parser.add_argument("--max-lag-s", type=float, default=60.0)
    parser.add_argument("--max-web-p99-ms", type=float, default=1000.0)
    parser.add_argument("--rss-tolerance-mb", type=float, default=10.0)
    parser.add_argument("--drain-timeout", type=float, default=0.0, help="default: 3 intervals + 60 s")
    parser.add_argument("--db-name", default="test_llmc_soak")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        print("bench/soak.py needs CELERY_BROKER_URL pointing at Redis", file=sys.stderr)
        return 2
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("bench/soak.py needs DATABASE_URL pointing at Postgres", file=sys.stderr)
        return 2
    with bench_database(args.db_name) as db, tempfile.TemporaryDirectory() as workdir:
        return soak(args, db, Path(workdir))


def soak(args: argparse.Namespace, db: dict[str, Any], workdir: Path) -> int:
    from django.conf import settings

    from accounts import services as account_services
    from dashboard.celery import app as celery_app
    from telemetry import partitions

    partitions.partitions_ensure()
    keys = {}
    for i in range(args.projects):
        project = account_services.project_create(name=f"Soak {i}")
        keys[project.pk] = account_services.api_key_create(project=project, name="soak")[1]
    projects = sorted(keys)
    interval = args.rollup_interval or settings.ROLLUP_INTERVAL_S
    drain_timeout = args.drain_timeout or 3 * interval + 60
    celery_app.control.purge()

    max_batches = args.max_events // args.batch
    sent: dict[int, set[str]] = {}
    recent: list[Batch] = []
    rng = random.Random(7)
    made = 0

    def next_batch(_: int) -> Batch | None:
        # Called under the load generator's lock.
        nonlocal made
        if made >= max_batches:
            return None
        made += 1
        if recent and rng.random() < args.resend:
            return rng.choice(recent)  # an SDK retry: the same events again
        project = projects[made % len(projects)]
        now = datetime.now(UTC)
        events = make_events(args.batch, seed=made, span=timedelta(seconds=20), prefix=f"b{made}", now=now)
        for event in events:
            if rng.random() < args.late:
                event["timestamp"] = (now - timedelta(seconds=rng.uniform(600, 3 * 3600))).isoformat()
        batch = Batch(
            gzip_batch(events, instance=f"soak-{made % 16}"), [e["event_id"] for e in events], project
        )
        sent.setdefault(project, set()).update(batch.ids)
        recent.append(batch)
        del recent[:-50]
        return batch

    env = {"ROLLUP_INTERVAL_S": str(interval)}
    stack = Stack(db["url"], workdir, env_extra=env)
    concurrency = args.concurrency or args.web_processes + 2
    checks: list[Check] = []
    sampler = None
    stack_started = time.monotonic()
    try:
        url = stack.start_web(args.web_processes)
        for i in range(args.workers):
            stack.start_worker(f"soak-w{i + 1}")
        stack.start_beat()
        stack.wait_ready()
        startup_s = time.monotonic() - stack_started

        total = LoadResult()
        if args.rate:
            rate, probe_rate = args.rate, None
        else:
            probe = run_load(
                url, keys, next_batch, concurrency=concurrency, deadline_s=args.probe_seconds, keep_ids=True
            )
            merge(total, probe)
            probe_rate = probe.events_per_s
            rate = args.share * probe_rate
        started = time.monotonic()
        sampler = Sampler(db["dsn"], stack, started)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        load = run_load(
            url,
            keys,
            next_batch,
            concurrency=concurrency,
            rate=rate,
            batch_events=args.batch,
            deadline_s=args.minutes * 60,
            keep_ids=True,
        )
        load_end = time.monotonic()
        merge(total, load)
        # The aggregation catches up: its queue empties and a pass starts after the last event.
        drained = False
        deadline = load_end + drain_timeout
        while time.monotonic() < deadline:
            at, lag = sampler.lag_s[-1]
            depth = sampler.queue[-1][1]
            # The watermark (at - lag) is after the load's end: a pass started after it.
            if depth == 0 and lag < at - load_end:
                drained = True
                break
            time.sleep(0.5)
        drain_s = time.monotonic() - load_end
        sampler.stop.set()
        thread.join(10)
        alive = [p.role for p in stack.procs if p.popen.poll() is not None]
    finally:
        if sampler is not None:
            sampler.stop.set()
        stack.stop()
    if alive:
        checks.append(Check("every process ran to the end", False, f"exited: {', '.join(alive)}"))

    checks.append(
        Check(
            "aggregation caught up after the load",
            drained,
            f"queue empty and a pass after the last event {drain_s:.1f} s after the load stopped"
            if drained
            else f"not within {drain_timeout:.0f} s",
        )
    )
    soak_s = load_end - started
    # Every event answered counts, resent ones included: they take their place in the schedule.
    achieved = load.events / soak_s
    checks.append(
        Check(
            "the rate was held",
            achieved >= 0.9 * rate,
            f"{achieved:,.0f} events/s answered for a target of {rate:,.0f} (at least 90%)",
        )
    )
    checks.append(stored_once_check(db["dsn"], sent, total))
    checks.append(recount_check(db["dsn"]))

    soak_lags = [lag for t, lag in sampler.lag_s if t <= load_end]
    lag_p99 = percentile(soak_lags, 0.99)
    checks.append(
        Check(
            "worker lag p99",
            lag_p99 <= args.max_lag_s,
            f"p50 {percentile(soak_lags, 0.5):.1f} s, p99 {lag_p99:.1f} s, "
            f"max {max(soak_lags, default=0):.1f} s "
            f"(<= {args.max_lag_s:g} s; passes every {interval:.0f} s); queue depth max "
            f"{max((d for t, d in sampler.queue if t <= load_end), default=0):,}",
        )
    )
    web_p99 = percentile(load.latencies_ms, 0.99)
    checks.append(
        Check(
            "web p99",
            web_p99 <= args.max_web_p99_ms,
            f"p50 {percentile(load.latencies_ms, 0.5):.0f} ms, p99 {web_p99:.0f} ms "
            f"(<= {args.max_web_p99_ms:g} ms) over {len(load.latencies_ms):,} requests, "
            f"{load.retries} answered 429/503",
        )
    )
    warmup_until = started + args.warmup * (load_end - started)
    lines, flat = [], True
    for (role, pid), samples in sorted(sampler.rss.items()):
        ok, detail = rss_flat(samples, warmup_until, args.rss_tolerance_mb)
        if samples[-1][0] < load_end - 2 or (role, pid) in sampler.gone:
            ok, detail = False, detail + ", exited during the soak"
        elif samples[0][0] > warmup_until:
            ok, detail = False, detail + ", started after the warm-up (a replaced process)"
        flat &= ok
        lines.append(f"      {'ok  ' if ok else 'FAIL'} {role} (pid {pid}): {detail}")
    checks.append(
        Check(
            "memory of every process flat after warm-up", flat, f"{len(lines)} processes\n" + "\n".join(lines)
        )
    )

    print(
        f"soak: {args.web_processes} gunicorn workers, {args.workers} Celery workers + beat on Redis, "
        "one Postgres; "
        f"{os.cpu_count()} cores, load generator on the same machine; all started in {startup_s:.0f} s"
    )
    if probe_rate is not None:
        print(
            f"  maximum (probe of {args.probe_seconds:.0f} s, {concurrency} threads): "
            f"{probe_rate:,.0f} events/s"
        )
    print(
        f"  {'held ' + format(args.share, '.0%') + ' of it' if probe_rate is not None else 'given rate'}: "
        f"target {rate:,.0f} events/s, achieved "
        f"{achieved:,.0f} events/s answered ({load.accepted / soak_s:,.0f} new) over {soak_s / 60:.1f} min; "
        f"{total.events:,} events sent in all ({total.duplicates:,} resent as retries)"
    )
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    ok = all(c.ok for c in checks)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
