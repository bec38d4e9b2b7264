"""What every drop-in client shares: its contract keywords, configuration and introspection.

A provider's client subclasses the vendor's own client and this mixin, and enforces
contracts in the vendor client's request layer with the engine's ``contracted_call``.
Nothing here imports a vendor SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic_core import ValidationError

from .._exceptions import ContractViolationError, ResponseFormatViolationError
from .._scope import ACTIVE_CONVERSATION
from ..contracts._base import Contract, ValidationContext
from ..contracts._types import LLMResponse
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._engine import ContractEngine
from ..enforcement._pipeline import MISFIT, CallSettings
from ..enforcement._report import ContractReport, PendingReport, attach_report, built
from ..enforcement._streaming import StreamPolicy, StreamValidator
from ..observability._metrics import Metrics
from ..reporting._client import ClientTelemetry, attach_telemetry
from ._registry import Route

if TYPE_CHECKING:
    from ..contracts.composition import Conflict
    from ..conversation import ConversationScope, ConversationStateManager
    from ..debugging._trace import Trace

__all__ = [
    "ContractClientMixin",
    "ParseGuard",
    "build_settings",
    "guard_parse",
    "pending_report",
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
_CONTRACT_LISTS = ("contracts", "input_contracts", "output_contracts")
# Reporting, tracing and server-defined contracts (llm_contracts.reporting).
_TELEMETRY_KWARGS = (
    "reporter",
    "upload_traces",
    "project_contracts",
    "otel",
    "user_id",
    "project_contracts_timeout",
)
_T = TypeVar("_T")


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
    metrics: Metrics | None = None,
) -> CallSettings:
    engine = ContractEngine(breaker=circuit_breaker, conflicts=conflicts, metrics=metrics)
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


def _with_contract_set(options: dict[str, Any]) -> dict[str, Any]:
    """Add what a loaded LLMCL contract set in ``contracts=`` declares; keywords given win."""
    client_kwargs = getattr(options.get("contracts"), "client_kwargs", None)
    if callable(client_kwargs):
        # Its "on violation retry N" and fallback, as **contract_set.client_kwargs() does.
        options = {**client_kwargs(), **options}
    return options


def with_body(options: Any, body: Mapping[str, Any], is_retry: bool) -> Any:
    opts = options.model_copy()
    opts.json_data = body
    if is_retry:
        # A re-ask is a new request: reusing the idempotency key would replay the old answer.
        opts.idempotency_key = None
        if isinstance(opts.headers, Mapping):
            opts.headers = {k: v for k, v in opts.headers.items() if k.lower() != "idempotency-key"}
    return opts


def pending_report(route: Route, body: Mapping[str, Any], stream: bool) -> PendingReport:
    """Return the vacuous report of a call, built only if someone reads it."""
    return PendingReport(route.requests.provider, route.endpoint, str(body.get("model", "")), stream)


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

    def raised(self, exc: ContractViolationError) -> ContractViolationError:
        """Return the error to raise for ``exc``: pydantic's too when the misfit failed the call."""
        error = self.error
        # The pipeline names a misfit's verdict "response_format" whatever the field is called.
        if not isinstance(error, ValidationError) or not any(r.contract_name == MISFIT for r in exc.results):
            return exc
        try:
            return ResponseFormatViolationError.violation(exc, error)
        except Exception:  # an error detail pydantic will not rebuild: our violation alone
            return exc

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
        """Set up contracts and telemetry from the keywords in ``kwargs`` (taken out of it)."""
        ours = _with_contract_set({k: kwargs.pop(k) for k in _OUR_KWARGS if k in kwargs})
        telemetry = {k: kwargs.pop(k) for k in _TELEMETRY_KWARGS if k in kwargs}
        settings = build_settings(
            **{
                "contracts": None,
                "input_contracts": None,
                "output_contracts": None,
                "contract_retries": 0,
                "retry_budget_tokens": None,
                "stream_policy": None,
                "circuit_breaker": None,
                "on_report": None,
                **ours,
            }
        )
        object.__setattr__(self, _SETTINGS, settings)
        object.__setattr__(self, "_contract_telemetry", attach_telemetry(settings, **telemetry))
        object.__setattr__(self, "_telemetry_options", telemetry)
        self.last_report = None

    def _construct(
        self,
        options: dict[str, Any],
        client: Any,
        client_options: Callable[[Any], dict[str, Any]],
        vendor_init: Callable[..., None],
    ) -> None:
        """Build the client from the keywords given: ours, then the vendor's (over ``client``'s own).

        ``vendor_init`` is the vendor client's ``__init__`` bound to this client, found through the
        class hierarchy rather than by name: ``openai.OpenAI`` may be patched to name this very class.
        """
        self._init_contracts(options)
        if client is not None:
            options = {**client_options(client), **options}
        vendor_init(**options)

    def _copy(self, options: dict[str, Any], client: Any, vendor_copy: Callable[..., _T]) -> _T:
        """Return the copy ``copy()`` / ``with_options()`` describe, from the keywords given."""
        changes = {k: options.pop(k) for k in _OUR_KWARGS if k in options}
        telemetry = {k: options.pop(k) for k in _TELEMETRY_KWARGS if k in options}
        twin: Any
        if client is not None:
            # The same contracts around another vendor client, with the vendor's options applied
            # the way its own copy() applies them.
            build: Callable[..., Any] = type(self)
            twin = build(client=client.copy(**options) if options else client)
        else:
            twin = vendor_copy(**options)
        twin._adopt(self, changes, telemetry)
        result: _T = twin
        return result

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
        from ..conversation import open_conversation

        return open_conversation(session_id, **options)

    def add_report_listener(self, listener: Callable[[ContractReport], None]) -> None:
        """Call ``listener(report)`` after every contracted call (errors in it are contained)."""
        self._contract_settings.listeners.append(listener)

    def get_health_report(self) -> dict[str, Any]:
        """Return per-contract calls, violations, errors, latency and auto-fix rates."""
        return self._contract_settings.engine.health_report()

    def _adopt(
        self,
        other: ContractClientMixin,
        changes: Mapping[str, Any] | None = None,
        telemetry: Mapping[str, Any] | None = None,
    ) -> None:
        """Take ``other``'s contracts and settings, with the keywords in ``changes`` and ``telemetry``."""
        listener = other._contract_telemetry
        telemetry_options = other._telemetry_options
        if not changes and not telemetry:
            settings = other._contract_settings.copy()
        else:
            settings = other._settings_with(dict(changes or {}))
            if telemetry:
                telemetry_options = {**telemetry_options, **telemetry}
                listener = attach_telemetry(settings, **telemetry_options)
            elif listener is not None:
                settings.listeners.append(listener)
        object.__setattr__(self, _SETTINGS, settings)
        object.__setattr__(self, "_contract_telemetry", listener)
        object.__setattr__(self, "_telemetry_options", telemetry_options)

    def _settings_with(self, changes: dict[str, Any]) -> CallSettings:
        """Return new settings: this client's, with the contract keywords in ``changes``.

        Contracts given (``contracts``, ``input_contracts``, ``output_contracts``) replace all
        of this client's; ``on_report`` replaces its report listeners. The copy shares the
        circuit breaker and the metrics unless a breaker is given.
        """
        current = self._contract_settings
        engine = current.engine
        changes = _with_contract_set(changes)
        if any(name in changes for name in _CONTRACT_LISTS):
            lists = {name: changes.get(name) for name in _CONTRACT_LISTS}
        else:
            declared_input, declared_output = engine.declared()
            lists = {
                "contracts": None,
                "input_contracts": declared_input,
                "output_contracts": declared_output,
            }
        listeners = [listener for listener in current.listeners if listener is not self._contract_telemetry]
        return build_settings(
            **lists,
            contract_retries=changes.get("contract_retries", current.contract_retries),
            retry_budget_tokens=changes.get("retry_budget_tokens", current.retry_budget_tokens),
            stream_policy=changes.get("stream_policy", current.stream_policy),
            circuit_breaker=changes.get("circuit_breaker", engine.breaker),
            on_report=changes.get("on_report", listeners),
            native_schema=changes.get("native_schema", current.native_schema),
            conflicts=changes.get("conflicts", engine.conflict_mode),
            fallback=changes.get("fallback", current.fallback),
            metrics=engine.metrics,
        )

    _contract_telemetry: ClientTelemetry | None
    _telemetry_options: dict[str, Any]

    def _unobserved(self, settings: CallSettings) -> bool:
        """Return True when a call has nothing to check, record or report."""
        engine = settings.engine
        if engine.input_contracts or engine.output_contracts or settings.native_schema:
            return False
        telemetry = self._contract_telemetry
        for listener in settings.listeners:
            if listener is not telemetry:
                return False
        if telemetry is not None and telemetry.busy():
            return False
        return ACTIVE_CONVERSATION.get() is None

    def _quiet(self) -> bool:
        """Return ``self._unobserved(self._call_settings())`` without building the call's settings.

        Busy telemetry (a reporter, a live tracer) is never quiet; idle telemetry adds no
        project contracts or variants, so the call's settings are the client's own.
        """
        # The client's own contracts first: every call asks, and a client with contracts
        # is never quiet whatever its telemetry.
        settings = self._contract_settings
        engine = settings.engine
        if engine.input_contracts or engine.output_contracts or settings.native_schema:
            return False
        telemetry = self._contract_telemetry
        # telemetry.busy(), inline: this runs on every call of a client without contracts.
        if telemetry is not None and (
            telemetry.reporter.enabled or telemetry.spans._get_tracer() is not None
        ):
            return False
        for listener in settings.listeners:
            if listener is not telemetry:
                return False
        return ACTIVE_CONVERSATION.get() is None

    def _call_settings(self) -> CallSettings:
        """Return the settings of one call: the client's, plus the project's contracts when pulled."""
        telemetry = self._contract_telemetry
        # Neither project contracts nor experiments (their flag covers both): the client's own.
        if telemetry is None or not telemetry.experiments:
            return self._contract_settings
        return telemetry.settings_for(self._contract_settings)

    _last_report: ContractReport | PendingReport | None = None

    @property
    def last_report(self) -> ContractReport | None:
        """Return the report of this client's last call (None before the first)."""
        return built(self._last_report)

    @last_report.setter
    def last_report(self, report: ContractReport | PendingReport | None) -> None:
        self._last_report = report

    @property
    def last_trace(self) -> Trace | None:
        """Return the debugger trace of the last call (built when first read; text redacted)."""
        report = self.last_report
        if report is None:
            return None
        cached = getattr(self, "_last_trace", None)
        if cached is None or cached[0] is not report:
            from ..debugging._trace import Trace  # the debugger's types load when first read

            cached = (report, Trace.from_report(report))
            object.__setattr__(self, "_last_trace", cached)
        return cached[1]

    # -- shared pieces of a call ------------------------------------------------------------

    def _remember(self, result: Any, report: ContractReport | PendingReport, parsed: Sequence[Any]) -> None:
        self._last_report = report
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
