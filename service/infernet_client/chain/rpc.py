"""`infernet_client.chain.rpc.RPC` (infernet-client 1.4's home of `RPC`)."""

from infernet_kit.client.chain_utils import RPC

__all__ = ["RPC"]
