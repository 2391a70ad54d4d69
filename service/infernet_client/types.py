"""The node's REST shapes under the official client's names (`JobRequest`, `JobResult`, ...)."""

from infernet_kit.client.types import (
    ChainInfo,
    Container,
    ContainerError,
    ContainerOutput,
    ErrorResponse,
    HealthInfo,
    JobID,
    JobRequest,
    JobResponse,
    JobResult,
    JobStatus,
    ModelSupport,
    NodeInfo,
    PendingJobInfo,
)

__all__ = [
    "ChainInfo",
    "Container",
    "ContainerError",
    "ContainerOutput",
    "ErrorResponse",
    "HealthInfo",
    "JobID",
    "JobRequest",
    "JobResponse",
    "JobResult",
    "JobStatus",
    "ModelSupport",
    "NodeInfo",
    "PendingJobInfo",
]
