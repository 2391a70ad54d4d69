"""What the node's job store is, apart from how it keeps records: the records, the errors, and two protocols.

`JobStore` is what the API and the job runner use; `JobTable` is durable storage under it, all-or-nothing per
call. `node.store.buffered` is the `JobStore` layer (grouped writes, the in-memory view of
running and recent jobs, final records kept until the table takes them) and `node.store.sqlite` the table.

Records hold ids, statuses and container outputs only: never the request's input, tokens or keys. A record
belongs to the client address that created it: it is keyed by (client, id), like the reference node, so
knowing a job's id (it is in the logs) reads or changes nothing of another client's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

JobStatus = Literal["running", "success", "failed"]
JobOrigin = Literal["node", "reported"]  # run by this node, or reported by a local process (`PUT /api/status`)
JobKey = tuple[str, str]  # (client, id)
CRASH_REASON = "node stopped while the job was running"


class StoreUnavailable(Exception):
    """The database refused a write (or read); `reason` is its own message."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"job store unavailable: {reason}")
        self.reason = reason


class NotReportable(Exception):
    """A status report names a job this node runs itself: only the node records its outcome."""


class JobRecord(BaseModel):
    """A job as stored; `result` is `{"container", "output"}` or `{"container", "error"}`."""

    id: str
    client: str
    origin: JobOrigin = "node"
    containers: list[str]
    status: JobStatus
    result: dict[str, Any] | None = None
    intermediate: list[dict[str, Any]] = Field(default_factory=list)
    created: float
    updated: float

    @property
    def key(self) -> JobKey:
        return (self.client, self.id)

    def as_rest(self, *, intermediate: bool) -> dict[str, Any]:
        """The `GET /api/jobs` shape."""
        body: dict[str, Any] = {"id": self.id, "status": self.status, "result": self.result}
        if intermediate:
            body["intermediate_results"] = self.intermediate
        return body

    def crashed(self, now: float) -> JobRecord:
        """This job ended `failed` because the node stopped while it ran."""
        result = {"container": self.containers[-1] if self.containers else "", "error": CRASH_REASON}
        return self.model_copy(update={"status": "failed", "result": result, "updated": now})


class JobStore(Protocol):
    """Off-chain job records, per client. Writes that create a record are committed when they return (or raise
    `StoreUnavailable`); a final status never fails and is never lost while the process lives."""

    async def create(self, job_id: str, *, client: str, containers: Sequence[str]) -> None:
        """Record a new job of `client` as `running`."""
        ...

    def finish(
        self,
        job_id: str,
        *,
        client: str,
        status: JobStatus,
        result: dict[str, Any] | None,
        intermediate: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Record the final status of a job this node ran."""
        ...

    async def record(
        self,
        job_id: str,
        *,
        client: str,
        containers: Sequence[str],
        status: JobStatus,
        result: dict[str, Any] | None,
    ) -> None:
        """Insert or update a job `client` ran itself; `NotReportable` for a job this node runs."""
        ...

    async def get(self, job_ids: Sequence[str], *, client: str) -> list[JobRecord]:
        """`client`'s jobs among `job_ids`, in the order asked; unknown ids and other clients' jobs left out."""
        ...

    async def wait(self, job_ids: Sequence[str], *, client: str, seconds: float) -> list[JobRecord]:
        """As `get`, once none of the records found is `running` or after `seconds`, whichever is first
        (a long-poll read: the answer comes as soon as the jobs end, without the client polling)."""
        ...

    async def ids(self, *, client: str, pending: bool | None = None) -> list[str]:
        """Ids of `client`'s jobs, oldest first; `pending` keeps running (True) or finished (False) ones."""
        ...

    def release_waits(self) -> None:
        """The node is stopping: every `wait` returns now, and later ones at once."""
        ...

    def pending_count(self) -> int:
        """Off-chain jobs running in this process."""
        ...

    async def close(self) -> None:
        """Write what can be written; name in the log what could not."""
        ...


class JobTable(Protocol):
    """Durable job records. Calls raise `StoreUnavailable` when the storage refuses them; `write` is all or
    nothing, and the store never runs two writes at once."""

    async def write(self, records: Sequence[JobRecord]) -> None:
        """Insert or replace `records` in one transaction."""
        ...

    async def read(self, client: str, job_ids: Sequence[str]) -> list[JobRecord]:
        """`client`'s records among `job_ids`, in no particular order."""
        ...

    async def ids(self, client: str, pending: bool | None) -> list[str]:
        """Ids of `client`'s records, oldest first; `pending` keeps `running` (True) or other (False) ones."""
        ...

    async def statuses(self, client: str) -> list[tuple[str, JobStatus]]:
        """(id, status) of every record of `client`, oldest first."""
        ...

    async def interrupted(self) -> list[JobRecord]:
        """Node jobs recorded `running`: a previous process stopped while they ran."""
        ...

    async def close(self) -> None: ...
