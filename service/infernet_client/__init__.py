"""The `infernet_client` import path of Ritual's client, provided by infernet-kit so the seeds run as printed.

Thin re-exports of `infernet_kit.client`: `infernet_client.node.NodeClient`, `infernet_client.chain_utils`
(`Subscription`, `RPC`), `infernet_client.types`, `infernet_client.error.APIError`, and the `infernet-client`
command. `__kit__` tells this copy from the official package (which has no such attribute).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__kit__ = True

if TYPE_CHECKING:
    from infernet_kit.client.node import NodeClient

__all__ = ["NodeClient", "main"]


def __getattr__(name: str) -> Any:
    """Import the client lazily so that `infernet-client --help` stays fast."""
    if name == "NodeClient":
        from infernet_kit.client.node import NodeClient

        return NodeClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """The `infernet-client` command: the official client's verbs, backed by the kit's CLI."""
    from infernet_kit.cli import build_client_app, run_app

    run_app(build_client_app())
