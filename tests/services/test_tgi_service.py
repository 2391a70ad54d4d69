"""The TGI client service over real HTTP, in front of the dev backend: every source/destination pair."""

from __future__ import annotations

from eth_abi.abi import decode, encode

from infernet_kit.chain.encoding import pack_pair, unpack_pair
from infernet_kit.devstack import fake_models
from infernet_kit.protocol.container import BackendCall, backend_server_timing, parse_backend_timing
from infernet_kit.testing.service_fixtures import DevBackendHandle

from .helpers import assert_error, client, get, post

PROMPT = "Is the sky blue during a clear day?"


def consumer_view(answer: dict[str, str]) -> str:
    """What a consumer contract decodes from the node's delivery of this answer."""
    assert set(answer) == {"raw_input", "processed_input", "raw_output", "processed_output", "proof"}
    raw, processed = unpack_pair(pack_pair(answer["raw_output"], answer["processed_output"]))
    assert processed == b""
    (text,) = decode(["string"], raw)
    return str(text)


def test_offchain_job_answers_the_generated_text(tgi_service: str, backend: DevBackendHandle) -> None:
    response = post(tgi_service, {"source": 1, "destination": 1, "data": {"text": PROMPT}})
    assert response.status_code == 200, response.text
    assert response.json() == {"output": fake_models.generate(PROMPT)}
    assert backend.stats()["requests"] == 1


def test_the_answer_names_its_backend_call_and_how_long_it_took(tgi_service: str, backend: DevBackendHandle) -> None:
    backend.inject(latency_ms=80)
    response = post(tgi_service, {"source": 1, "destination": 1, "data": {"text": PROMPT}})
    assert response.status_code == 200, response.text
    (call,) = parse_backend_timing(response.headers["server-timing"])
    assert call.what == "tgi generate" and 80 <= call.ms < 10_000  # the backend's injected latency, at least


def test_server_timing_entries_read_back_and_odd_ones_are_skipped() -> None:
    calls = [BackendCall(what='tgi "generate", again', ms=12.34), BackendCall(what="hf summarization", ms=3)]
    header = backend_server_timing(calls)
    assert header == 'backend;dur=12.3;desc="tgi generate again", backend;dur=3.0;desc="hf summarization"'
    assert parse_backend_timing(header) == [
        BackendCall(what="tgi generate again", ms=12.3),
        BackendCall(what="hf summarization", ms=3.0),
    ]
    assert parse_backend_timing('db;dur=5, backend;dur=x;desc="y", backend;desc="no time"') == []
    assert parse_backend_timing(None) == []


def test_onchain_subscription_decodes_the_input_and_encodes_the_output(
    tgi_service: str, backend: DevBackendHandle
) -> None:
    data = encode(["string"], [PROMPT]).hex()
    response = post(tgi_service, {"source": 0, "destination": 0, "data": data})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["raw_input"] == data
    assert answer["proof"] == ""
    assert consumer_view(answer) == fake_models.generate(PROMPT)


def test_onchain_input_with_0x_prefix_is_accepted(tgi_service: str, backend: DevBackendHandle) -> None:
    data = encode(["string"], ["hello there"]).hex()
    response = post(tgi_service, {"source": 0, "destination": 1, "data": "0x" + data})
    assert response.status_code == 200, response.text
    assert response.json() == {"output": fake_models.generate("hello there")}


def test_delegated_subscription_has_empty_raw_input(tgi_service: str, backend: DevBackendHandle) -> None:
    response = post(tgi_service, {"source": 1, "destination": 0, "data": {"text": PROMPT}})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["raw_input"] == "" and answer["processed_input"] == ""
    assert consumer_view(answer) == fake_models.generate(PROMPT)


def test_stream_sends_the_tokens_as_plain_bytes(tgi_service: str, backend: DevBackendHandle) -> None:
    with client().stream(
        "POST", f"{tgi_service}/service_output", json={"source": 1, "destination": 2, "data": {"text": PROMPT}}
    ) as response:
        assert response.status_code == 200
        chunks = list(response.iter_bytes())
    assert b"".join(chunks).decode() == "".join(fake_models.generate_tokens(PROMPT))
    assert backend.stats()["by_path"] == {"/": 1}


def test_proofs_are_refused(tgi_service: str, backend: DevBackendHandle) -> None:
    response = post(tgi_service, {"source": 1, "destination": 1, "data": {"text": PROMPT}, "requires_proof": True})
    body = assert_error(response, 400)
    assert body["description"] == "Proofs are not supported for TGI Client Inference Service"
    assert backend.stats()["requests"] == 0


def test_readiness_and_resources(tgi_service: str, backend: DevBackendHandle) -> None:
    assert get(f"{tgi_service}/").json()["status"] == "ready"
    resources = get(f"{tgi_service}/service-resources").json()
    assert resources["service_id"] == "tgi_client_inference_service"
    assert resources["compute_capability"] == [{"id": "ml", "type": "tgi_client", "task": ["text_generation"]}]
    served = get(f"{tgi_service}/service-resources", params={"model_id": "infernet-kit/dev-backend"})
    assert served.json() == {"supported": True}
    other = get(f"{tgi_service}/service-resources", params={"model_id": "someone/else"})
    assert other.json() == {"supported": False}
