"""The seeds' off-chain examples (Python, CLI, cURL) and the official client's forms, against a real node
in front of the real TGI and HF services and the dev backend."""

from __future__ import annotations

import contextlib
import http.server
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infernet_kit.client.errors import APIError, NodeUnreachableError
from infernet_kit.client.node import NodeClient
from infernet_kit.devstack import fake_models
from infernet_kit.processes import free_port
from infernet_kit.protocol.defaults import JOB_WAIT_HEADER

from . import seed_snippets as seeds
from .conftest import CliRunner, KitRunner
from .test_cli_errors import assert_one_line_error

TGI = "tgi_client_inference_service"
HF = "hf_inference_client_service"
SKY = "Is the sky blue during a clear day?"


@pytest.fixture(scope="module")
def node_url(node_launcher: Any, tgi_service: str, hf_service: str) -> str:
    """One node serving both seed containers under their seed ids."""
    from infernet_kit.testing.node_fixtures import node_container

    config = {
        "containers": [node_container(TGI, tgi_service), node_container(HF, hf_service)],
        "server": {"rate_limit": {"num_requests": 100_000, "period": 1}},
    }
    return str(node_launcher(config).url)


def expected_tgi(prompt: str = SKY) -> str:
    return fake_models.generate(prompt)


# -- the seeds, word for word ------------------------------------------------------------------------------------


async def test_python_seed_tgi(node_url: str) -> None:
    code = seeds.adapt(seeds.TGI_OFFCHAIN_PYTHON, {"http://127.0.0.1:4000": node_url})
    variables = await seeds.run_python_snippet(code, {})
    # The container's answer, as the reference node returns it: `{"output": <generated text>}`.
    assert variables["result"] == {"output": expected_tgi()}
    await variables["client"].aclose()


async def test_python_seed_hf(node_url: str) -> None:
    code = seeds.adapt(seeds.HF_OFFCHAIN_PYTHON, {"http://127.0.0.1:4000": node_url})
    variables = await seeds.run_python_snippet(code, {})
    assert variables["result"] == {"output": fake_models.generate("Is the sky ", model="Qwen/Qwen2.5-72B-Instruct")}
    await variables["client"].aclose()


@pytest.mark.parametrize(
    ("container", "input_json", "expected"),
    [
        (TGI, seeds.TGI_INPUT_JSON, lambda: expected_tgi()),
        (HF, seeds.HF_INPUT_JSON, lambda: fake_models.generate(SKY, model="Qwen/Qwen2.5-72B-Instruct")),
    ],
    ids=["tgi", "hf"],
)
def test_cli_seed_job_sync(
    cli: CliRunner, tmp_path: Path, node_url: str, container: str, input_json: str, expected: Any
) -> None:
    (tmp_path / "input.json").write_text(input_json)
    command = seeds.adapt(seeds.CLI_JOB.format(container=container), {}).split()
    assert command[0] == "infernet-client"
    result = cli(*command, env={"SERVER_URL": node_url})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"output": expected()}


class _StandIn(http.server.ThreadingHTTPServer):
    """A node that does not know `wait` on the methods in `drop_wait`: a real HTTP server in front of the real
    node that leaves `wait` out of those requests (as such a node ignores it), recording each job request."""

    def __init__(self, target: str, drop_wait: tuple[str, ...]) -> None:
        self.exchanges: list[tuple[str, httpx.URL]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self) -> None:
                url = httpx.URL(target + self.path)
                if self.command in drop_wait:
                    url = url.copy_remove_param("wait")
                if url.path == "/api/jobs":
                    server.exchanges.append((self.command, url))
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {"content-type": self.headers.get("content-type") or "application/json"}
                answer = httpx.request(self.command, url, content=body, headers=headers, timeout=60)
                self.send_response(answer.status_code)
                for name in ("content-type", JOB_WAIT_HEADER):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@contextlib.contextmanager
def stand_in(target: str, drop_wait: tuple[str, ...]) -> Iterator[_StandIn]:
    server = _StandIn(target, drop_wait)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("drop_wait", "exchanges"),
    [((), ["POST"]), (("POST",), ["POST", "GET"])],
    ids=["this-node", "node-without-the-waiting-post"],
)
def test_cli_job_sync_is_one_exchange_here_and_two_on_an_older_node(
    kit: KitRunner, tmp_path: Path, node_url: str, drop_wait: tuple[str, ...], exchanges: list[str]
) -> None:
    (tmp_path / "input.json").write_text(seeds.TGI_INPUT_JSON)
    with stand_in(node_url, drop_wait) as node:
        url = f"http://127.0.0.1:{node.server_address[1]}"
        result = kit("job", "-c", TGI, "-i", "input.json", "--sync", "--url", url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"output": expected_tgi()}
    assert [method for method, _ in node.exchanges] == exchanges
    assert all("wait" in url.params for _, url in node.exchanges[1:])  # the fallback is a waiting read


def test_cli_job_without_sync_prints_an_id_that_results_finds(kit: KitRunner, tmp_path: Path, node_url: str) -> None:
    (tmp_path / "input.json").write_text(seeds.TGI_INPUT_JSON)
    submitted = kit("job", "-c", TGI, "-i", "input.json", "--url", node_url)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    uuid.UUID(job_id)
    # Poll through the CLI until done (the dev backend answers in milliseconds).
    for _ in range(50):
        fetched = kit("results", "--id", job_id, "--url", node_url)
        assert fetched.returncode == 0, fetched.stderr
        [job] = json.loads(fetched.stdout)
        if job["status"] != "running":
            break
    assert job == {
        "id": job_id,
        "status": "success",
        "result": {"container": TGI, "output": {"output": expected_tgi()}},
    }
    ids = kit("ids", "--url", node_url, "--status", "completed")
    assert job_id in json.loads(ids.stdout)


@pytest.mark.parametrize(("snippet", "container"), [(seeds.TGI_OFFCHAIN_CURL, TGI), (seeds.HF_OFFCHAIN_CURL, HF)])
def test_curl_seed(node_url: str, snippet: str, container: str) -> None:
    def curl(command: str) -> Any:
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    job_id = curl(seeds.adapt(snippet, {"http://127.0.0.1:4000": node_url}))["id"]
    for _ in range(100):
        [job] = curl(f"curl --silent --show-error '{node_url}/api/jobs?id={job_id}'")
        if job["status"] != "running":
            break
        time.sleep(0.05)
    model = "Qwen/Qwen2.5-72B-Instruct" if container == HF else ""
    assert job == {
        "id": job_id,
        "status": "success",
        "result": {"container": container, "output": {"output": fake_models.generate(SKY, model=model)}},
    }


# -- the official client's forms ---------------------------------------------------------------------------------


async def test_official_request_job_form_and_batch(node_url: str) -> None:
    async with NodeClient(node_url) as client:
        assert await client.health() is True
        # The official signature's second positional argument is the timeout.
        job_id = await client.request_job({"containers": [TGI], "data": {"text": "hello there"}}, 5)
        job = await client.get_job_result_sync(job_id)
        assert job is not None
        assert job["result"] == {"container": TGI, "output": {"output": fake_models.generate("hello there")}}

        answers = await client.request_jobs(
            [
                {"containers": [TGI], "data": {"text": "one"}},
                {"containers": ["no_such_container"], "data": {"text": "two"}},
                {"containers": [HF], "data": {"task_id": 2, "text": "I like it"}},
            ]
        )
        assert "id" in answers[0] and "id" in answers[2]
        assert "error" in answers[1] and "not supported" in answers[1]["error"].lower()  # type: ignore[typeddict-item]
        results = {r["id"]: r for r in [await client.get_job_result_sync(a["id"]) for a in (answers[0], answers[2])]}  # type: ignore[typeddict-item,misc]
        assert results[answers[2]["id"]]["result"] == {
            "container": HF,
            "output": {"output": fake_models.classify("I like it")},
        }  # type: ignore[typeddict-item,index]

        assert job_id in await client.get_jobs()
        assert job_id in await client.get_jobs(pending=False)
        assert job_id not in await client.get_jobs(pending=True)


async def test_info_and_resources(node_url: str) -> None:
    async with NodeClient(node_url) as client:
        info = await client.get_info()
        assert {c["id"] for c in info["containers"]} == {TGI, HF}
        assert info["chain"]["enabled"] is False
        resources = await client.get_resources()
        assert set(resources) == {TGI, HF}
        assert resources[TGI]["compute_capability"][0]["type"] == "tgi_client"
        assert resources[HF]["compute_capability"][0]["type"] == "hf_client"


async def test_stream(node_url: str) -> None:
    async with NodeClient(node_url) as client:
        chunks = [chunk async for chunk in client.request_stream({"containers": [TGI], "data": {"text": SKY}})]
    job_id, body = chunks[0], b"".join(c for c in chunks[1:] if isinstance(c, bytes))
    uuid.UUID(str(job_id))
    assert body.decode() == expected_tgi()


def test_cli_stream_info_health_resources(kit: KitRunner, tmp_path: Path, node_url: str) -> None:
    (tmp_path / "input.json").write_text(seeds.TGI_INPUT_JSON)
    streamed = kit("stream", "-c", TGI, "-i", "input.json", "--url", node_url)
    assert streamed.returncode == 0, streamed.stderr
    first, rest = streamed.stdout.split("\n", 1)
    assert first.startswith("Job ID: ")
    assert rest == expected_tgi() + "\n"
    assert kit("health", "--url", node_url).stdout == "healthy\n"
    assert {c["id"] for c in json.loads(kit("info", "--url", node_url).stdout)["containers"]} == {TGI, HF}
    assert set(json.loads(kit("resources", "--url", node_url).stdout)) == {TGI, HF}


def test_cli_stdin_input_and_output_file(kit: KitRunner, tmp_path: Path, node_url: str) -> None:
    """`-i -` reads the input from stdin and `-o FILE` writes the result there, as in the official CLI."""
    result = kit("job", "-c", TGI, "--sync", "-o", "out.json", "--url", node_url, stdin=seeds.TGI_INPUT_JSON)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads((tmp_path / "out.json").read_text()) == {"output": expected_tgi()}


# -- errors ------------------------------------------------------------------------------------------------------


async def test_api_error_carries_status_message_and_params(node_url: str) -> None:
    async with NodeClient(node_url) as client:
        with pytest.raises(APIError) as caught:
            await client.request_job("no_such_container", {"text": "x"})
    assert 400 <= caught.value.status_code < 500
    assert "not supported" in caught.value.message.lower()
    assert "no_such_container" in json.dumps(caught.value.params)


async def test_unreachable_node_is_a_connection_error() -> None:
    async with NodeClient(f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(NodeUnreachableError, match="not reachable"):
            await client.health()


def test_cli_unknown_container(kit: KitRunner, tmp_path: Path, node_url: str) -> None:
    (tmp_path / "input.json").write_text(seeds.TGI_INPUT_JSON)
    result = kit("job", "-c", "no_such_container", "-i", "input.json", "--sync", "--url", node_url)
    assert_one_line_error(result, "node rejected the request (4", "not supported", "no_such_container")


def test_cli_requires_proof_is_refused(kit: KitRunner, tmp_path: Path, node_url: str) -> None:
    """The TGI container does not generate proofs: the node refuses the job up front, the CLI says why."""
    (tmp_path / "input.json").write_text(seeds.TGI_INPUT_JSON)
    result = kit("job", "-c", TGI, "-i", "input.json", "--sync", "--requires-proof", "--url", node_url)
    assert_one_line_error(result, "node rejected the request (4", "proof", TGI)


def test_cli_failed_job_says_why(kit: KitRunner, tmp_path: Path, node_url: str, dev_backend: Any) -> None:
    """The backend rejects the prompt (a 4xx is not retried): the job fails, --sync prints the reason, exit 1."""
    (tmp_path / "input.json").write_text(seeds.TGI_INPUT_JSON)
    dev_backend.inject(fail_next=1, status=422, error="prompt rejected by the backend")
    try:
        result = kit("job", "-c", TGI, "-i", "input.json", "--sync", "--url", node_url)
    finally:
        dev_backend.reset()
    assert_one_line_error(result, "failed", "HTTP 422", "prompt rejected by the backend")
