"""The API's cheaper stand-ins for Starlette's parts read and write exactly what Starlette's would: the query
parameters (`Query` against `request.query_params`) and a JSON answer's headers (`JSONResponse.init_headers`)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse as StarletteJSONResponse

from infernet_kit.node.api import JSONResponse, Query

QUERIES = [
    b"",
    b"id=6d747247-769f-43ec-9349-713eb20e0fe4&wait=30",
    b"id=a&id=b&id=a&intermediate=TRUE",
    b"wait=&id",
    b"&&id=a&&",
    b"=x&id==y&pending=false&pending=true",
    b"id=a%20b&id=c+d&wait=1e3",
    b"id=%E2%9C%93&x=%ZZ&y=%",
    b"id=\xe9t\xe9&model_id=a/b:c",
    b"id;x=1&id=2",
]


@pytest.mark.parametrize("query_string", QUERIES)
def test_query_reads_what_starlette_reads(query_string: bytes) -> None:
    ours = Query(query_string)
    theirs = QueryParams(query_string.decode("latin-1"))
    names = {name for name, _ in theirs.multi_items()} | {"id", "wait", "missing"}
    for name in names:
        assert ours.getlist(name) == theirs.getlist(name), name
        assert ours.get(name) == theirs.get(name), name
        assert ours.get(name, "default") == theirs.get(name, "default"), name
        assert (name in ours) == (name in theirs), name


@pytest.mark.parametrize("status", [200, 400, 404, 429, 503, 204, 304, 101])
@pytest.mark.parametrize("headers", [None, {"retry-after": "3"}, {"X-Infernet-Wait": "30", "content-type": "x/y"}])
def test_json_answer_headers_are_starlettes(status: int, headers: dict[str, str] | None) -> None:
    content: Any = [{"id": "a", "status": "success", "result": {"output": "ü"}}]
    ours = JSONResponse(content, status_code=status, headers=headers)
    theirs = StarletteJSONResponse(content, status_code=status, headers=headers)
    assert ours.raw_headers == theirs.raw_headers
    assert ours.body == theirs.body
