"""Client library for an Infernet node's REST API and for delegated subscriptions.

`from infernet_kit.client.node import NodeClient` and `from infernet_kit.client.chain_utils import
Subscription, RPC` mirror the seeds' `infernet_client` imports; the names are re-exported here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infernet_kit.client.chain_utils import RPC, Subscription
    from infernet_kit.client.errors import APIError, NodeUnreachableError, RpcUnreachableError
    from infernet_kit.client.node import NodeClient

__all__ = ["RPC", "APIError", "NodeClient", "NodeUnreachableError", "RpcUnreachableError", "Subscription"]

_HOMES = {
    "RPC": "infernet_kit.client.chain_utils",
    "Subscription": "infernet_kit.client.chain_utils",
    "APIError": "infernet_kit.client.errors",
    "NodeUnreachableError": "infernet_kit.client.errors",
    "RpcUnreachableError": "infernet_kit.client.errors",
    "NodeClient": "infernet_kit.client.node",
}


def __getattr__(name: str) -> Any:
    """Import lazily so that `import infernet_kit.client.cli` (and `--help`) stays fast."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
