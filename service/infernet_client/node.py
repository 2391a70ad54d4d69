"""`from infernet_client.node import NodeClient`, as the seeds write it."""

from infernet_kit.client.node import NodeClient

__all__ = ["NodeClient"]
