"""What every drop-in client shares: its contract keywords, configuration and introspection.

A provider's client subclasses the vendor's own client and this mixin, and enforces
contracts in the vendor client's request layer with the engine's ``contracted_call``.
Nothing here imports a vendor SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..contracts._base import Contract, ValidationContext
from ..contracts._types import LLMResponse
from ..contracts.composition import Conflict
from ..conversation import ACTIVE_CONVERSATION, ConversationScope, ConversationStateManager, open_conversation
from ..debugging._trace import Trace
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._engine import ContractEngine
from ..enforcement._pipeline import CallSettings
from ..enforcement._report import ContractReport, attach_report
from ..enforcement._streaming import StreamPolicy, StreamValidator
from ..reporting._client import ClientTelemetry, attach_telemetry
from ._registry import Route

__all__ = [
    "ContractClientMixin",
    "ParseGuard",
    "build_settings",
    "guard_parse",
    "vacuous_report",
    "with_body",
]

_SETTINGS = "_contract_settings"
_OUR_KWARGS = (
    "contracts",
    "input_contracts",
    "output_contracts",
    "contract_retries",
    "retry_budget_tokens",
    "stream_policy",
    "circuit_breaker",
    "on_report",
    "native_schema",
    "conflicts",
    "fallback",
)
# Reporting, tracing and server-defined contracts (llm_contracts.reporting).
_TELEMETRY_KWARGS = (
    "reporter",
    "upload_traces",
    "project_contracts",
    "otel",
    "user_id",
    "project_contracts_timeout",
)


def build_settings(
    *,
    contracts: Iterable[Contract] | None,
    input_contracts: Iterable[Contract] | None,
    output_contracts: Iterable[Contract] | None,
    contract_retries: int,
    retry_budget_tokens: int | None,
    stream_policy: StreamPolicy | str | None,
    circuit_breaker: CircuitBreaker | None,
    on_report: Callable[[ContractReport], None] | Iterable[Callable[[ContractReport], None]] | None,
    native_schema: bool = False,
    conflicts: str = "resolve",
    fallback: str | None = None,
) -> CallSettings:
    engine = ContractEngine(breaker=circuit_breaker, conflicts=conflicts)
    for c in contracts or ():
        engine.add(c)
    for c in input_contracts or ():
        engine.add_input(c)
    for c in output_contracts or ():
        engine.add_output(c)
    listeners = [on_report] if callable(on_report) else list(on_report or ())
    return CallSettings(
        engine,
        contract_retries,
        retry_budget_tokens,
        StreamPolicy.parse(stream_policy),
        listeners,
        bool(native_schema),
        fallback,
    )


def with_body(options: Any, body: Mapping[str, Any], is_retry: bool) -> Any:
    opts = options.model_copy()
    opts.json_data = body
    if is_retry:
        # A re-ask is a new request: reusing the idempotency key would replay the old answer.
        opts.idempotency_key = None
        if isinstance(opts.headers, Mapping):
            opts.headers = {k: v for k, v in opts.headers.items() if k.lower() != "idempotency-key"}
    return opts


def vacuous_report(route: Route, body: Mapping[str, Any], stream: bool) -> ContractReport:
    """Return the report of a call that had nothing to check: it passed, vacuously."""
    return ContractReport(
        provider=route.requests.provider,
        endpoint=route.endpoint,
        model=str(body.get("model", "")),
        streamed=stream,
        stop_reason="no contracts to check",
    )


class ParseGuard:
    """Stand in for the post-parser of a vendor SDK's ``parse`` helpers for one call.

    ``chat.completions.parse`` and ``responses.parse`` turn the answer into openai's
    ``Parsed...`` type after the HTTP call, raising pydantic's ``ValidationError`` when it
    does not fit ``response_format``. Caught here, that misfit becomes an output violation
    the pipeline re-asks like any other; openai's own errors (``LengthFinishReasonError``,
    ...) and a ``TypeError`` for an unsupported format still pass through unchanged.
    """

    __slots__ = ("error", "field", "parser")

    def __init__(self, parser: Callable[[Any], Any], field: str = "response_format") -> None:
        self.parser = parser
        self.field = field
        self.error: ValueError | None = None

    def __call__(self, raw: Any) -> Any:
        self.error = None
        try:
            return self.parser(raw)
        except ValueError as exc:  # pydantic's ValidationError (invalid JSON included) is one
            self.error = exc
            return raw

    def misfits(self, parsed: Any) -> list[str | None]:
        """Return, per choice of the last answer, why it did not fit (None where it did)."""
        if self.error is None:
            return []
        choices = getattr(parsed, "choices", None)
        if isinstance(choices, list) and len(choices) > 1:
            # openai stops at the first misfit: parse each choice alone to judge them all.
            per_choice: list[str | None] = []
            for choice in choices:
                try:
                    self.parser(parsed.model_copy(update={"choices": [choice]}))
                    per_choice.append(None)
                except Exception as exc:  # any failure of that choice is its misfit
                    per_choice.append(_misfit_message(exc, self.field))
            if any(per_choice):
                return per_choice
        return [_misfit_message(self.error, self.field)]


def _misfit_message(exc: BaseException, field: str) -> str:
    errors = getattr(exc, "errors", None)
    try:
        items = errors(include_url=False, include_input=False) if callable(errors) else None
    except TypeError:
        items = None
    if items:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'answer'}: {e.get('msg', '')}" for e in items[:5]
        )
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return f"the answer does not fit the {field}: {detail}"


def guard_parse(options: Any, stream: bool, field: str = "response_format") -> tuple[Any, ParseGuard | None]:
    """Return ``options`` whose post-parser (a ``parse`` helper's) is guarded, and the guard."""
    parser = options.post_parser
    if stream or not callable(parser):
        return options, None
    guard = ParseGuard(parser, field)
    options = options.model_copy()
    options.post_parser = guard
    return options, guard


class ContractClientMixin:
    """What the sync and async clients share: configuration and introspection."""

    _contract_settings: CallSettings

    def _init_contracts(self, kwargs: dict[str, Any]) -> None:
        ours = {k: kwargs.pop(k) for k in _OUR_KWARGS if k in kwargs}
        client_kwargs = getattr(ours.get("contracts"), "client_kwargs", None)
        if callable(client_kwargs):
            # A loaded LLMCL contract set brings its "on violation retry N" and fallback,
            # as **contract_set.client_kwargs() does; keywords given explicitly win.
            for name, value in client_kwargs().items():
                ours.setdefault(name, value)
        ours.setdefault("contract_retries", 0)
        ours.setdefault("retry_budget_tokens", None)
        for name in (
            "contracts",
            "input_contracts",
            "output_contracts",
            "stream_policy",
            "circuit_breaker",
            "on_report",
        ):
            ours.setdefault(name, None)
        telemetry = {k: kwargs.pop(k) for k in _TELEMETRY_KWARGS if k in kwargs}
        object.__setattr__(self, _SETTINGS, build_settings(**ours))
        telemetry_listener = attach_telemetry(self._contract_settings, **telemetry)
        object.__setattr__(self, "_contract_telemetry", telemetry_listener)
        self.last_report: ContractReport | None = None

    # -- configuration ----------------------------------------------------------------

    def add_input_contract(self, contract: Contract) -> None:
        """Check ``contract`` on every request before it is sent."""
        self._contract_settings.engine.add_input(contract)

    def add_output_contract(self, contract: Contract) -> None:
        """Check ``contract`` on every answer."""
        self._contract_settings.engine.add_output(contract)

    def add_contract(self, contract: Contract) -> None:
        """Add ``contract`` where its category says: input contracts before the call, others after."""
        self._contract_settings.engine.add(contract)

    @property
    def input_contracts(self) -> list[Contract]:
        return list(self._contract_settings.engine.input_contracts)

    @property
    def output_contracts(self) -> list[Contract]:
        return list(self._contract_settings.engine.output_contracts)

    @property
    def contract_conflicts(self) -> list[Conflict]:
        """Return the conflicts found among this client's contracts and what was done about them."""
        return list(self._contract_settings.engine.conflicts)

    @property
    def circuit_breaker(self) -> CircuitBreaker:
        return self._contract_settings.engine.breaker

    @property
    def contract_retries(self) -> int:
        return self._contract_settings.contract_retries

    def conversation(
        self, session_id: str | ConversationStateManager | None = None, **options: Any
    ) -> ConversationScope:
        """Record the contracted calls made inside the block as turns of one conversation.

        ``with client.conversation("s-1", model=..., temporal_contracts=[...]) as conv:``
        (``async with`` works too). Each call inside records the messages it adds and
        the answer it keeps; temporal contracts of the client and of the conversation
        judge every answer with ``context.conversation`` set. Pass an existing
        :class:`ConversationStateManager` to continue it. A rejected answer never
        reaches the caller, so it is not recorded.
        """
        return open_conversation(session_id, **options)

    def add_report_listener(self, listener: Callable[[ContractReport], None]) -> None:
        """Call ``listener(report)`` after every contracted call (errors in it are contained)."""
        self._contract_settings.listeners.append(listener)

    def get_health_report(self) -> dict[str, Any]:
        """Return per-contract calls, violations, errors, latency and auto-fix rates."""
        return self._contract_settings.engine.health_report()

    def _adopt(self, other: ContractClientMixin) -> None:
        object.__setattr__(self, _SETTINGS, other._contract_settings.copy())
        object.__setattr__(self, "_contract_telemetry", other._contract_telemetry)

    _contract_telemetry: ClientTelemetry | None

    def _unobserved(self, settings: CallSettings) -> bool:
        """Return True when a call has nothing to check, record or report."""
        engine = settings.engine
        if engine.input_contracts or engine.output_contracts or settings.native_schema:
            return False
        telemetry = self._contract_telemetry
        if any(listener is not telemetry for listener in settings.listeners):
            return False
        if telemetry is not None and telemetry.busy():
            return False
        return ACTIVE_CONVERSATION.get() is None

    def _call_settings(self) -> CallSettings:
        """Return the settings of one call: the client's, plus the project's contracts when pulled."""
        telemetry = self._contract_telemetry
        if telemetry is None:
            return self._contract_settings
        return telemetry.settings_for(self._contract_settings)

    @property
    def last_trace(self) -> Trace | None:
        """Return the debugger trace of the last call (built when first read; text redacted)."""
        report = self.last_report
        if report is None:
            return None
        cached = getattr(self, "_last_trace", None)
        if cached is None or cached[0] is not report:
            cached = (report, Trace.from_report(report))
            object.__setattr__(self, "_last_trace", cached)
        return cached[1]

    # -- shared pieces of a call ------------------------------------------------------------

    def _remember(self, result: Any, report: ContractReport, parsed: Sequence[Any]) -> None:
        self.last_report = report
        attach_report(result, report)
        if parsed:
            # A raw response caches what its parse() returned, so the caller's own
            # parse() gives back this very object: it carries the report too.
            attach_report(parsed[-1], report)

    def _validator(self, route: Route, report: ContractReport, request: Any) -> StreamValidator:
        settings = self._call_settings()
        engine = settings.engine
        conversation = ACTIVE_CONVERSATION.get()

        def done(final: ContractReport) -> None:
            if conversation is not None and final.passed and final.attempts:
                # A stream closed early has no attempt: only whole answers become turns.
                conversation.record_exchange(request, LLMResponse(final.attempts[-1].text, final.model))
            engine.metrics.record_call(outcome=final.outcome)
            settings.emit(final)

        context = ValidationContext(request=request)
        if conversation is not None:
            context.conversation = conversation.view_for(request, None)
        return StreamValidator(
            engine=engine,
            policy=settings.stream_policy,
            report=report,
            context=context,
            delta_text=route.responses.delta_text,
            chunk_usage=route.responses.chunk_usage,
            on_done=done,
            validate=report.outcome != "skipped",
            tool_deltas=route.responses.tool_deltas,
            finish_reason=route.responses.finish_reason,
        )

    def _unvalidated(self, report: ContractReport) -> None:
        """Report a stream handed back as raw HTTP (``cast_to=httpx.Response``): nothing checked it."""
        report.outcome = "skipped"
        report.stop_reason = "raw HTTP stream returned to the caller: output not validated"
        self._contract_settings.engine.metrics.record_call(outcome="skipped")
        self._contract_settings.emit(report)
