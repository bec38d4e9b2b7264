"""The LLMCL language server, started by ``llm-contracts lsp`` (needs the ``lsp`` extra: pygls).

It speaks the Language Server Protocol over standard input and output: diagnostics from
the compiler (the messages and positions of ``llm-contracts check``, and the resolved
conflicts as warnings), canonical formatting, hovers from the reference, completion of
keywords, functions, settings, imported contract names and registered named contracts,
and go-to-definition for ``import``, ``extends`` and ``use``.

Example (what the editor runs)::

    llm-contracts lsp --import myapp.contracts
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..contracts._registry import ContractRegistry
    from ._server import LLMCLServer

__all__ = ["create_server", "serve"]

MISSING = "the language server needs pygls: pip install 'llm-contracts[lsp]'"


def create_server(registry: ContractRegistry | None = None) -> LLMCLServer:
    """Return the pygls language server (raise ``ImportError`` naming the extra without pygls)."""
    try:
        from ._server import create_server as create
    except ImportError as exc:
        raise ImportError(f"{MISSING} ({exc})") from exc
    return create(registry)


def serve(registry: ContractRegistry | None = None) -> None:
    """Serve LLMCL over standard input and output until the client exits."""
    server = create_server(registry)
    server.start_io()
