"""Writes and business rules of contracts, breakpoints and traces, ingest, rollups, retention and alerts."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Project
from contracts_app.models import Breakpoint, Contract, ContractAuditEntry, ContractVersion, Trace
from contracts_app.schemas import TraceIn
from dashboard.lib.errors import NotFound, ServiceError
from llm_contracts.contracts import redact
from llm_contracts.debugging._trace import bound_trace
from telemetry.models import ValidationEvent
from telemetry.services import redact_id, redact_name, timestamp_error

logger = logging.getLogger(__name__)


class ContractCompileError(ServiceError):
    """LLMCL source that does not compile."""

    status = 422


# Contracts.


def _no_imports(target: str, importer: str | None) -> tuple[str, str]:
    from llm_contracts.llmcl import LLMCLError

    raise LLMCLError(f'imports are not available in contracts stored on the server ("{target}")')


def _file_references(node: Any) -> Iterable[tuple[str, Any]]:
    """Yield (what, position) for every schema file an LLMCL syntax tree refers to."""
    if getattr(node, "schema_file", None) is not None:
        yield node.schema_file, node.schema_pos
    if is_dataclass(node):
        for f in fields(node):
            yield from _file_references(getattr(node, f.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _file_references(item)


def llmcl_compile(source: str) -> dict[str, Any]:
    """Compile LLMCL source stored on the server; raise ``LLMCLError`` with every problem found.

    Imports and schema files are refused: the compiler would read them from the server's
    disk, so a contract could copy any file on it into its spec or its error messages.
    """
    # Imported here: the compiler is part of the SDK and loads its grammar on import.
    from llm_contracts.llmcl import LLMCLError, LLMCLSemanticError, compile_source, parse

    if len(source) > LLMCL_MAX_SOURCE:
        raise LLMCLError(f"the source has {len(source)} characters; at most {LLMCL_MAX_SOURCE} are allowed")
    module = parse(source)
    refused = [
        LLMCLSemanticError.at(
            f'imports are not available in contracts stored on the server ("{imp.path}")',
            file=None,
            source=source,
            line=imp.pos.line,
            column=imp.pos.column,
            end_column=imp.pos.end_column if imp.pos.end_line == imp.pos.line else None,
            hint="paste the imported contract into this source",
        )
        for imp in module.imports
    ] + [
        LLMCLSemanticError.at(
            f'schema files are not available in contracts stored on the server ("{name}")',
            file=None,
            source=source,
            line=pos.line,
            column=pos.column,
            end_column=pos.end_column if pos.end_line == pos.line else None,
            hint="write the schema inline: conforms { ... }",
        )
        for name, pos in _file_references(module)
    ]
    if refused:
        raise refused[0].with_others(refused)
    return compile_source(source, resolver=_no_imports)


def _compiled_spec(source: str) -> dict[str, Any]:
    try:
        spec = llmcl_compile(source)
    except Exception as exc:  # any failure to compile means the version cannot be saved
        raise ContractCompileError(f"the LLMCL source does not compile: {exc}", field="source") from None
    if hasattr(spec, "to_dict"):
        spec = spec.to_dict()
    elif hasattr(spec, "model_dump"):
        spec = spec.model_dump(mode="json")
    if not isinstance(spec, Mapping):
        raise ContractCompileError("the compiler returned no spec", field="source")
    return dict(spec)


def _declared(spec: Mapping[str, Any]) -> list[str]:
    return [str(c.get("name")) for c in spec.get("contracts", []) if isinstance(c, Mapping)]


def contract_version_create(
    *, project: Project, name: str, source: str, author: AbstractBaseUser | None = None, description: str = ""
) -> ContractVersion:
    """Compile ``source`` and save it as the next version (a draft) of the project's contract ``name``."""
    if not name or len(name) > 200:
        raise ServiceError("name must have 1 to 200 characters", field="name")
    spec = _compiled_spec(source)
    defined = _declared(spec)
    if name not in defined:
        raise ContractCompileError(
            f"the source defines no contract named {name!r} (it defines: {', '.join(defined) or 'none'})",
            field="source",
        )
    if len(defined) > 1:
        # A stored contract is deployed, diffed and rolled back on its own; a second
        # contract in its source would ride along unseen (and was once silently dropped).
        raise ContractCompileError(
            f"the source defines {len(defined)} contracts ({', '.join(defined)}); a stored contract "
            f"holds exactly one: save each in its own contract",
            field="source",
        )
    with transaction.atomic():
        # A new contract is a draft: nothing runs until a version is activated.
        contract, _ = Contract.objects.get_or_create(
            project=project, name=name, defaults={"description": description, "active": False}
        )
        # Lock the contract so two concurrent saves cannot both take the same number.
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        last = contract.versions.aggregate(last=Max("version"))["last"] or 0
        return ContractVersion.objects.create(
            contract=contract, version=last + 1, source=source, spec=spec, author=author
        )


def breakpoint_create(
    *, project: Project, contract: str, limit: int | None = None, **conditions: Any
) -> Breakpoint:
    """Create an active breakpoint on ``contract`` with the given conditions."""
    allowed = {"severity", "model", "input_contains", "output_contains", "rate_per_minute"}
    unknown = set(conditions) - allowed
    if unknown:
        raise ServiceError(f"unknown breakpoint conditions: {', '.join(sorted(unknown))}", field="conditions")
    return Breakpoint.objects.create(project=project, contract=contract, limit=limit, **conditions)


# Contracts: the editor, "try it", activation and roll back.

LLMCL_MAX_SOURCE = 100_000
TRY_MAX_TEXT = 100_000


@dataclass(frozen=True)
class Diagnostic:
    """One compiler error, placed at a line and column of the source (None: the whole source)."""

    message: str
    line: int | None = None
    column: int | None = None
    end_column: int | None = None
    hint: str | None = None


def _diagnostics(exc: Exception) -> list[Diagnostic]:
    errors = getattr(exc, "errors", None) or [exc]
    return [
        Diagnostic(
            message=getattr(e, "message", None) or str(e),
            line=getattr(e, "line", None),
            column=getattr(e, "column", None),
            end_column=getattr(e, "end_column", None),
            hint=getattr(e, "hint", None),
        )
        for e in errors
    ]


def contract_source_check(*, source: str) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """Compile ``source`` as a save would; return the spec, or None and every diagnostic."""
    from llm_contracts import LLMContractsError

    try:
        return llmcl_compile(source), []
    except LLMContractsError as exc:
        return None, _diagnostics(exc)
    except RecursionError:
        return None, [Diagnostic(message="the source nests too deeply to compile")]


@dataclass(frozen=True)
class TryVerdict:
    """One check's verdict on the pasted input or output."""

    contract: str
    check: str
    stage: str
    is_valid: bool
    error: bool
    message: str
    severity: str
    latency_ms: float


@dataclass
class TryResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    verdicts: list[TryVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.diagnostics and all(v.is_valid for v in self.verdicts)


def contract_try(*, source: str, input_text: str, output_text: str, model: str = "gpt-4o-mini") -> TryResult:
    """Run every contract of draft ``source`` on a pasted input and output; return each check's verdict."""
    from llm_contracts.contracts import LLMRequest, LLMResponse, Message, ValidationContext
    from llm_contracts.enforcement import ContractEngine
    from llm_contracts.llmcl import load_spec

    if len(input_text) > TRY_MAX_TEXT or len(output_text) > TRY_MAX_TEXT:
        too_long = f"the input and the output may have at most {TRY_MAX_TEXT} characters"
        return TryResult([Diagnostic(message=too_long)])
    spec, diagnostics = contract_source_check(source=source)
    if spec is None:
        return TryResult(diagnostics)
    request = LLMRequest(
        model=model,
        messages=[Message(role="user", content=input_text)],
        body={"model": model, "messages": [{"role": "user", "content": input_text}]},
    )
    response = LLMResponse(text=output_text, model=model)
    # The engine runs each check as a call would: timed, and a check that raises is an error verdict.
    engine = ContractEngine()
    result = TryResult()
    for declared in spec.get("contracts", []):
        try:
            contracts = load_spec(spec, contract=declared["name"])
        except Exception as exc:  # a spec that compiles but cannot be built is the draft's error
            result.diagnostics.append(Diagnostic(message=f"contract {declared['name']}: {exc}"))
            continue
        stages = (("input", request, contracts.input), ("output", response, contracts.output))
        for stage, value, checks in stages:
            for check in checks:
                context = ValidationContext(request=request)
                verdict = engine.run_one(check, value, context)
                result.verdicts.append(
                    TryVerdict(
                        contract=contracts.name,
                        check=check.name,
                        stage=stage,
                        is_valid=verdict.is_valid,
                        error=verdict.error,
                        message=verdict.message,
                        severity=verdict.severity.value,
                        latency_ms=verdict.latency_s * 1000,
                    )
                )
    return result


class ContractNameTaken(ServiceError):
    """A new contract whose name the project already uses; ``existing`` names it."""

    status = 409

    def __init__(self, reason: str, *, existing: str) -> None:
        super().__init__(reason, field="name")
        self.existing = existing


def contract_save(
    *, project: Project, source: str, name: str | None = None, author: AbstractBaseUser | None = None
) -> ContractVersion:
    """Save ``source`` as a draft: the next version of ``name``, or (no ``name``) a new contract."""
    if not name:
        spec, diagnostics = contract_source_check(source=source)
        if spec is None:
            raise ContractCompileError(diagnostics[0].message, field="source")
        declared = _declared(spec)
        if not declared:
            raise ContractCompileError("the source defines no contract", field="source")
        name = declared[0]
        if len(declared) == 1 and Contract.objects.filter(project=project, name=name).exists():
            # "New contract" never writes into an existing one (it may be running).
            raise ContractNameTaken(
                f"a contract named {name} exists already: edit it to save a new version, "
                f"or rename the contract in the source",
                existing=name,
            )
    return contract_version_create(project=project, name=name, source=source, author=author)


class _Unchecked:
    """The running version was not looked at before the change."""


UNCHECKED = _Unchecked()


def _actor_label(actor: AbstractBaseUser | None, actor_label: str) -> str:
    if actor_label:
        return actor_label[:150]
    return actor.get_username() if actor is not None else "system"


def _check_running(contract: Contract, expected_running: int | None | _Unchecked) -> None:
    if isinstance(expected_running, _Unchecked) or expected_running == contract.running_version:
        return
    now = f"v{contract.running_version}" if contract.running_version else "nothing"
    raise ServiceError(
        f"{contract.name} changed while you were looking: {now} runs now; review the change again",
        field="version",
    )


def contract_version_activate(
    *,
    contract_version: ContractVersion,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    reason: str = "",
    expected_running: int | None | _Unchecked = UNCHECKED,
) -> ContractAuditEntry:
    """Deploy ``contract_version``: SDKs enforce it from their next pull; return the audit entry.

    ``expected_running`` is the version the person confirming saw running (None: nothing);
    when another one runs by now the change is refused, so nobody confirms a stale diff.
    """
    from contracts_app import selectors as contract_selectors

    with transaction.atomic():
        contract = (
            Contract.objects.select_for_update(of=("self",))
            .select_related("active_version")
            .get(pk=contract_version.contract_id)
        )
        _check_running(contract, expected_running)
        running = contract.running_version
        if running == contract_version.version:
            raise ServiceError(f"{contract.name} v{running} runs already", field="version")
        contract.active_version = contract_version
        contract.active = True
        contract.save(update_fields=["active_version", "active"])
        return ContractAuditEntry.objects.create(
            contract=contract,
            actor=actor,
            actor_label=_actor_label(actor, actor_label),
            action="rollback" if running is not None and contract_version.version < running else "activate",
            from_version=running,
            to_version=contract_version.version,
            calls_per_hour=contract_selectors.contract_calls_per_hour(
                project_id=contract.project_id, name=contract.name, now=timezone.now()
            ),
            reason=reason[:500],
        )


def contract_deactivate(
    *,
    contract: Contract,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    reason: str = "",
    expected_running: int | None | _Unchecked = UNCHECKED,
) -> ContractAuditEntry:
    """Stop a contract: SDKs drop it at their next pull; return the audit entry."""
    from contracts_app import selectors as contract_selectors

    with transaction.atomic():
        contract = (
            Contract.objects.select_for_update(of=("self",))
            .select_related("active_version")
            .get(pk=contract.pk)
        )
        _check_running(contract, expected_running)
        running = contract.running_version
        if running is None:
            raise ServiceError(f"{contract.name} does not run", field="active")
        contract.active = False
        contract.save(update_fields=["active"])
        return ContractAuditEntry.objects.create(
            contract=contract,
            actor=actor,
            actor_label=_actor_label(actor, actor_label),
            action="deactivate",
            from_version=running,
            to_version=None,
            calls_per_hour=contract_selectors.contract_calls_per_hour(
                project_id=contract.project_id, name=contract.name, now=timezone.now()
            ),
            reason=reason[:500],
        )


# Breakpoints: the pages' edits.

_BREAKPOINT_TEXT_LIMITS = {"contract": 200, "model": 200, "input_contains": 500, "output_contains": 500}
# A breakpoint made on the page captures this many traces, this many a minute at most,
# unless told otherwise: one with neither once captured 1,486 traces in five minutes.
BREAKPOINT_DEFAULT_LIMIT = 100
BREAKPOINT_DEFAULT_RATE = 10
BREAKPOINT_MAX_LIMIT = 10_000
BREAKPOINT_MAX_RATE = 600


def _breakpoint_fields(
    *,
    contract: str,
    severity: str | None,
    model: str | None,
    input_contains: str | None,
    output_contains: str | None,
    limit: int | None,
    rate_per_minute: int | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "contract": (contract or "").strip(),
        "severity": severity or None,
        "model": (model or "").strip() or None,
        # The text matches are kept as typed: a leading space can be what is meant.
        "input_contains": input_contains or None,
        "output_contains": output_contains or None,
        "limit": BREAKPOINT_DEFAULT_LIMIT if limit is None else limit,
        "rate_per_minute": BREAKPOINT_DEFAULT_RATE if rate_per_minute is None else rate_per_minute,
    }
    if not values["contract"]:
        raise ServiceError("name the contract the breakpoint watches", field="contract")
    for name, most in _BREAKPOINT_TEXT_LIMITS.items():
        if values[name] is not None and len(values[name]) > most:
            raise ServiceError(f"{name} may have at most {most} characters", field=name)
    if values["severity"] is not None and values["severity"] not in ValidationEvent.Severity.values:
        raise ServiceError(
            f"severity must be one of {', '.join(ValidationEvent.Severity.values)}", field="severity"
        )
    if not 1 <= values["limit"] <= BREAKPOINT_MAX_LIMIT:
        raise ServiceError(
            f"the limit must be between 1 and {BREAKPOINT_MAX_LIMIT} (empty: {BREAKPOINT_DEFAULT_LIMIT})",
            field="limit",
        )
    if not 1 <= values["rate_per_minute"] <= BREAKPOINT_MAX_RATE:
        raise ServiceError(
            f"the rate must be between 1 and {BREAKPOINT_MAX_RATE} captures a minute "
            f"(empty: {BREAKPOINT_DEFAULT_RATE})",
            field="rate_per_minute",
        )
    return values


def breakpoint_save(
    *,
    project: Project,
    breakpoint: Breakpoint | None = None,
    contract: str,
    severity: str | None = None,
    model: str | None = None,
    input_contains: str | None = None,
    output_contains: str | None = None,
    limit: int | None = None,
    rate_per_minute: int | None = None,
) -> Breakpoint:
    """Create a breakpoint, or change its conditions, limit and rate (empty: the defaults)."""
    values = _breakpoint_fields(
        contract=contract,
        severity=severity,
        model=model,
        input_contains=input_contains,
        output_contains=output_contains,
        limit=limit,
        rate_per_minute=rate_per_minute,
    )
    if breakpoint is None:
        return breakpoint_create(project=project, **values)
    if breakpoint.project_id != project.pk:
        raise NotFound("no breakpoint with this id in the project", field="breakpoint")
    for name, value in values.items():
        setattr(breakpoint, name, value)
    if breakpoint.limit is not None and breakpoint.hit_count >= breakpoint.limit:
        # A limit at or below the captures so far spends the breakpoint at once.
        breakpoint.active = False
    breakpoint.updated_at = timezone.now()
    breakpoint.save()
    return breakpoint


def breakpoint_set_active(*, breakpoint: Breakpoint, active: bool) -> Breakpoint:
    """Enable or disable a breakpoint; a spent one is enabled only after its limit is raised."""
    if active and breakpoint.remaining == 0:
        raise ServiceError(
            f"the breakpoint has used its {breakpoint.limit} captures: raise its limit to enable it again",
            field="limit",
        )
    if breakpoint.active != active:
        breakpoint.active = active
        breakpoint.updated_at = timezone.now()
        breakpoint.save(update_fields=["active", "updated_at"])
    return breakpoint


def breakpoint_delete(*, breakpoint: Breakpoint) -> None:
    """Delete a breakpoint; the traces it captured stay, unlinked."""
    breakpoint.delete()


# Traces: the debugger's uploads, captured by breakpoints.


def _redact_data(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): _redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_data(v) for v in value]
    return value


# The first key of the advisory locks that give one trace id of a project to one upload.
_TRACE_LOCK_CLASS = 0x6C_6C_74_72  # "lltr"


def _trace_id_lock(project: Project, trace_id: str) -> None:
    """Hold (project, trace_id) until the transaction ends, so one upload of it at a time looks and inserts.

    On Postgres traces are partitioned by ``created_at`` and the database's unique key
    holds it too (``telemetry.partitions``): two uploads of one trace id with different
    times would fall in different partitions and both be stored. Under this lock the
    second one waits for the first to commit, then its lookup (every partition, by the
    key's leading columns) finds it. SQLite keeps the plain table's unique key.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_TRACE_LOCK_CLASS, f"{project.pk}:{trace_id}"]
        )


def trace_store(*, project: Project, trace: TraceIn) -> tuple[Trace, bool]:
    """Store a debugger trace once per ``trace_id``; return it and whether it was new."""
    reason = timestamp_error(trace.created_at, timezone.now())
    if reason is not None:
        raise ServiceError(reason, field="created_at")
    trace_id = redact_id(trace.trace_id) or trace.trace_id
    with transaction.atomic():
        _trace_id_lock(project, trace_id)
        existing = Trace.objects.filter(project=project, trace_id=trace_id).first()
        if existing is not None:
            return existing, False
        breakpoint_ = None
        if trace.breakpoint_id is not None:
            breakpoint_ = (
                Breakpoint.objects.select_for_update().filter(project=project, pk=trace.breakpoint_id).first()
            )
            if breakpoint_ is None:
                raise NotFound("no breakpoint with this id in the project", field="breakpoint_id")
            if not breakpoint_.active or breakpoint_.remaining == 0:
                # SDKs poll breakpoints, so hits of one already disabled or spent keep
                # arriving for a while: the trace is kept, but not as a capture.
                breakpoint_ = None
            elif breakpoint_.rate_per_minute is not None and (
                Trace.objects.filter(
                    breakpoint=breakpoint_, received_at__gte=timezone.now() - timedelta(minutes=1)
                ).count()
                >= breakpoint_.rate_per_minute
            ):
                # Many SDK processes share one breakpoint and each holds to the rate on its
                # own: the server holds the sum to it (the trace stays, not as a capture).
                breakpoint_ = None
        if breakpoint_ is not None:
            breakpoint_.hit_count += 1
            if breakpoint_.limit is not None and breakpoint_.hit_count >= breakpoint_.limit:
                # A limited breakpoint retires itself once spent.
                breakpoint_.active = False
            breakpoint_.updated_at = timezone.now()
            breakpoint_.save(update_fields=["hit_count", "active", "updated_at"])
        steps = [
            dict(step.model_dump(), name=redact(step.name), data=_redact_data(step.data))
            for step in trace.steps
        ]
        # The SDK bounds what it uploads; an old or foreign client may not, and one trace
        # must not take megabytes of the table.
        steps = bound_trace({"steps": steps})["steps"]
        try:
            with transaction.atomic():
                stored = Trace.objects.create(
                    project=project,
                    trace_id=trace_id,
                    call_id=redact_id(trace.call_id) or "",
                    created_at=trace.created_at,
                    breakpoint=breakpoint_,
                    outcome=trace.outcome,
                    model=redact_name(trace.model) or "",
                    steps=steps,
                )
        except IntegrityError:
            # The same trace, uploaded twice at once: the first one wins and counts the hit.
            transaction.set_rollback(True)
            return Trace.objects.get(project=project, trace_id=trace_id), False
    return stored, True
