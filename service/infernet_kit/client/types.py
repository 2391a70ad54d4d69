"""The node's REST shapes as the official client types them (the seeds print `JobRequest` and `JobResult`)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict
from typing_extensions import TypedDict


class _Open(TypedDict):
    """An answer's shape: validated at the boundary, but keys a newer node adds are kept, not silently dropped."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]


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


class _ContainerPart(_Open):
    container: str


class ContainerOutput(_ContainerPart):
    output: Any


class ContainerError(_ContainerPart):
    error: str


ContainerResult = ContainerOutput | ContainerError


class JobResult(_Open):
    """A job's status and, once done, the last container's output or error."""

    id: str
    status: JobStatus
    result: ContainerResult | None
    intermediate: NotRequired[list[ContainerResult]]
    intermediate_results: NotRequired[list[ContainerResult]]


class HealthInfo(TypedDict):
    status: Literal["healthy", "unhealthy"]


class ChainInfo(_Open):
    enabled: bool
    address: str


class Container(_Open):
    id: str
    description: str
    external: bool
    image: str


class PendingJobInfo(_Open):
    offchain: int
    onchain: int


class NodeInfo(_Open):
    version: str
    containers: list[Container]
    pending: PendingJobInfo
    chain: ChainInfo


class ModelSupport(TypedDict):
    supported: bool
    error: NotRequired[str]
