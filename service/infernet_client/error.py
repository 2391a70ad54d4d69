"""`infernet_client.error.APIError`: the node rejected a request (status, message, params)."""

from infernet_kit.client.errors import APIError

__all__ = ["APIError"]
