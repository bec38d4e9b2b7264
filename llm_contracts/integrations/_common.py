"""What the adapters share: the missing-extra error and the contract settings of a wrapper."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..contracts._base import Contract
from ..enforcement._breaker import CircuitBreaker
from ..enforcement._engine import ContractEngine
from ..enforcement._pipeline import CallSettings
from ..enforcement._report import ContractReport
from ..enforcement._streaming import StreamPolicy
from ..reporting._client import ClientTelemetry, attach_telemetry

__all__ = ["ReportListeners", "build_settings", "missing_extra"]

ReportListeners = Callable[[ContractReport], None] | Iterable[Callable[[ContractReport], None]] | None


def missing_extra(module: str, package: str, extra: str) -> ImportError:
    """Return the error of an adapter module imported without its library."""
    return ImportError(
        f"{module} needs {package}, which is not installed: pip install 'llm-contracts[{extra}]'"
    )


def build_settings(
    *,
    contracts: Iterable[Contract] | None = None,
    input_contracts: Iterable[Contract] | None = None,
    output_contracts: Iterable[Contract] | None = None,
    contract_retries: int | None = None,
    retry_budget_tokens: int | None = None,
    stream_policy: StreamPolicy | str | None = None,
    circuit_breaker: CircuitBreaker | None = None,
    on_report: ReportListeners = None,
    fallback: str | None = None,
    conflicts: str = "resolve",
    **telemetry: Any,
) -> tuple[CallSettings, ClientTelemetry | None]:
    """Return a wrapper's contract settings and telemetry listener, built as the drop-in client's.

    ``telemetry`` takes the drop-in client's reporting keywords (``reporter``,
    ``upload_traces``, ``project_contracts``, ``otel``, ``user_id``,
    ``project_contracts_timeout``).
    """
    client_kwargs = getattr(contracts, "client_kwargs", None)
    if callable(client_kwargs):
        # A loaded LLMCL contract set brings its retries and fallback; explicit keywords win.
        brought = client_kwargs()
        if contract_retries is None:
            contract_retries = brought.get("contract_retries")
        if fallback is None:
            fallback = brought.get("fallback")
    engine = ContractEngine(breaker=circuit_breaker, conflicts=conflicts)
    for c in contracts or ():
        engine.add(c)
    for c in input_contracts or ():
        engine.add_input(c)
    for c in output_contracts or ():
        engine.add_output(c)
    listeners = [on_report] if callable(on_report) else list(on_report or ())
    settings = CallSettings(
        engine,
        contract_retries or 0,
        retry_budget_tokens,
        StreamPolicy.parse(stream_policy),
        listeners,
        False,
        fallback,
    )
    return settings, attach_telemetry(settings, **telemetry)


def call_settings(settings: CallSettings, telemetry: ClientTelemetry | None) -> CallSettings:
    """Return the settings of one call: the wrapper's, plus the project's contracts when pulled."""
    return settings if telemetry is None else telemetry.settings_for(settings)
