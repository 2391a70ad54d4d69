"""The HF inference client service over real HTTP, with the dev backend as its HF-compatible endpoint:
every task x every source/destination pair, the on-chain bytes decoded as a consumer would."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode, encode

from infernet_kit.chain.encoding import pack_pair, unpack_pair
from infernet_kit.devstack import fake_models
from infernet_kit.protocol.hf import DEFAULT_MODELS
from infernet_kit.testing.service_fixtures import DevBackendHandle

from .helpers import assert_error, client, get, post

PROMPT = "Is the sky blue during a clear day?"
TEXT = "Alice flew from Paris to Tokyo with Bob, who works at Acme. It was a long flight."


def expected_offchain(task: int, model: str | None = None) -> Any:
    """The service's off-chain output for `task` on the default input, computed from the fake models."""
    if task == 1:
        return fake_models.generate(PROMPT, 20, model or DEFAULT_MODELS["text_generation"])
    if task == 2:
        return fake_models.classify(TEXT)
    if task == 3:
        return fake_models.token_classify(TEXT)
    return fake_models.summarize(TEXT)


def expected_onchain(task: int) -> tuple[Any, ...]:
    """What a consumer decodes from `raw_output`: scores as integer millionths."""
    output = expected_offchain(task)
    if task in (1,):
        return (output,)
    if task == 4:
        return (output["summary_text"],)
    key = "label" if task == 2 else "entity_group"
    return ([item[key] for item in output], [round(item["score"] * 1e6) for item in output])


def offchain_data(task: int) -> dict[str, Any]:
    return {"task_id": task, "prompt": PROMPT} if task == 1 else {"task_id": task, "text": TEXT}


def decode_raw_output(task: int, answer: dict[str, str]) -> tuple[Any, ...]:
    raw, processed = unpack_pair(pack_pair(answer["raw_output"], answer["processed_output"]))
    assert processed == b""
    types = ["string"] if task in (1, 4) else ["string[]", "uint256[]"]
    return tuple(list(item) if isinstance(item, tuple) else item for item in decode(types, raw))


@pytest.mark.parametrize("task", [1, 2, 3, 4])
def test_offchain(hf_service: str, backend: DevBackendHandle, task: int) -> None:
    response = post(hf_service, {"source": 1, "destination": 1, "data": offchain_data(task)})
    assert response.status_code == 200, response.text
    assert response.json() == {"output": expected_offchain(task)}


@pytest.mark.parametrize("task", [1, 2, 3, 4])
def test_onchain(hf_service: str, backend: DevBackendHandle, task: int) -> None:
    text = PROMPT if task == 1 else TEXT
    data = encode(["uint8", "string", "string"], [task, "", text]).hex()
    response = post(hf_service, {"source": 0, "destination": 0, "data": data})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["raw_input"] == data and answer["proof"] == ""
    assert decode_raw_output(task, answer) == expected_onchain(task)


@pytest.mark.parametrize("task", [1, 2, 3, 4])
def test_delegated(hf_service: str, backend: DevBackendHandle, task: int) -> None:
    response = post(hf_service, {"source": 1, "destination": 0, "data": offchain_data(task)})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["raw_input"] == ""
    assert decode_raw_output(task, answer) == expected_onchain(task)


def test_the_model_named_in_the_request_is_used(hf_service: str, backend: DevBackendHandle) -> None:
    data = {"task_id": 1, "prompt": PROMPT, "model": "acme/tiny-llm", "max_new_tokens": 4}
    response = post(hf_service, {"source": 1, "destination": 1, "data": data})
    assert response.json() == {"output": fake_models.generate(PROMPT, 4, "acme/tiny-llm")}
    assert backend.stats()["by_path"] == {"/models/acme/tiny-llm": 1}
    onchain = encode(["uint8", "string", "string"], [1, "acme/tiny-llm", PROMPT]).hex()
    answer = post(hf_service, {"source": 0, "destination": 0, "data": onchain}).json()
    assert decode_raw_output(1, answer) == (fake_models.generate(PROMPT, 20, "acme/tiny-llm"),)


def test_summarization_parameters_reach_the_backend(hf_service: str, backend: DevBackendHandle) -> None:
    data = {"task_id": 4, "text": TEXT, "parameters": {"min_length": 1, "max_length": 3}}
    response = post(hf_service, {"source": 1, "destination": 1, "data": data})
    assert response.json() == {"output": fake_models.summarize(TEXT, 3)}


def test_stream_text_generation(hf_service: str, backend: DevBackendHandle) -> None:
    payload = {"source": 1, "destination": 2, "data": {"task_id": 1, "prompt": PROMPT, "max_new_tokens": 5}}
    with client().stream("POST", f"{hf_service}/service_output", json=payload) as response:
        assert response.status_code == 200
        body = response.read()
    tokens = fake_models.generate_tokens(PROMPT, 5, DEFAULT_MODELS["text_generation"])
    assert body.decode() == "".join(tokens)


def test_stream_of_another_task_is_refused(hf_service: str, backend: DevBackendHandle) -> None:
    response = post(hf_service, {"source": 1, "destination": 2, "data": {"task_id": 2, "text": TEXT}})
    assert_error(response, 400, "streaming is supported for text_generation only")


@pytest.mark.parametrize("task_id", [0, 5, 255])
def test_unknown_task_ids_are_refused(hf_service: str, backend: DevBackendHandle, task_id: int) -> None:
    onchain = encode(["uint8", "string", "string"], [task_id, "", PROMPT]).hex()
    for payload in (
        {"source": 0, "destination": 0, "data": onchain},
        {"source": 1, "destination": 1, "data": {"task_id": task_id, "prompt": PROMPT, "text": PROMPT}},
    ):
        body = assert_error(post(hf_service, payload), 400, "task_id must be one of 1 (text_generation)")
        assert body["name"] == "InvalidTask"
        assert ("UNSET" in body["description"]) == (task_id == 0)
    assert backend.stats()["requests"] == 0


def test_proofs_are_refused(hf_service: str, backend: DevBackendHandle) -> None:
    payload = {"source": 1, "destination": 1, "data": offchain_data(2), "requires_proof": True}
    body = assert_error(post(hf_service, payload), 400)
    assert body["description"] == "Proofs are not supported for HF Inference Client Service"


def test_resources(hf_service: str) -> None:
    resources = get(f"{hf_service}/service-resources").json()
    assert resources["compute_capability"][0]["type"] == "hf_client"
    assert resources["compute_capability"][0]["task"] == [
        "text_generation",
        "text_classification",
        "token_classification",
        "summarization",
    ]
    assert get(f"{hf_service}/service-resources?model_id=acme/tiny").json() == {"supported": True}
    assert get(f"{hf_service}/service-resources?model_id=../etc").json() == {"supported": False}
