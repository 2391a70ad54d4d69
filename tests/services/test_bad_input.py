"""Bad input to either service gets a 4xx JSON error saying what is wrong, and the service keeps serving."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode

from infernet_kit.devstack import fake_models
from infernet_kit.testing.service_fixtures import DevBackendHandle

from .helpers import assert_error, client, post

GOOD_TGI = {"source": 1, "destination": 1, "data": {"text": "still there?"}}
GOOD_HF = {"source": 1, "destination": 1, "data": {"task_id": 2, "text": "still there?"}}

# (raw body or JSON payload, status, name, fragments the description must mention)
COMMON_CASES: list[tuple[str, bytes | dict[str, Any] | list[Any], int, str, tuple[str, ...]]] = [
    ("non-JSON body", b"source=1&destination=1", 400, "InvalidJSON", ("not valid json",)),
    ("truncated JSON", b'{"source": 1, "destination"', 400, "InvalidJSON", ("not valid json",)),
    ("empty body", b"", 400, "InvalidJSON", ("empty",)),
    ("JSON array", [1, 2], 400, "InvalidRequest", ("json object",)),
    ("missing source", {"destination": 1, "data": {}}, 400, "InvalidRequest", ("source", "required")),
    ("missing destination", {"source": 1, "data": {}}, 400, "InvalidRequest", ("destination",)),
    ("source not a number", {"source": "chain", "destination": 1, "data": {}}, 400, "InvalidRequest", ("source",)),
    ("unknown destination", {"source": 1, "destination": 7, "data": {}}, 400, "InvalidRequest", ("destination",)),
    ("stream as a source", {"source": 2, "destination": 1, "data": {}}, 400, "InvalidRequest", ("source",)),
    (
        "requires_proof not a boolean",
        {"source": 1, "destination": 1, "data": {}, "requires_proof": "maybe"},
        400,
        "InvalidRequest",
        ("requires_proof",),
    ),
    ("on-chain data not hex", {"source": 0, "destination": 0, "data": "zz12"}, 400, "InvalidInput", ("not valid hex",)),
    ("on-chain data not a string", {"source": 0, "destination": 0, "data": 12}, 400, "InvalidInput", ("hex string",)),
    (
        "on-chain bytes that do not ABI-decode",
        {"source": 0, "destination": 0, "data": "00" * 31},
        400,
        "InvalidInput",
        ("does not decode",),
    ),
]

TGI_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("data missing", {"source": 1, "destination": 1}, ('{"text": str}',)),
    ("text missing", {"source": 1, "destination": 1, "data": {"prompt": "hi"}}, ("data.text is missing",)),
    ("text not a string", {"source": 1, "destination": 1, "data": {"text": 42}}, ("data.text must be a string",)),
    ("data a list", {"source": 1, "destination": 0, "data": ["hi"]}, ("must be an object",)),
]

HF_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("task_id missing", {"source": 1, "destination": 1, "data": {"text": "hi"}}, ("task_id is missing",)),
    ("task_id a string", {"source": 1, "destination": 1, "data": {"task_id": "1", "prompt": "x"}}, ("integer",)),
    ("prompt missing", {"source": 1, "destination": 1, "data": {"task_id": 1, "text": "x"}}, ("data.prompt",)),
    ("text not a string", {"source": 1, "destination": 1, "data": {"task_id": 3, "text": ["x"]}}, ("data.text",)),
    (
        "max_new_tokens not an integer",
        {"source": 1, "destination": 1, "data": {"task_id": 1, "prompt": "x", "max_new_tokens": "many"}},
        ("data.max_new_tokens",),
    ),
    (
        "model id that is not a repo id",
        {"source": 1, "destination": 1, "data": {"task_id": 2, "text": "x", "model": "../../admin"}},
        ("not a hugging face model id",),
    ),
    (
        "on-chain TGI-shaped input",
        {"source": 0, "destination": 0, "data": encode(["string"], ["hello"]).hex()},
        ("abi.encode(uint8 task_id, string model_id, string prompt)",),
    ),
]


def send(url: str, body: bytes | dict[str, Any] | list[Any]) -> Any:
    return post(url, content=body) if isinstance(body, bytes) else post(url, body)


def assert_still_serving(tgi_service: str, hf_service: str) -> None:
    assert post(tgi_service, GOOD_TGI).json() == {"output": fake_models.generate("still there?")}
    assert post(hf_service, GOOD_HF).json() == {"output": fake_models.classify("still there?")}


@pytest.mark.parametrize(
    ("case", "body", "status", "name", "fragments"), COMMON_CASES, ids=[c[0] for c in COMMON_CASES]
)
def test_malformed_requests_are_refused_by_both_services(
    tgi_service: str,
    hf_service: str,
    backend: DevBackendHandle,
    case: str,
    body: bytes | dict[str, Any],
    status: int,
    name: str,
    fragments: tuple[str, ...],
) -> None:
    for url in (tgi_service, hf_service):
        assert assert_error(send(url, body), status, *fragments)["name"] == name, url
    assert backend.stats()["requests"] == 0
    assert_still_serving(tgi_service, hf_service)


SERVICE_CASES = [("tgi_service", *case) for case in TGI_CASES] + [("hf_service", *case) for case in HF_CASES]


@pytest.mark.parametrize(
    ("service", "case", "body", "fragments"),
    SERVICE_CASES,
    ids=[f"{service.removesuffix('_service')}-{case}" for service, case, *_ in SERVICE_CASES],
)
def test_bad_service_input(
    request: pytest.FixtureRequest,
    backend: DevBackendHandle,
    service: str,
    case: str,
    body: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    """Input only one service refuses (its own `data` shapes): a 400 naming the fault, the backend never asked."""
    url: str = request.getfixturevalue(service)
    assert_error(post(url, body), 400, *fragments)
    assert backend.stats()["requests"] == 0


def test_oversize_body_is_refused_before_it_is_read(
    tgi_service: str, hf_service: str, backend: DevBackendHandle
) -> None:
    huge = {"source": 1, "destination": 1, "data": {"text": "x" * (2 * 1024 * 1024)}}
    for url in (tgi_service, hf_service):
        body = assert_error(post(url, huge), 413, "exceeds")
        assert body["name"] == "PayloadTooLarge"
    assert backend.stats()["requests"] == 0
    assert_still_serving(tgi_service, hf_service)


def test_wrong_routes_and_methods(tgi_service: str, backend: DevBackendHandle) -> None:
    assert_error(client().get(f"{tgi_service}/service_output"), 405, "use POST")
    assert_error(client().post(f"{tgi_service}/nope"), 404, "no route")
