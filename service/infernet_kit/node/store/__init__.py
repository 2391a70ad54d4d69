"""The off-chain job store: records in SQLite in the node's data directory, so results outlive the process.

`base` says what a store is (`JobStore`, `JobRecord`, the errors), `sqlite` keeps the records, `buffered` is the
layer the node uses (grouped writes, in-memory view, recovery from refused writes). `open_job_store` wires them.
"""

from __future__ import annotations

from pathlib import Path

from infernet_kit.node.store.base import (
    CRASH_REASON,
    JobRecord,
    JobStatus,
    JobStore,
    NotReportable,
    StoreUnavailable,
)
from infernet_kit.node.store.buffered import BufferedJobStore
from infernet_kit.node.store.sqlite import SqliteJobTable

__all__ = [
    "CRASH_REASON",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "NotReportable",
    "StoreUnavailable",
    "open_job_store",
]


async def open_job_store(data_dir: Path) -> JobStore:
    """The node's job store in the existing `data_dir`; jobs a crash left running end `failed`."""
    table = SqliteJobTable.open(data_dir)
    store = BufferedJobStore(table)
    try:
        store.fail_interrupted()
    except StoreUnavailable as exc:
        table.close()
        raise StoreUnavailable(f"{table.path}: {exc.reason}") from exc
    return store
