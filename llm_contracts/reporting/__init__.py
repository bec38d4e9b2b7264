"""The transport to the control plane, and the pull of the project's contracts and breakpoints.

Configure it with ``LLM_CONTRACTS_URL`` and ``LLM_CONTRACTS_API_KEY`` (or a
:class:`Reporter` given to the client); without them everything here is a silent no-op.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._client import UPLOAD_MODES, ClientTelemetry
from ._events import report_events
from ._guard import InternalErrorGuard
from ._reporter import Reporter, default_reporter
from ._spool import Spool
from ._transport import HttpxTransport, Transport

if TYPE_CHECKING:
    from ._sync import ProjectSync

# The puller (and the experiments' rules it brings) loads when first used.
__getattr__, __dir__ = lazy_exports(__name__, {"ProjectSync": "._sync"})

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
