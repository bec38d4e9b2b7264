"""What a contracted client does with each finished call: report it, trace it, span it.

``ClientTelemetry`` is the report listener ``ContractOpenAI`` installs when it has a
reporter, OpenTelemetry, project contracts or experiments to serve. On the call path it only stores
references (the report, a timestamp) and appends them to the reporter's queue; the
events, the redaction and the trace are built by the reporter's worker.
"""

from __future__ import annotations

import dataclasses
import random
import time
from typing import TYPE_CHECKING, Any

from .._exceptions import ContractConfigError
from .._ids import new_id
from ..contracts._base import Contract
from ..enforcement._engine import ContractEngine
from ._guard import log
from ._reporter import CallItem, Reporter, default_reporter

if TYPE_CHECKING:
    from ..enforcement._pipeline import CallSettings
    from ..enforcement._report import ContractReport

__all__ = ["UPLOAD_MODES", "ClientTelemetry", "attach_telemetry"]

UPLOAD_MODES = ("never", "breakpoints", "violations", "all")


def _sort(contracts: list[Contract]) -> list[Contract]:
    return sorted(contracts, key=lambda c: -c.priority)


class ClientTelemetry:
    """The report listener of one client and its copies.

    Parameters:
        reporter: where events go; the environment-configured default when None.
        upload_traces: ``"violations"`` (default: every call with a violation, sampled by
            the project's trace sample rate, and every call a pulled breakpoint matches or
            a contract raised in), ``"breakpoints"`` (only those two), ``"all"`` or
            ``"never"``. Each trace is PII-redacted and bounded to ``TRACE_MAX_BYTES``.
        project_contracts: also enforce the project's server-defined contracts.
        project_contracts_timeout: seconds the first call of the process waits for the
            first pull of the project's contracts (default 1; 0: never wait). When they
            have not arrived, the call enforces the client's own contracts and its report
            says ``project_contracts == "unavailable"``.
        user_id: the user the client's calls are made for, which places them in the
            project's running experiments (``llm_contracts.experiment_context(user_id=...)``
            overrides it per call). Experiments are pulled with the project's contracts,
            or whenever a ``user_id`` is given. A user in an experiment gets the client's
            and the project's contracts with the variant's contracts added, each
            replacing a contract of the same name; the variant travels in the call's
            report and events. With no experiments known (the control plane never
            answered), every call is control.
        otel: True to emit OpenTelemetry spans on the global tracer provider, a
            ``TracerProvider`` to use that one, False never, None (default) when the app
            configured a global tracer provider.
    """

    def __init__(
        self,
        settings: CallSettings,
        *,
        reporter: Reporter | None = None,
        upload_traces: str = "violations",
        project_contracts: bool = False,
        otel: Any = None,
        user_id: str | None = None,
        project_contracts_timeout: float = 1.0,
    ) -> None:
        wait = project_contracts_timeout
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 60:
            raise ContractConfigError(f"project_contracts_timeout must be seconds from 0 to 60; got {wait!r}")
        if reporter is not None and not isinstance(reporter, Reporter):
            raise ContractConfigError(
                f"reporter= must be a llm_contracts.reporting.Reporter; got {reporter!r}"
            )
        if upload_traces not in UPLOAD_MODES:
            raise ContractConfigError(
                f"upload_traces must be one of {', '.join(UPLOAD_MODES)}; got {upload_traces!r}"
            )
        if otel not in (True, False, None) and not callable(getattr(otel, "get_tracer", None)):
            raise ContractConfigError(f"otel must be True, False, None or a TracerProvider; got {otel!r}")
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            raise ContractConfigError(f"user_id must be a non-empty str or None; got {user_id!r}")
        from ..observability._otel import SpanRecorder

        self.reporter = reporter if reporter is not None else default_reporter()
        self.upload_traces = upload_traces
        self.project_contracts = bool(project_contracts)
        self.project_contracts_timeout = float(project_contracts_timeout)
        self._unavailable: tuple[CallSettings, CallSettings] | None = None
        self.user_id = user_id
        self.experiments = self.project_contracts or user_id is not None
        self.spans = SpanRecorder(otel)
        self._settings = settings
        self._cache: tuple[Any, ...] | None = None
        # (settings, engine lists, experiments) -> {variations: settings of a call in them}
        self._variant_cache: tuple[Any, Any, Any, Any, dict[tuple[tuple[str, int], ...], CallSettings]] | None
        self._variant_cache = None
        if self.reporter.enabled:
            self.reporter.sync.want(
                contracts=self.project_contracts,
                breakpoints=upload_traces in ("breakpoints", "violations"),
                experiments=self.experiments,
            )
        elif self.project_contracts:
            log.warning(
                "project_contracts=True needs a reporter with a URL and an API key "
                "(LLM_CONTRACTS_URL, LLM_CONTRACTS_API_KEY); only local contracts apply"
            )

    @property
    def active(self) -> bool:
        """Return True when this listener has anything to do."""
        return self.reporter.enabled or self.spans.mode is not False

    def busy(self) -> bool:
        """Return True when a call must be observed now: a reporter, or a live tracer."""
        return self.reporter.enabled or self.spans._get_tracer() is not None

    # -- project contracts ----------------------------------------------------------------------

    def settings_for(self, base: CallSettings) -> CallSettings:
        """Return the settings of one call: ``base``, the project's contracts, the caller's variants."""
        settings = self._with_project(base)
        if not self.experiments or not self.reporter.enabled:
            return settings
        return self._with_variants(settings)

    def _with_variants(self, settings: CallSettings) -> CallSettings:
        """Return ``settings`` with the contracts of the caller's experiment variants, built once per set."""
        sync = self.reporter.sync
        active = sync.rules.active
        if not active:
            return settings
        from ..experiments._context import current_user_id

        user = current_user_id() or self.user_id
        if user is None:
            return settings
        exposures = sync.rules.exposures(user, sync.sticky_store)
        if not exposures:
            return settings
        engine = settings.engine
        cache = self._variant_cache
        inputs, outputs = engine.input_contracts, engine.output_contracts
        if (
            cache is None
            or cache[0] is not settings
            or cache[1] is not inputs
            or cache[2] is not outputs
            or cache[3] is not active
        ):
            cache = self._variant_cache = (settings, inputs, outputs, active, {})
        key = tuple((e.experiment, e.variation) for e in exposures)
        found = cache[4].get(key)
        if found is None:

            def kept(c: Contract) -> bool:
                return not any(e.replaces(c.name) for e in exposures)

            extra = [c for e in exposures for c in e.contracts]
            merged = ContractEngine(breaker=engine.breaker, metrics=engine.metrics)
            merged.input_contracts = _sort(
                [*filter(kept, engine.input_contracts), *(c for c in extra if c.category.value == "input")]
            )
            merged.output_contracts = _sort(
                [*filter(kept, engine.output_contracts), *(c for c in extra if c.category.value != "input")]
            )
            found = cache[4][key] = dataclasses.replace(settings, engine=merged, exposures=exposures)
        return found

    def _with_project(self, base: CallSettings) -> CallSettings:
        """Return ``base`` with the project's current contracts added, built once per contract set."""
        if not self.project_contracts or not self.reporter.enabled:
            return base
        sync = self.reporter.sync
        if not sync.wait_first_contracts(self.project_contracts_timeout):
            # The report of the call says its project contracts were not there.
            if self._unavailable is None or self._unavailable[0] is not base:
                self._unavailable = (base, dataclasses.replace(base, project_contracts="unavailable"))
            return self._unavailable[1]
        project = sync.contracts
        engine = base.engine
        cached = self._cache
        if (
            cached is not None
            and cached[0] is base
            and cached[1] is engine
            and cached[2] is project
            and cached[3] is engine.input_contracts
            and cached[4] is engine.output_contracts
        ):
            return cached[5]  # type: ignore[no-any-return]
        if not project:
            settings = dataclasses.replace(base, project_contracts="applied")
        else:
            merged = ContractEngine(breaker=engine.breaker, metrics=engine.metrics)
            # Build both lists, then hand the call a new settings object: a call in flight
            # keeps the set it started with.
            merged.input_contracts = _sort(
                [*engine.input_contracts, *(c for c in project if c.category.value == "input")]
            )
            merged.output_contracts = _sort(
                [*engine.output_contracts, *(c for c in project if c.category.value != "input")]
            )
            settings = dataclasses.replace(base, engine=merged, project_contracts="applied")
        self._cache = (base, engine, project, engine.input_contracts, engine.output_contracts, settings)
        return settings

    # -- the listener ---------------------------------------------------------------------------

    def __call__(self, report: ContractReport) -> None:
        reporter = self.reporter
        if not reporter.enabled:
            # Nothing to enqueue: without a live tracer either, there is nothing to do.
            spans = self.spans
            try:
                idle = spans.mode is False or spans._get_tracer() is None
            except Exception:  # the guarded path below meets the error again and contains it
                idle = False
            if idle:
                return
        with reporter.guard:
            versions = self._versions()  # a reference: the sync replaces the dict, never edits it
            if report.exposures:
                versions = {**versions, **{k: v for e in report.exposures for k, v in e.versions.items()}}
            if self.spans.mode is not False:
                self.spans.record(report, versions)
            if reporter.enabled:
                n = (
                    len(report.input_results)
                    + len(report.stream_results)
                    + (len(report.attempts[-1].results) if report.attempts else 0)
                )
                reporter.enqueue_call(CallItem(report, time.time(), self._materialise, versions), n)

    def _versions(self) -> dict[str, int]:
        return self.reporter.sync.versions if self.project_contracts and self.reporter.enabled else {}

    def _categories(self) -> dict[str, str]:
        engine = self._settings.engine
        contracts = [*engine.input_contracts, *engine.output_contracts]
        if self.project_contracts and self.reporter.enabled:
            contracts += self.reporter.sync.contracts
        return {c.name: c.category.value for c in contracts}

    def _categories_of(self, report: ContractReport) -> dict[str, str]:
        categories = self._categories()
        for exposure in report.exposures:
            categories.update((c.name, c.category.value) for c in exposure.contracts)
        return categories

    def _wants_trace(self, report: ContractReport) -> tuple[bool, int | None]:
        mode = self.upload_traces
        if mode == "never":
            return False, None
        from ..debugging._trace import first_match

        sync = self.reporter._sync
        hit = first_match(sync.breakpoints, report) if sync is not None else None
        if hit is not None and hit.take():
            return True, hit.id
        if mode == "all":
            return True, None
        errored = any(r.error for r in report.results)
        if errored:
            return True, None
        if mode == "violations" and (report.outcome == "violated" or bool(report.violations)):
            # The project's sample rate (pulled with the breakpoints; all until known).
            rate = sync.trace_sample_rate if sync is not None else 1.0
            return rate >= 1.0 or random.random() < rate, None
        return False, None

    def _materialise(self, item: CallItem) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Build the events (and the trace, when kept) of a queued call; runs in the worker."""
        # The events' and traces' builders load with the first call reported, not with the client.
        from ..debugging._trace import Trace, bound_trace
        from ._events import clean_payload, report_events

        report = item.report
        call_id = new_id()
        upload, breakpoint_id = self._wants_trace(report)
        trace_id = new_id() if upload else None
        events = report_events(
            report,
            call_id=call_id,
            ended_at=item.ended_at,
            categories=self._categories_of(report),
            versions=item.versions,
            trace_id=trace_id,
            metadata=item.extra,
        )
        trace = None
        if upload:
            built = Trace.from_report(report, trace_id=trace_id, call_id=call_id, breakpoint_id=breakpoint_id)
            trace = bound_trace(clean_payload(built.to_dict()))
        return events, trace


def attach_telemetry(
    settings: CallSettings,
    *,
    reporter: Reporter | None = None,
    upload_traces: str = "violations",
    project_contracts: bool = False,
    otel: Any = None,
    user_id: str | None = None,
    project_contracts_timeout: float = 1.0,
) -> ClientTelemetry | None:
    """Install the telemetry listener on ``settings`` when it has anything to do; return it."""
    telemetry = ClientTelemetry(
        settings,
        reporter=reporter,
        upload_traces=upload_traces,
        project_contracts=project_contracts,
        otel=otel,
        user_id=user_id,
        project_contracts_timeout=project_contracts_timeout,
    )
    if not telemetry.active:
        return None
    settings.listeners.append(telemetry)
    return telemetry
