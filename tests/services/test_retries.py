"""Retries (PROTOCOL.md section 2.3) over real HTTP: transient backend failures are retried with the
configured policy, rejected requests are not, and exhausted retries answer 5xx naming the cause."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from infernet_kit.devstack import fake_models
from infernet_kit.processes import free_port
from infernet_kit.testing.service_fixtures import (
    DevBackendHandle,
    fast_retry_params,
    hf_service_env,
    run_service,
)

from .helpers import assert_error, client, post

TGI_JOB = {"source": 1, "destination": 1, "data": {"text": "retry me"}}
HF_JOB = {"source": 1, "destination": 1, "data": {"task_id": 3, "text": "Retry Me Please"}}


@pytest.mark.parametrize("status", [503, 500, 429])
def test_tgi_transient_failures_are_retried(tgi_service: str, backend: DevBackendHandle, status: int) -> None:
    backend.inject(fail_next=2, status=status, error="shard not ready")
    response = post(tgi_service, TGI_JOB)
    assert response.status_code == 200, response.text
    assert response.json() == {"output": fake_models.generate("retry me")}
    assert backend.stats() == {"requests": 3, "failed": 2, "by_path": {"/": 3}, "held_ports": [], "peak_held": 0}


def test_tgi_overloaded_error_is_retried(tgi_service: str, backend: DevBackendHandle) -> None:
    backend.inject(fail_next=2, status=503, error="Model is overloaded", error_type="overloaded")
    assert post(tgi_service, TGI_JOB).status_code == 200
    assert backend.stats()["requests"] == 3


def test_rejected_request_is_not_retried(tgi_service: str, backend: DevBackendHandle) -> None:
    backend.inject(fail_next=1, status=400, error="Input validation error: `temperature` must be strictly positive")
    body = assert_error(post(tgi_service, TGI_JOB), 400, "rejected", "temperature` must be strictly positive")
    assert body["name"] == "BackendRejectedRequest"
    assert backend.stats()["requests"] == 1


def test_tgi_validation_error_is_not_retried(tgi_service: str, backend: DevBackendHandle) -> None:
    backend.inject(fail_next=1, status=422, error="inputs must have less than 1024 tokens", error_type="validation")
    assert_error(post(tgi_service, TGI_JOB), 422, "less than 1024 tokens")
    assert backend.stats()["requests"] == 1


def test_exhausted_retries_answer_5xx_naming_the_cause(tgi_service: str, backend: DevBackendHandle) -> None:
    backend.inject(fail_next=10, status=503, error="shard not ready")
    body = assert_error(post(tgi_service, TGI_JOB), 502, "after 3 attempt(s)", "503", "shard not ready")
    assert body["name"] == "BackendUnavailable"
    assert backend.stats()["requests"] == fast_retry_params["tries"]


def test_stream_is_retried_until_the_first_token(tgi_service: str, backend: DevBackendHandle) -> None:
    backend.inject(fail_next=2, status=502, error="bad gateway")
    payload = {"source": 1, "destination": 2, "data": {"text": "retry me"}}
    with client().stream("POST", f"{tgi_service}/service_output", json=payload) as response:
        assert response.status_code == 200
        assert response.read().decode() == "".join(fake_models.generate_tokens("retry me"))
    assert backend.stats()["requests"] == 3


def test_hf_transient_failures_are_retried_and_rejections_are_not(hf_service: str, backend: DevBackendHandle) -> None:
    backend.inject(fail_next=2, status=503, error="model is loading")
    response = post(hf_service, HF_JOB)
    assert response.json() == {"output": fake_models.token_classify("Retry Me Please")}
    assert backend.stats()["requests"] == 3
    backend.reset()
    backend.inject(fail_next=1, status=404, error="Model acme/none does not exist")
    assert_error(post(hf_service, HF_JOB), 404, "acme/none does not exist")
    assert backend.stats()["requests"] == 1
    backend.reset()
    backend.inject(fail_next=3, status=500, error="CUDA out of memory")
    assert_error(post(hf_service, HF_JOB), 502, "after 3 attempt(s)", "CUDA out of memory")
    assert backend.stats()["requests"] == 3


@pytest.fixture(scope="module")
def impatient_tgi_service(dev_backend: DevBackendHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A TGI service that gives the backend 0.3 s per attempt and asks for 3 new tokens."""
    env = {
        "TGI_INF_WORKFLOW_POSITIONAL_ARGS": json.dumps([dev_backend.url, 0.3]),
        "TGI_INF_WORKFLOW_KW_ARGS": json.dumps({"retry_params": fast_retry_params, "max_new_tokens": 3}),
    }
    with run_service("tgi", env, tmp_path_factory.mktemp("impatient"), workers=1) as service:
        yield service.url


def test_generation_parameters_reach_the_backend(impatient_tgi_service: str, backend: DevBackendHandle) -> None:
    assert post(impatient_tgi_service, TGI_JOB).json() == {"output": fake_models.generate("retry me", 3)}


def test_timeouts_are_retried_then_answer_504(impatient_tgi_service: str, backend: DevBackendHandle) -> None:
    backend.inject(latency_ms=1000)
    body = assert_error(post(impatient_tgi_service, TGI_JOB), 504, "after 3 attempt(s)", "timed out")
    assert body["name"] == "BackendTimeout"
    assert backend.stats()["requests"] == 3


def test_connection_errors_are_retried_then_answer_502(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with run_service("hf", hf_service_env(dead), tmp_path, workers=1) as service:
        body = assert_error(post(service.url, HF_JOB), 502, "after 3 attempt(s)", "connect")
    assert body["name"] == "BackendUnavailable"
