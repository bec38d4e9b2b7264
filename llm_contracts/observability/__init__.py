"""In-process metrics (and, with the ``otel`` extra, OpenTelemetry)."""

from ._metrics import ContractStats, Metrics

__all__ = ["ContractStats", "Metrics"]
