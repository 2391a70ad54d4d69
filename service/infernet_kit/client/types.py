"""The node's REST shapes as the official client types them (the seeds print `JobRequest` and `JobResult`)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

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
    container: str
    output: Any


class ContainerError(TypedDict):
    container: str
    error: str


ContainerResult = ContainerOutput | ContainerError


class JobResult(TypedDict):
    """A job's status and, once done, the last container's output or error."""

    id: str
    status: JobStatus
    result: ContainerResult | None
    intermediate: NotRequired[list[ContainerResult]]
    intermediate_results: NotRequired[list[ContainerResult]]


class HealthInfo(TypedDict):
    status: Literal["healthy", "unhealthy"]


class ChainInfo(TypedDict):
    enabled: bool
    address: str


class Container(TypedDict):
    id: str
    description: str
    external: bool
    image: str


class PendingJobInfo(TypedDict):
    offchain: int
    onchain: int


class NodeInfo(TypedDict):
    version: str
    containers: list[Container]
    pending: PendingJobInfo
    chain: ChainInfo


class ModelSupport(TypedDict):
    supported: bool
    error: NotRequired[str]
