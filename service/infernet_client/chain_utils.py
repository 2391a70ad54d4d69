"""`from infernet_client.chain_utils import Subscription, RPC`, as the seeds write it."""

from infernet_kit.client.chain_utils import RPC, Subscription
from infernet_kit.protocol.defaults import ZERO_ADDRESS

__all__ = ["RPC", "ZERO_ADDRESS", "Subscription"]
