"""Off-chain jobs end to end through real processes: node -> TGI / HF service -> dev backend; the seeds'
cURL lines with real curl; the official infernet-client 1.4 against our node."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infernet_kit.devstack import fake_models
from infernet_kit.paths import project_root
from infernet_kit.protocol.hf import DEFAULT_MODELS
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeLauncher, RunningNode, node_container, wait_for_job
from infernet_kit.testing.service_fixtures import DevBackendHandle

TGI = "tgi_client_inference_service"
HF = "hf_inference_client_service"
PROMPT = "Is the sky blue during a clear day?"
TEXT = "Alice flew from Paris to Tokyo with Bob, who works at Acme."

# The seeds' cURL lines, verbatim (seed 000 for TGI, seed 001 for HF).
SEED_CURL_TGI = """curl -X POST http://127.0.0.1:4000/api/jobs \\
    -H "Content-Type: application/json" \\
    -d '{"containers": ["tgi_client_inference_service"], "data": {"text": "Is the sky blue during a clear day?"}}'"""
SEED_CURL_HF = """curl -X POST http://127.0.0.1:4000/api/jobs \\
    -H "Content-Type: application/json" \\
    -d '{"containers": ["hf_inference_client_service"], "data": {"task_id": 1, "prompt": "Is the sky blue during a clear day?", "model": "Qwen/Qwen2.5-72B-Instruct"}}'"""  # noqa: E501


@pytest.fixture(scope="module")
def node(node_launcher: NodeLauncher, tgi_service: str, hf_service: str) -> RunningNode:
    return node_launcher(
        {
            "containers": [
                node_container(TGI, tgi_service, description="TGI client inference service"),
                node_container(HF, hf_service),
                node_container("tgi_then_tgi", tgi_service),
            ],
            "server": {"rate_limit": {"num_requests": 100000, "period": 1}},
        }
    )


def submit(node: RunningNode, containers: list[str], data: dict[str, Any]) -> str:
    response = httpx_calls.post(f"{node.url}/api/jobs", json={"containers": containers, "data": data}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_tgi_job_end_to_end(node: RunningNode, backend: DevBackendHandle) -> None:
    job = wait_for_job(node.url, submit(node, [TGI], {"text": PROMPT}))
    assert job["status"] == "success"
    assert job["result"] == {"container": TGI, "output": {"output": fake_models.generate(PROMPT)}}
    assert backend.stats()["requests"] == 1


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"task_id": 1, "prompt": PROMPT, "model": "acme/tiny-llm", "max_new_tokens": 5},
            fake_models.generate(PROMPT, 5, "acme/tiny-llm"),
        ),
        ({"task_id": 1, "prompt": PROMPT}, fake_models.generate(PROMPT, 20, DEFAULT_MODELS["text_generation"])),
        ({"task_id": 2, "text": TEXT}, fake_models.classify(TEXT)),
        ({"task_id": 3, "text": TEXT}, fake_models.token_classify(TEXT)),
        ({"task_id": 4, "text": TEXT}, fake_models.summarize(TEXT)),
    ],
)
def test_hf_jobs_end_to_end(node: RunningNode, backend: DevBackendHandle, data: dict[str, Any], expected: Any) -> None:
    job = wait_for_job(node.url, submit(node, [HF], data))
    assert job == {"id": job["id"], "status": "success", "result": {"container": HF, "output": {"output": expected}}}


def test_batch_of_tgi_and_hf_jobs(node: RunningNode, backend: DevBackendHandle) -> None:
    response = httpx_calls.post(
        f"{node.url}/api/jobs/batch",
        json=[
            {"containers": [TGI], "data": {"text": "first prompt"}},
            {"containers": [HF], "data": {"task_id": 2, "text": TEXT}},
            {"containers": ["not_here"], "data": {}},
        ],
    )
    first, second, third = response.json()
    assert third == {"error": "Container not supported", "params": {"container": "not_here"}}
    assert wait_for_job(node.url, first["id"])["result"]["output"] == {"output": fake_models.generate("first prompt")}
    assert wait_for_job(node.url, second["id"])["result"]["output"] == {"output": fake_models.classify(TEXT)}


def test_tgi_stream(node: RunningNode, backend: DevBackendHandle) -> None:
    with httpx_calls.stream(
        "POST", f"{node.url}/api/jobs/stream", json={"containers": [TGI], "data": {"text": PROMPT}}
    ) as r:
        assert r.status_code == 200
        body = r.read().decode()
    job_id, _, text = body.partition("\n")
    assert text == fake_models.generate(PROMPT)
    assert wait_for_job(node.url, job_id)["result"] == {"container": TGI, "output": {"output": text}}


def test_chain_of_two_services_keeps_the_intermediate_result(node: RunningNode, backend: DevBackendHandle) -> None:
    # The second TGI container gets the first one's answer `{"output": ...}` as data; the TGI service wants
    # `{"text": ...}`, so it refuses it, and the job fails there with the first answer kept as intermediate.
    job = wait_for_job(node.url, submit(node, [TGI, "tgi_then_tgi"], {"text": PROMPT}), intermediate=True)
    assert job["status"] == "failed"
    assert job["intermediate_results"] == [{"container": TGI, "output": {"output": fake_models.generate(PROMPT)}}]
    assert job["result"]["container"] == "tgi_then_tgi"
    assert "data.text is missing" in job["result"]["error"]


def test_backend_fault_fails_the_job_with_the_reason(node: RunningNode, backend: DevBackendHandle) -> None:
    backend.inject(fail_next=1, status=400, error="Input validation error: inputs too long")
    job = wait_for_job(node.url, submit(node, [TGI], {"text": PROMPT}))
    assert job["status"] == "failed"
    assert job["result"]["container"] == TGI
    assert "inputs too long" in job["result"]["error"]
    # Transient faults are retried by the service; the node sees a success.
    backend.inject(fail_next=2, status=503, error="overloaded")
    assert wait_for_job(node.url, submit(node, [TGI], {"text": PROMPT}))["status"] == "success"


def _run_seed_curl(line: str, node: RunningNode) -> dict[str, Any]:
    # Only the address changes: the node runs on a free port, since other test runs may hold 4000.
    command = shlex.split(line.replace("\\\n", " ").replace("http://127.0.0.1:4000", node.url))
    assert command[0] == "curl"
    result = subprocess.run([*command, "--silent", "--show-error"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_seed_curl_lines(node: RunningNode, backend: DevBackendHandle) -> None:
    tgi = _run_seed_curl(SEED_CURL_TGI, node)
    assert re.fullmatch(r"[0-9a-f-]{36}", tgi["id"])
    assert wait_for_job(node.url, tgi["id"])["result"]["output"] == {"output": fake_models.generate(PROMPT)}
    hf = _run_seed_curl(SEED_CURL_HF, node)
    expected = fake_models.generate(PROMPT, 20, "Qwen/Qwen2.5-72B-Instruct")
    assert wait_for_job(node.url, hf["id"])["result"]["output"] == {"output": expected}


def official_client_python() -> Path:
    """The official infernet-client 1.4's interpreter, in the virtualenv `make setup` builds for it."""
    python = project_root() / ".venv-compat" / "infernet-client-1.4" / "bin" / "python"
    assert (python.parent.parent / ".kit-installed").exists(), f"{python.parent.parent} is missing: run `make setup`"
    return python


def test_official_infernet_client(node: RunningNode, backend: DevBackendHandle) -> None:
    python = official_client_python()
    script = Path(__file__).parent / "compat" / "official_client.py"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(python), str(script), node.url], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["health"] is True
    assert out["info"]["chain"] == {"enabled": False, "address": "", "judged_block": None}
    assert [c["id"] for c in out["info"]["containers"]] == [TGI, HF, "tgi_then_tgi"]
    assert out["resources"][TGI]["compute_capability"][0]["type"] == "tgi_client"
    assert out["resources"][HF]["compute_capability"][0]["type"] == "hf_client"
    assert set(out["model_support"]) == {TGI, HF, "tgi_then_tgi"}
    assert out["result"] == {
        "id": out["job_id"],
        "status": "success",
        "result": {"container": TGI, "output": {"output": fake_models.generate(PROMPT)}},
    }
    assert set(out["batch"][0]) == {"id"}
    assert out["batch"][1] == {"error": "Container not supported", "params": {"container": "no_such_container"}}
    (batch_job,) = out["batch_results"]
    assert batch_job["status"] == "success" and batch_job["intermediate_results"] == []
    assert batch_job["result"]["output"] == {"output": fake_models.classify("Alice went to Paris.")}
    assert out["job_id"] in out["ids"] and out["pending_ids"] == []
    stream_id, *chunks = out["stream"]
    assert re.fullmatch(r"[0-9a-f-]{36}", stream_id)
    assert "".join(chunks) == fake_models.generate(PROMPT)
    assert out["error"] == {
        "status": 404,
        "message": "Container not supported",
        "params": {"container": "no_such_container"},
    }
    assert out["recorded"][0]["status"] == "success"


def test_official_infernet_client_cli_seed_line(node: RunningNode, backend: DevBackendHandle, tmp_path: Path) -> None:
    """The seed's `infernet-client job -c tgi_client_inference_service -i input.json --sync`, by the official CLI."""
    python = official_client_python()
    (tmp_path / "input.json").write_text('{\n    "text": "Is the sky blue during a clear day?"\n}\n')
    command = [str(python.parent / "infernet-client"), "job", "-c", TGI, "-i", "input.json", "--sync"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"SERVER_URL": node.url}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"output": fake_models.generate(PROMPT)}
