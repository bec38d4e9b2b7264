"""The API's request and response shapes: the SDK's protocol models (llm_contracts.protocol).

The names here are the server's aliases of those models, so that both sides validate with
one definition (docs/protocol.md is generated from it). The events' shapes are in
``telemetry.schemas``.
"""

from __future__ import annotations

from llm_contracts import protocol

ErrorOut = protocol.ErrorAnswer
TraceStepIn = protocol.TraceStep
TraceIn = protocol.TraceUpload
TraceOut = protocol.TraceAnswer
ContractSpecOut = protocol.ContractSpec
ContractsOut = protocol.ContractsAnswer
BreakpointOut = protocol.BreakpointSpec
BreakpointsOut = protocol.BreakpointsAnswer
SdkExperimentsOut = protocol.ExperimentsAnswer
HealthOut = protocol.HealthAnswer

__all__ = [
    "BreakpointOut",
    "BreakpointsOut",
    "ContractSpecOut",
    "ContractsOut",
    "ErrorOut",
    "HealthOut",
    "SdkExperimentsOut",
    "TraceIn",
    "TraceOut",
    "TraceStepIn",
]
