"""A throwaway PostgreSQL server as a managed process (tests and benchmarks of the shared job store).

`initdb` a fresh cluster in a temporary directory, run `postgres` in the foreground on a loopback port, delete
it all on stop. PostgreSQL refuses to run as root (CI runs as root): then both run as the `postgres` user that
Debian's package creates (through `setpriv`), and the cluster's directory belongs to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from infernet_kit.processes import ManagedProcess, free_port

SERVICE_USER = "postgres"  # who runs the server when we are root
SUPERUSER = "postgres"  # the cluster's superuser (trust authentication on loopback only)
# As the node's SQLite (WAL, synchronous=NORMAL): a commit does not wait for its WAL flush; a crash may lose the
# last commits, never consistency. Not `durable`: no fsync at all (the files are deleted at the end anyway, and a
# shutdown checkpoint's fsyncs on a busy disk took 9 s).
SETTINGS = ("synchronous_commit=off",)
NOT_DURABLE = ("fsync=off", "full_page_writes=off")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing (`make setup` installs Debian's `postgresql`)."""


def server_binary(name: str) -> Path:
    """`initdb` or `postgres` of the newest installed PostgreSQL (Debian keeps them out of PATH)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise PostgresUnavailable(f"PostgreSQL's {name} is not installed: run `make setup` (Debian's postgresql)")
    return versions[-1]


def _as_service_user(command: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(command)
    # setpriv execs the command itself (runuser would stay as its parent and delay every stop by 2 s).
    return ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups", "--", *command]


class Postgres:
    """A PostgreSQL server on `127.0.0.1:port` with its cluster in a temporary directory; `durable` keeps fsync
    on (benchmarks, to compare with SQLite), else it is off (tests)."""

    def __init__(self, *, log_path: Path, port: int | None = None, durable: bool = False) -> None:
        self.port = port or free_port()
        self.settings = SETTINGS if durable else SETTINGS + NOT_DURABLE
        self.log_path = log_path
        self.directory = Path(tempfile.mkdtemp(prefix="infernet-pg-"))
        self.process: ManagedProcess | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVICE_USER)
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        cluster = self.directory / "cluster"
        initdb = [str(server_binary("initdb")), "-D", str(cluster), "-U", SUPERUSER, "-A", "trust", "--no-sync"]
        done = subprocess.run(_as_service_user(initdb), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        command = [str(server_binary("postgres")), "-D", str(cluster), "-p", str(self.port), "-h", "127.0.0.1"]
        command += ["-k", str(cluster)]
        for setting in self.settings:
            command += ["-c", setting]
        self.process = ManagedProcess("postgres", _as_service_user(command), log_path=self.log_path).start()
        self.process.wait_for_port(self.port, timeout=60)
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg  # here, not at the top: the pytest plugin imports this module for every test run

        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: sessions are ended, not waited for), then the cluster's files are deleted."""
        if self.process is not None and self.process.pid is not None and self.process.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            self.process.stop(timeout=15)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Postgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
