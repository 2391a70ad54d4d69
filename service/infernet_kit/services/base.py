"""What the two services share: the per-worker backend client's lifecycle and the resources description."""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod

from huggingface_hub import AsyncInferenceClient

from infernet_kit.http_client import HttpPool
from infernet_kit.protocol import ComputeCapability, ServiceResources
from infernet_kit.services.clients import close_client, use_inline_executor

log = logging.getLogger("infernet_kit.services")


class BackendService(ABC):
    """A service holding one pooled inference client per worker, created at start and closed at shutdown, and
    the worker's one connection pool (`connections`), which every client it makes (streams have their own)
    goes through or counts against: at most `max_connections` backend calls in flight at once."""

    service_id: str
    capability_type: str
    tasks: tuple[str, ...]

    def __init__(self, max_connections: int) -> None:
        self._client: AsyncInferenceClient | None = None
        self.connections = HttpPool(max_connections)

    @abstractmethod
    def _new_client(self) -> AsyncInferenceClient:
        """A client configured from the service's settings."""

    @abstractmethod
    def describe(self) -> str:
        """The configuration in one log line, without secrets (token and header values)."""

    @property
    def client(self) -> AsyncInferenceClient:
        if self._client is None:
            self._client = self._new_client()
        return self._client

    async def start(self) -> None:
        use_inline_executor()
        self._client = self._new_client()
        log.info("%s worker %d ready: %s", self.service_id, os.getpid(), self.describe())

    async def close(self) -> None:
        if self._client is not None:
            await close_client(self._client)
            self._client = None
        await self.connections.aclose()

    def resources(self) -> ServiceResources:
        return ServiceResources(
            service_id=self.service_id,
            hardware_capabilities=[{"type": "cpu", "cores": os.cpu_count() or 1}],
            compute_capability=[ComputeCapability(type=self.capability_type, task=list(self.tasks))],
        )
