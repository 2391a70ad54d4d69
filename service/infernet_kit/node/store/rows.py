"""A `JobRecord` as a row of plain columns (JSON text for the lists and the result), shared by the SQL tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic_core import to_json

from infernet_kit.node.store.base import JobRecord

COLUMNS = "client, id, origin, containers, status, result, intermediate, created, updated"


def _text(value: Any) -> str:
    """JSON text, compact, encoded by pydantic-core (two rows a job: `json.dumps` was a visible share of the cost)."""
    return to_json(value).decode()


def record_row(record: JobRecord) -> tuple[Any, ...]:
    return (
        record.client,
        record.id,
        record.origin,
        _text(record.containers),
        record.status,
        _text(record.result) if record.result is not None else None,
        _text(record.intermediate),
        record.created,
        record.updated,
    )


def row_record(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        client=row[0],
        id=row[1],
        origin=row[2],
        containers=json.loads(row[3]),
        status=row[4],
        result=json.loads(row[5]) if row[5] is not None else None,
        intermediate=json.loads(row[6]),
        created=row[7],
        updated=row[8],
    )
