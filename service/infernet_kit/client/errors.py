"""Errors of the client library: the node said no, or the node could not be reached."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """The node rejected a request: HTTP status, the node's message and the params it named."""

    def __init__(self, status_code: int, message: str = "Error occurred in API call", params: Any = None) -> None:
        self.status_code = status_code
        self.message = message
        self.params: dict[str, Any] = (
            params if isinstance(params, dict) else ({} if params is None else {"detail": params})
        )
        super().__init__(message)

    @property
    def status(self) -> int:
        return self.status_code

    def __str__(self) -> str:
        if self.params:
            details = ", ".join(f"{key}={value}" for key, value in self.params.items())
            return f"[{self.status_code}] {self.message} - [{details}]"
        return f"[{self.status_code}] {self.message}"


class NodeUnreachableError(ConnectionError):
    """No HTTP answer from the node (refused, timed out, DNS): names the URL and the cause."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"node not reachable at {url}: {cause}")


class RpcUnreachableError(ConnectionError):
    """The chain's JSON-RPC endpoint did not answer."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"RPC not reachable at {url}: {cause}")
