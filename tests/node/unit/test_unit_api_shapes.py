"""The node's cheaper ways on a job's path give exactly what the general ones would: the query parameters (`Query`
against Starlette's `request.query_params`), a JSON answer's headers (`JSONResponse.init_headers`) and a
container request's body (built without validating its typed arguments again)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse as StarletteJSONResponse

from infernet_kit.node.api import JSONResponse, Query
from infernet_kit.node.orchestrator import _service_request
from infernet_kit.protocol import JobLocation, ProofTarget, ServiceRequest

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


@pytest.mark.parametrize(
    "target", [None, ProofTarget(chain_id=31337, verifier="0x" + "ab" * 20, subscription_id=7, interval=2)]
)
def test_a_container_request_is_the_models_json(target: ProofTarget | None) -> None:
    """The orchestrator builds `POST /service_output` without validating its typed arguments again: the bytes are
    still those of the validated model the services parse."""
    data = {"text": "ü", "n": [1, 2.5, None]}
    sent = _service_request(JobLocation.OFFCHAIN, JobLocation.ONCHAIN, data, True, target)
    model = ServiceRequest(
        source=JobLocation.OFFCHAIN,
        destination=JobLocation.ONCHAIN,
        data=data,
        requires_proof=True,
        proof_target=target,
    )
    assert sent == model.model_dump_json(exclude=None if target else {"proof_target"}).encode()
    assert ServiceRequest.model_validate_json(sent) == model
