"""Fixtures for the node's shared job store.

- `postgres` (session): a throwaway PostgreSQL server (`infernet_kit.devstack.postgres.Postgres`), started on
  first use; as root (CI) it runs as the `postgres` user.
- `postgres_dsn`: the URL of a new empty database on it, one per test, for `job_store.dsn`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from infernet_kit.devstack.postgres import Postgres

__all__ = ["postgres", "postgres_dsn"]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with Postgres(log_path=tmp_path_factory.mktemp("postgres") / "postgres.log") as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres: Postgres) -> str:
    return postgres.create_database(f"jobs_{uuid.uuid4().hex[:12]}")
