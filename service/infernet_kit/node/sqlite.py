"""The node's one way to use SQLite, shared by the job store and the chain store: a connection used on the
event loop's own thread, WAL, synchronous=NORMAL, and explicit transactions.

Why no thread (aiosqlite): in WAL mode with synchronous=NORMAL a commit does not fsync and takes tens of
microseconds, while handing each statement to a thread and back costs more than that and, when the loop is
busy, waits on the GIL switch interval (5 ms). A killed process loses nothing committed; a power cut may lose
the last commits, and what the node then finds is what a crash leaves (running jobs end failed, the chain side
follows up what it sent).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the database at `path`; statements run in autocommit unless inside `transaction`."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        db.close()
        raise
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction: committed when the block ends, rolled back (and the error raised) when it fails,
    including a COMMIT the disk refuses, so the connection is never left inside a transaction."""
    if db.in_transaction:  # a failed COMMIT outside this helper may leave one open
        db.execute("ROLLBACK")
    db.execute("BEGIN")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            if db.in_transaction:
                db.execute("ROLLBACK")
        raise
