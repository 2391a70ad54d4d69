"""A service worker never has more than `SERVICE_MAX_CONNECTIONS` calls in flight to its backend, whichever of its
clients carries them (the lean one for JSON POSTs to an `http://` backend, aiohttp for streams): one setting, one
bound both take a place in.

Real processes: the dev backend, holding every inference request a while and counting the most it held at once;
a TGI service with one worker and the limit at 3; a flood of answered and streamed jobs sent to it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infernet_kit.devstack import fake_models
from infernet_kit.services.settings import MAX_CONNECTIONS_ENV
from infernet_kit.testing.service_fixtures import DevBackendHandle, run_service, tgi_service_env

LIMIT = 3
JOBS = 12  # of each kind


@pytest.fixture
def limited_service(backend: DevBackendHandle, tmp_path: Path) -> Iterator[str]:
    """A TGI service of its own (one worker, so one bound) with the connection limit at `LIMIT`."""
    env = {**tgi_service_env(backend.url), MAX_CONNECTIONS_ENV: str(LIMIT)}
    with run_service("tgi", env, tmp_path, workers=1) as running:
        yield running.url


async def test_json_calls_and_streams_share_one_limit(limited_service: str, backend: DevBackendHandle) -> None:
    backend.inject(latency_ms=150)  # every call stays in flight a while: the flood overlaps
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:

        async def answered(prompt: str) -> str:
            job = {"source": 1, "destination": 1, "data": {"text": prompt}}
            response = await http.post(f"{limited_service}/service_output", json=job)
            assert response.status_code == 200, response.text
            return str(response.json()["output"])

        async def streamed(prompt: str) -> str:
            job = {"source": 1, "destination": 2, "data": {"text": prompt}}
            async with http.stream("POST", f"{limited_service}/service_output", json=job) as response:
                assert response.status_code == 200
                return (await response.aread()).decode()

        prompts = [f"prompt {index}" for index in range(JOBS)]
        outputs = await asyncio.gather(*map(answered, prompts), *map(streamed, prompts))

    assert outputs[:JOBS] == [fake_models.generate(prompt) for prompt in prompts]
    assert outputs[JOBS:] == ["".join(fake_models.generate_tokens(prompt)) for prompt in prompts]
    stats = backend.stats()
    assert stats["requests"] == 2 * JOBS
    # Never more than the limit at once, and the flood did fill it (a bound per client would let 2 * LIMIT in).
    assert stats["peak_held"] == LIMIT, stats
