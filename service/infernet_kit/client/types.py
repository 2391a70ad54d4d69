"""The node's REST shapes as the official client types them (the seeds print `JobRequest` and `JobResult`)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict
from typing_extensions import TypedDict

# Answers are validated at the boundary, but keys a newer node adds are kept, not silently dropped.
_KEEP_EXTRA = ConfigDict(extra="allow")

JobID = str
JobStatus = Literal["success", "failed", "running"]


class JobRequest(TypedDict):
    """An off-chain job: the containers to run in order and the first one's input."""

    containers: list[str]
    data: dict[str, Any]
    requires_proof: NotRequired[bool | None]


class JobResponse(TypedDict):
    id: JobID


class ErrorResponse(TypedDict):
    """A rejected request (also one entry of a batch answer)."""

    error: str
    params: NotRequired[dict[str, Any]]


class ContainerOutput(TypedDict):
    __pydantic_config__ = _KEEP_EXTRA  # type: ignore[misc]
    container: str
    output: Any


class ContainerError(TypedDict):
    __pydantic_config__ = _KEEP_EXTRA  # type: ignore[misc]
    container: str
    error: str


ContainerResult = ContainerOutput | ContainerError


class JobResult(TypedDict):
    """A job's status and, once done, the last container's output or error."""

    __pydantic_config__ = _KEEP_EXTRA  # type: ignore[misc]
    id: str
    status: JobStatus
    result: ContainerResult | None
    intermediate: NotRequired[list[ContainerResult]]
    intermediate_results: NotRequired[list[ContainerResult]]


class HealthInfo(TypedDict):
    status: Literal["healthy", "unhealthy"]


class ChainInfo(TypedDict):
    __pydantic_config__ = _KEEP_EXTRA  # type: ignore[misc]
    enabled: bool
    address: str


class Container(TypedDict):
    __pydantic_config__ = _KEEP_EXTRA  # type: ignore[misc]
    id: str
    description: str
    external: bool
    image: str


class PendingJobInfo(TypedDict):
    __pydantic_config__ = _KEEP_EXTRA  # type: ignore[misc]
    offchain: int
    onchain: int


class NodeInfo(TypedDict):
    __pydantic_config__ = _KEEP_EXTRA  # type: ignore[misc]
    version: str
    containers: list[Container]
    pending: PendingJobInfo
    chain: ChainInfo


class ModelSupport(TypedDict):
    supported: bool
    error: NotRequired[str]
