"""What the SDKs report and what is computed from it: events, SDK instances, rollups, alerts.

The tables keep the names they had when these models lived in contracts_app
(``Meta.db_table``): moving the models moved no data, and the raw SQL of the partitioned
events table and its trigger names them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models
from django.utils import timezone

from accounts.models import Project
from dashboard.lib.immutable import ImmutableModel

# Upper bounds (ms, exclusive) of the fixed latency histogram buckets; the last is open.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1000,
    2000,
    5000,
    10000,
    float("inf"),
)


BUCKET_FIELDS: tuple[str, ...] = tuple(f"lat_b{i:02d}" for i in range(len(LATENCY_BUCKETS_MS)))


# The same buckets for the LLM call's latency.
LLM_BUCKET_FIELDS: tuple[str, ...] = tuple(f"llm_lat_b{i:02d}" for i in range(len(LATENCY_BUCKETS_MS)))


# The timestamps Python can read back: Postgres stores year 1 at +14:00 as 1 BC and
# 9999-12-31 at -14:00 as year 10000, and loading either row raises.
READABLE_SINCE = datetime(1, 1, 2, tzinfo=UTC)


READABLE_UNTIL = datetime(9999, 12, 30, tzinfo=UTC)


class EventQuerySet(models.QuerySet["ValidationEvent"]):
    def readable(self) -> EventQuerySet:
        """Leave out rows whose timestamp cannot be loaded (stored before ingest bounded it)."""
        return self.filter(timestamp__gte=READABLE_SINCE, timestamp__lt=READABLE_UNTIL)


class ValidationEvent(ImmutableModel):
    class Category(models.TextChoices):
        INPUT = "input"
        OUTPUT = "output"
        TEMPORAL = "temporal"
        SEMANTIC = "semantic"
        PERFORMANCE = "performance"
        SECURITY = "security"

    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"
        CRITICAL = "critical"

    class Enforcement(models.TextChoices):
        STRICT = "strict"
        WARN = "warn"
        MONITOR = "monitor"

    class Outcome(models.TextChoices):
        PASSED = "passed"
        REPAIRED = "repaired"
        WARNED = "warned"
        VIOLATED = "violated"
        SKIPPED = "skipped"
        FALLBACK = "fallback"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64)
    call_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    contract = models.CharField(max_length=200)
    contract_version = models.PositiveIntegerField(null=True, blank=True)
    category = models.CharField(max_length=12, choices=Category.choices)
    is_valid = models.BooleanField()
    error = models.BooleanField(default=False)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    enforcement = models.CharField(max_length=10, choices=Enforcement.choices)
    message = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    input_excerpt = models.TextField(null=True, blank=True)
    output_excerpt = models.TextField(null=True, blank=True)
    latency_ms = models.FloatField()
    llm_latency_ms = models.FloatField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True, default="")
    provider = models.CharField(max_length=100, blank=True, default="")
    endpoint = models.CharField(max_length=200, blank=True, default="")
    # bigint: one call's token count can pass 2^31 (int4 would refuse it or, through a
    # binary COPY, keep only its low bits).
    prompt_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    auto_fix_attempted = models.BooleanField(default=False)
    auto_fix_succeeded = models.BooleanField(default=False)
    retries = models.PositiveIntegerField(default=0)
    session_id = models.CharField(max_length=200, null=True, blank=True)
    turn = models.PositiveIntegerField(null=True, blank=True)
    experiment = models.CharField(max_length=200, null=True, blank=True)
    variant = models.CharField(max_length=200, null=True, blank=True)
    trace_id = models.CharField(max_length=64, null=True, blank=True)
    sdk_version = models.CharField(max_length=50, blank=True, default="")

    objects = EventQuerySet.as_manager()

    class Meta:
        db_table = "contracts_app_validationevent"
        constraints = [models.UniqueConstraint(fields=["project", "event_id"], name="event_unique_event_id")]
        indexes = [
            models.Index(fields=["project", "timestamp"], name="event_project_time"),
            models.Index(fields=["project", "contract", "timestamp"], name="event_project_contract_time"),
            # The aggregation reads what arrived since its watermark.
            models.Index(fields=["received_at"], name="event_received"),
            # The violations explorer pages through violations newest first, by (timestamp, id).
            models.Index(
                fields=["project", "-timestamp", "-id"],
                condition=models.Q(is_valid=False),
                name="event_violation_page",
            ),
            # The explorer's model filter: that model's violations in page order, so a model
            # with few violations (or none) does not read every violation (telemetry 0002,
            # which also adds the message search's GIN index on Postgres).
            models.Index(
                fields=["project", "model", "-timestamp", "-id"],
                condition=models.Q(is_valid=False),
                name="event_violation_model",
            ),
            # The explorer's experiment, arm, severity and version filters, likewise (telemetry 0003).
            models.Index(
                fields=["project", "experiment", "variant", "-timestamp", "-id"],
                condition=models.Q(is_valid=False, experiment__isnull=False),
                name="event_violation_experiment",
            ),
            models.Index(
                fields=["project", "variant", "-timestamp", "-id"],
                condition=models.Q(is_valid=False, variant__isnull=False),
                name="event_violation_variant",
            ),
            models.Index(
                fields=["project", "severity", "-timestamp", "-id"],
                condition=models.Q(is_valid=False),
                name="event_violation_severity",
            ),
            models.Index(
                fields=["project", "contract", "contract_version", "-timestamp", "-id"],
                condition=models.Q(is_valid=False, contract_version__isnull=False),
                name="event_violation_version",
            ),
            # The explorer groups violations by call: every verdict of the calls on a page.
            models.Index(fields=["project", "call_id"], name="event_call"),
            # Drilling into one conversation: the explorer's session filter and the trace links.
            models.Index(
                fields=["project", "session_id", "-timestamp"],
                condition=models.Q(session_id__isnull=False),
                name="event_session",
            ),
        ]


class SdkInstance(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sdk_instances")
    instance_id = models.CharField(max_length=64)
    name = models.CharField(max_length=100, blank=True, default="")
    version = models.CharField(max_length=50, blank=True, default="")
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    counters = models.JSONField(default=dict)
    events_received = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "contracts_app_sdkinstance"
        constraints = [models.UniqueConstraint(fields=["project", "instance_id"], name="sdkinstance_unique")]


class Rollup(models.Model):
    """Health figures of one contract version, experiment and variant over one time bucket."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField()
    contract = models.CharField(max_length=200)
    # 0, "" and "" stand for "none", so the unique constraint sees one row per key
    # (NULLs never compare equal in a unique index).
    contract_version = models.PositiveIntegerField(default=0)
    experiment = models.CharField(max_length=200, default="")
    variant = models.CharField(max_length=200, default="")
    count = models.PositiveBigIntegerField(default=0)
    violations = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    fixes_attempted = models.PositiveBigIntegerField(default=0)
    fixes_succeeded = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0.0)
    llm_latency_sum_ms = models.FloatField(default=0.0)
    # The latency histogram: one column per bucket of LATENCY_BUCKETS_MS, so hour rows
    # are plain SUMs of minute rows on every database.
    lat_b00 = models.PositiveBigIntegerField(default=0)
    lat_b01 = models.PositiveBigIntegerField(default=0)
    lat_b02 = models.PositiveBigIntegerField(default=0)
    lat_b03 = models.PositiveBigIntegerField(default=0)
    lat_b04 = models.PositiveBigIntegerField(default=0)
    lat_b05 = models.PositiveBigIntegerField(default=0)
    lat_b06 = models.PositiveBigIntegerField(default=0)
    lat_b07 = models.PositiveBigIntegerField(default=0)
    lat_b08 = models.PositiveBigIntegerField(default=0)
    lat_b09 = models.PositiveBigIntegerField(default=0)
    lat_b10 = models.PositiveBigIntegerField(default=0)
    lat_b11 = models.PositiveBigIntegerField(default=0)
    lat_b12 = models.PositiveBigIntegerField(default=0)
    lat_b13 = models.PositiveBigIntegerField(default=0)
    # The LLM call's latency histogram, over the events that carry one.
    llm_lat_b00 = models.PositiveBigIntegerField(default=0)
    llm_lat_b01 = models.PositiveBigIntegerField(default=0)
    llm_lat_b02 = models.PositiveBigIntegerField(default=0)
    llm_lat_b03 = models.PositiveBigIntegerField(default=0)
    llm_lat_b04 = models.PositiveBigIntegerField(default=0)
    llm_lat_b05 = models.PositiveBigIntegerField(default=0)
    llm_lat_b06 = models.PositiveBigIntegerField(default=0)
    llm_lat_b07 = models.PositiveBigIntegerField(default=0)
    llm_lat_b08 = models.PositiveBigIntegerField(default=0)
    llm_lat_b09 = models.PositiveBigIntegerField(default=0)
    llm_lat_b10 = models.PositiveBigIntegerField(default=0)
    llm_lat_b11 = models.PositiveBigIntegerField(default=0)
    llm_lat_b12 = models.PositiveBigIntegerField(default=0)
    llm_lat_b13 = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def histogram(self) -> list[int]:
        """Return the bucket counts in the order of LATENCY_BUCKETS_MS."""
        return [getattr(self, name) for name in BUCKET_FIELDS]

    @property
    def llm_histogram(self) -> list[int]:
        """Return the LLM latency bucket counts in the order of LATENCY_BUCKETS_MS."""
        return [getattr(self, name) for name in LLM_BUCKET_FIELDS]


class MinuteRollup(Rollup):
    class Meta:
        db_table = "contracts_app_minuterollup"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "bucket", "contract", "contract_version", "experiment", "variant"],
                name="minuterollup_unique",
            )
        ]
        indexes = [models.Index(fields=["project", "contract", "bucket"], name="minuterollup_lookup")]
        # On Postgres, contracts_app migration 0010_rollup_series_index adds minuterollup_series.


class HourRollup(Rollup):
    class Meta:
        db_table = "contracts_app_hourrollup"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "bucket", "contract", "contract_version", "experiment", "variant"],
                name="hourrollup_unique",
            )
        ]
        indexes = [models.Index(fields=["project", "contract", "bucket"], name="hourrollup_lookup")]
        # On Postgres, contracts_app migration 0010_rollup_series_index adds hourrollup_series.


class Breakdown(models.Model):
    """Event and violation counts of one model and severity over one time bucket."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField()
    model = models.CharField(max_length=200, default="")
    severity = models.CharField(max_length=10)
    count = models.PositiveBigIntegerField(default=0)
    violations = models.PositiveBigIntegerField(default=0)

    class Meta:
        abstract = True


class MinuteBreakdown(Breakdown):
    class Meta:
        db_table = "contracts_app_minutebreakdown"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "bucket", "model", "severity"], name="minutebreakdown_unique"
            )
        ]


class HourBreakdown(Breakdown):
    class Meta:
        db_table = "contracts_app_hourbreakdown"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "bucket", "model", "severity"], name="hourbreakdown_unique"
            )
        ]


class AlertRule(models.Model):
    class Metric(models.TextChoices):
        VIOLATION_RATE = "violation_rate"
        P95_MS = "p95_ms"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_rules")
    contract = models.CharField(max_length=200)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    threshold = models.FloatField()
    window_minutes = models.PositiveIntegerField(default=5)
    min_count = models.PositiveIntegerField(default=10)
    # Fires once when the threshold is crossed and stays quiet until the value clears.
    firing = models.BooleanField(default=False)
    fired_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "contracts_app_alertrule"


class QuarantinedBucket(models.Model):
    """A minute of one project's events that the aggregation could not roll up.

    It is set aside so that the rest of the project and every other project keep being
    aggregated; ``rollups_aggregate`` tries it again on each pass until it succeeds.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField()
    reason = models.TextField()
    attempts = models.PositiveIntegerField(default=1)
    first_failed_at = models.DateTimeField(default=timezone.now)
    last_failed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "contracts_app_quarantinedbucket"
        constraints = [models.UniqueConstraint(fields=["project", "bucket"], name="quarantinedbucket_unique")]


class PendingEvent(models.Model):
    """An event stored but not yet counted in the rollups: the aggregation's queue.

    A database trigger adds a row for every event inserted, by any path (the API, the
    admin, a bulk load), in the inserting transaction; an aggregation pass counts the
    events of a project's pending rows and deletes those rows in one transaction, so
    every event is counted exactly once, whatever order the inserting transactions
    commit in. (A cursor on the events' id would skip a row whose transaction took its
    id early and committed after the cursor had passed it.) A pass therefore reads what
    arrived since the last one and nothing else.
    """

    # No foreign keys: the trigger's insert must not lock or probe other tables.
    project_id = models.BigIntegerField()
    event_pk = models.BigIntegerField()
    # The event's own timestamp: finds its partition and its minute without a join.
    timestamp = models.DateTimeField()

    class Meta:
        db_table = "contracts_app_pendingevent"
        indexes = [models.Index(fields=["project_id", "id"], name="pendingevent_project")]


class RollupBatchRow(models.Model):
    """A queued event being counted: a row of the aggregation's temporary table.

    The table lives in one database connection for one transaction
    (``services._take`` creates it); the model lets the grouping queries be written once
    for every database.
    """

    id = models.BigIntegerField(primary_key=True)
    event_pk = models.BigIntegerField()
    timestamp = models.DateTimeField(null=True)
    received_at = models.DateTimeField(null=True)
    contract = models.CharField(max_length=200, null=True)
    contract_version = models.PositiveIntegerField(null=True)
    experiment = models.CharField(max_length=200, null=True)
    variant = models.CharField(max_length=200, null=True)
    is_valid = models.BooleanField(null=True)
    error = models.BooleanField(null=True)
    auto_fix_attempted = models.BooleanField(null=True)
    auto_fix_succeeded = models.BooleanField(null=True)
    prompt_tokens = models.BigIntegerField(null=True)
    completion_tokens = models.BigIntegerField(null=True)
    latency_ms = models.FloatField(null=True)
    llm_latency_ms = models.FloatField(null=True)
    model = models.CharField(max_length=200, null=True)
    severity = models.CharField(max_length=10, null=True)

    class Meta:
        managed = False
        db_table = "lc_rollup_batch"


class Watermark(models.Model):
    """How far a periodic job has read; one row per job."""

    name = models.CharField(max_length=50, unique=True)
    value = models.DateTimeField()

    class Meta:
        db_table = "contracts_app_watermark"
