"""`infernet_client.chain.subscription.Subscription` (infernet-client 1.4's home of `Subscription`)."""

from infernet_kit.client.chain_utils import Subscription

__all__ = ["Subscription"]
