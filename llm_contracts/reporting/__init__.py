"""The transport to the control plane, and the pull of the project's contracts and breakpoints.

Configure it with ``LLM_CONTRACTS_URL`` and ``LLM_CONTRACTS_API_KEY`` (or a
:class:`Reporter` given to the client); without them everything here is a silent no-op.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._client import UPLOAD_MODES, ClientTelemetry
    from ._events import report_events
    from ._guard import InternalErrorGuard
    from ._reporter import Reporter, default_reporter
    from ._spool import Spool
    from ._sync import ProjectSync
    from ._transport import HttpxTransport, Transport

# Each name loads with its module when first read: a client imports only the reporter it
# constructs, and the events, the spool and the puller load when a call is first reported.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "UPLOAD_MODES": "._client",
        "ClientTelemetry": "._client",
        "report_events": "._events",
        "InternalErrorGuard": "._guard",
        "Reporter": "._reporter",
        "default_reporter": "._reporter",
        "Spool": "._spool",
        "ProjectSync": "._sync",
        "HttpxTransport": "._transport",
        "Transport": "._transport",
    },
)

__all__ = [
    "UPLOAD_MODES",
    "ClientTelemetry",
    "HttpxTransport",
    "InternalErrorGuard",
    "ProjectSync",
    "Reporter",
    "Spool",
    "Transport",
    "default_reporter",
    "report_events",
]
