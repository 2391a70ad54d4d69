"""The off-chain job store: records in SQLite in the node's data directory (or in PostgreSQL, shared by several
REST replicas of one node), so results outlive the process.

`base` says what a store is (`JobStore`, `JobRecord`, the errors), `sqlite` and `postgres` keep the records,
`buffered` is the layer the node uses (grouped writes, in-memory view, recovery from refused writes).
`open_job_store` wires them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from infernet_kit.node.config import JobStoreConfig
from infernet_kit.node.store.base import (
    CRASH_REASON,
    JobRecord,
    JobStatus,
    JobStore,
    JobTable,
    NotReportable,
    StoreUnavailable,
)
from infernet_kit.node.store.buffered import BufferedJobStore
from infernet_kit.node.store.sqlite import SqliteJobTable

log = logging.getLogger(__name__)

__all__ = [
    "CRASH_REASON",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "NotReportable",
    "StoreUnavailable",
    "open_job_store",
]


async def open_job_store(data_dir: Path, config: JobStoreConfig | None = None, replica: str = "") -> JobStore:
    """The node's job store: in PostgreSQL when `config.dsn` is set (rows written as `replica`), else in SQLite
    in the existing `data_dir`. Jobs a crash of this node (or replica) left running end `failed`."""
    table: JobTable
    if config is not None and config.dsn is not None:
        from infernet_kit.node.store.postgres import PostgresJobTable  # only nodes configured for it load psycopg

        table = await PostgresJobTable.open(config.dsn, replica, config.timeout)
        where = f"PostgreSQL (replica {replica})"
    else:
        table = SqliteJobTable.open(data_dir)
        where = str(table.path)
    store = BufferedJobStore(table)
    try:
        await store.fail_interrupted()
    except StoreUnavailable as exc:
        await table.close()
        raise StoreUnavailable(f"{where}: {exc.reason}") from exc
    log.info("job store: %s", where)
    return store
