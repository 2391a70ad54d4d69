"""A third service added with one module and one registry entry (`reverse_service.py`, registered by
`$INFERNET_KIT_SERVICES`) is found by the registry, served by `infernet-kit serve`, started by the node's
container launcher and run as a job, with no edit anywhere in the kit."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import reverse_service

from infernet_kit.config import ConfigError
from infernet_kit.node.config import ContainerConfig
from infernet_kit.node.containers import serve_arguments, service_kind
from infernet_kit.processes import free_port, kit_command, port_is_open
from infernet_kit.protocol import JobLocation
from infernet_kit.protocol.container import decode_string, encode_string
from infernet_kit.protocol.registry import PLUGINS_ENV, UnknownService, service, services
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeFactory, wait_for_job
from infernet_kit.testing.service_fixtures import run_service


def test_registry_holds_the_kits_services_then_the_plugins() -> None:
    assert list(services()) == ["tgi", "hf", "signer", "reverse"]
    assert service("reverse") is reverse_service.SERVICE
    assert service("hf").container_id == "hf_inference_client_service"
    with pytest.raises(UnknownService, match="unknown service kind 'nope'; known: tgi, hf, signer, reverse"):
        service("nope")


def test_a_bad_plugin_list_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PLUGINS_ENV, "reverse_service, no_such_module")
    with pytest.raises(UnknownService, match=f"{PLUGINS_ENV}: 'no_such_module' is not a module with a SERVICE"):
        services()
    monkeypatch.setenv(PLUGINS_ENV, "reverse_service,reverse_service")
    with pytest.raises(UnknownService, match="service kind 'reverse' is registered twice"):
        services()
    monkeypatch.setenv(PLUGINS_ENV, "json")
    with pytest.raises(UnknownService, match="'json' is not a module with a SERVICE entry"):
        services()


def test_the_node_tells_the_plugin_from_its_command_image_or_id() -> None:
    by_command = ContainerConfig(id="anything", port=3555, command="reverse --workers=1")
    assert serve_arguments(by_command) == ["reverse", "--workers=1", "--bind=127.0.0.1:3555"]
    assert service_kind(ContainerConfig(id="x", image="acme/text-reverser:1", port=3555, command="")) == "reverse"
    assert service_kind(ContainerConfig(id="reverse_service", port=3555, command="")) == "reverse"
    assert service_kind(ContainerConfig(id="y", image="ritualnetwork/hf_inference_client_service", port=1)) == "hf"
    unknown = ContainerConfig(id="z", image="acme/other", port=3555, command="")
    with pytest.raises(ConfigError, match="must name tgi or hf or signer or reverse"):
        service_kind(unknown)


def test_the_cli_serves_the_plugin_on_every_destination(tmp_path: Path) -> None:
    env = reverse_service.SERVICE.dev_env("unused: the reverse service calls no backend")
    with run_service("reverse", env, tmp_path, workers=1) as running, httpx.Client(timeout=10) as http:
        url = f"{running.url}/service_output"
        offchain = {"source": JobLocation.OFFCHAIN, "destination": JobLocation.OFFCHAIN, "data": {"text": "abc"}}
        assert http.post(url, json=offchain).json() == {"output": "cba"}

        raw_input = encode_string("abc").hex()
        onchain = {"source": JobLocation.ONCHAIN, "destination": JobLocation.ONCHAIN, "data": raw_input}
        answer = http.post(url, json=onchain).json()
        assert answer["raw_input"] == raw_input
        assert decode_string(bytes.fromhex(answer["raw_output"])) == "cba"

        stream = {**offchain, "destination": JobLocation.STREAM}
        assert http.post(url, json=stream).text == "cba"

        refused = http.post(url, json={**offchain, "data": {"txt": "abc"}})
        assert refused.status_code == 400
        assert refused.json()["name"] == "InvalidInput" and "text" in refused.json()["description"]

        resources = http.get(f"{running.url}/service-resources").json()
        assert resources["service_id"] == "reverse_service"
        assert running.process.running()


def test_the_cli_names_a_bad_setting_or_kind_in_one_line() -> None:
    port = free_port()
    bad = subprocess.run(
        kit_command("serve", "reverse", f"--bind=127.0.0.1:{port}"),
        env={**os.environ, "REVERSE_REPEAT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "infernet-kit serve reverse: environment variable REVERSE_REPEAT: must be a positive integer, got '0'"
    )
    unknown = subprocess.run(kit_command("serve", "nope"), capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip()
        == "infernet-kit serve nope: unknown service kind 'nope'; known: tgi, hf, signer, reverse"
    )
    assert not port_is_open(port)


def test_the_node_starts_the_plugin_and_runs_jobs_on_it(infernet_node: NodeFactory) -> None:
    port = free_port()
    entry = {
        "id": "reverse_service",
        "image": "tests/text-reverser:latest",
        "port": port,
        "command": "--workers=1",
        "env": {"REVERSE_REPEAT": "2"},
    }
    node = infernet_node({"containers": [entry], "log_path": "node.log"})
    assert port_is_open(port)
    jobs = f"{node.url}/api/jobs"
    job_id = httpx_calls.post(jobs, json={"containers": ["reverse_service"], "data": {"text": "hello"}}).json()["id"]
    done = wait_for_job(node.url, job_id)
    assert done["result"] == {"container": "reverse_service", "output": {"output": "olleholleh"}}

    bad_id = httpx_calls.post(jobs, json={"containers": ["reverse_service"], "data": {"txt": "hello"}}).json()["id"]
    failed = wait_for_job(node.url, bad_id)
    assert failed["status"] == "failed"
    assert "data must be an object" in failed["result"]["error"]
    assert httpx_calls.get(f"{node.url}/info").json()["pending"] == {"offchain": 0, "onchain": 0}
    assert "container reverse_service: ready" in node.log_text()

    node.stop()
    deadline = time.monotonic() + 10
    while port_is_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_is_open(port)
