"""The orchestrator against a real container process (the echo container) over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.orchestrator import ContainerFailure, Orchestrator
from infernet_kit.processes import free_port
from infernet_kit.protocol import JobLocation


def _orchestrator(echo_url: str, **extra: object) -> Orchestrator:
    containers = {
        name: ContainerConfig.model_validate({"id": name, "url": echo_url, **extra}) for name in ("a", "b", "c")
    }
    return Orchestrator(containers)


async def test_chain_passes_answers_on_and_only_the_last_gets_the_destination(echo_container: str) -> None:
    orchestrator = _orchestrator(echo_container)
    try:
        outputs = await orchestrator.run(
            ["a", "b", "c"], {"x": 1}, source=JobLocation.ONCHAIN, destination=JobLocation.ONCHAIN, requires_proof=True
        )
    finally:
        await orchestrator.aclose()
    assert [o.container for o in outputs] == ["a", "b", "c"]
    first, second, third = (o.output["output"]["received"] for o in outputs)
    assert first == {"source": 0, "destination": 1, "data": {"x": 1}, "requires_proof": True}
    assert second == {"source": 1, "destination": 1, "data": outputs[0].output, "requires_proof": True}
    assert third == {"source": 1, "destination": 0, "data": outputs[1].output, "requires_proof": True}


async def test_bearer_becomes_authorization_header(echo_container: str) -> None:
    orchestrator = _orchestrator(echo_container, bearer="s3cret-token")
    try:
        (output,) = await orchestrator.run(["a"], {}, source=JobLocation.OFFCHAIN, destination=JobLocation.OFFCHAIN)
    finally:
        await orchestrator.aclose()
    assert output.output["output"]["authorization"] == "Bearer s3cret-token"


async def test_failures_name_the_container_and_its_description(echo_container: str) -> None:
    orchestrator = _orchestrator(echo_container, timeout=0.5)
    try:
        with pytest.raises(ContainerFailure) as caught:
            await orchestrator.run(
                ["a", "b"],
                {"fail": 422, "description": "prompt too long"},
                source=JobLocation.OFFCHAIN,
                destination=JobLocation.OFFCHAIN,
            )
        assert (caught.value.container, caught.value.description, caught.value.status) == ("a", "prompt too long", 422)
        assert caught.value.completed == []

        with pytest.raises(ContainerFailure) as caught:
            await orchestrator.run(["a"], {"fail_plain": 503}, source=JobLocation(1), destination=JobLocation(1))
        assert caught.value.description == "HTTP 503: plain failure"

        with pytest.raises(ContainerFailure) as caught:
            await orchestrator.run(["a"], {"sleep": 2}, source=JobLocation.OFFCHAIN, destination=JobLocation.OFFCHAIN)
        assert "within 0.5s" in caught.value.description

        with pytest.raises(ContainerFailure) as caught:
            await orchestrator.run(["a", "zz"], {}, source=JobLocation.OFFCHAIN, destination=JobLocation.OFFCHAIN)
        assert (caught.value.container, caught.value.description) == ("zz", "Container not supported")
        assert [o.container for o in caught.value.completed] == ["a"]
    finally:
        await orchestrator.aclose()


@pytest.mark.parametrize("scheme", ["http", "https"])  # the node's own client; aiohttp's
async def test_unreachable_container_is_a_failure_not_a_crash(scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{free_port()}"
    orchestrator = Orchestrator({"a": ContainerConfig(id="a", url=url)})
    try:
        with pytest.raises(ContainerFailure) as caught:
            await orchestrator.run(["a"], {}, source=JobLocation.OFFCHAIN, destination=JobLocation.OFFCHAIN)
        assert caught.value.description.startswith(f"cannot reach {url}: ")
    finally:
        await orchestrator.aclose()


async def test_many_concurrent_jobs_share_a_bounded_pool(echo_container: str) -> None:
    containers = {"a": ContainerConfig(id="a", url=echo_container)}
    orchestrator = Orchestrator(containers, max_connections=4)
    try:
        results = await asyncio.gather(
            *(
                orchestrator.run(["a"], {"n": n}, source=JobLocation.OFFCHAIN, destination=JobLocation.OFFCHAIN)
                for n in range(200)
            )
        )
        assert 1 <= orchestrator.open_connections <= 4
    finally:
        await orchestrator.aclose()
    assert [r[0].output["output"]["received"]["data"]["n"] for r in results] == list(range(200))


async def test_stream_yields_intermediate_outputs_then_bytes(echo_container: str) -> None:
    orchestrator = _orchestrator(echo_container)
    try:
        chunks = orchestrator.stream(["a", "b"], {"q": "stream me"})
        first = await anext(chunks)
        assert isinstance(first, list) and [o.container for o in first] == ["a"]
        body = b"".join([c async for c in chunks if isinstance(c, bytes)])
    finally:
        await orchestrator.aclose()
    assert b'"destination": 2' in body and b'"source": 1' in body
