"""`infernet-kit status`, `trace` and `logs` against one live stack (anvil, backend, both services, a node, started
as `up` starts them, in this module's own state dir), and the `/metrics` of the node and the services."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from infernet_kit.chain.transactions import connect, transact
from infernet_kit.chain.watch import created_subscription_id, wait_for_fulfillments
from infernet_kit.cli import build_app
from infernet_kit.client.onchain import request_tgi_callback
from infernet_kit.devstack.fake_models import generate
from infernet_kit.devstack.stack import LocalStack, StackOptions
from infernet_kit.paths import STATE_ENV
from infernet_kit.polling import wait_until
from infernet_kit.processes import free_port, kit_command
from infernet_kit.protocol import tgi
from infernet_kit.testing import httpx_calls

PROMPT = "Is the sky blue during a clear day?"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """One stack, one on-chain TGI callback and one off-chain job through it."""
    state = tmp_path_factory.mktemp("observe-state")
    with LocalStack(StackOptions(nodes=1), run_dir=state / "up") as running:
        info = running.info
        assert info is not None
        (state / "stack.json").write_text(info.model_dump_json())
        w3 = connect(info.rpc_url, info.user_private_key)
        callback = request_tgi_callback(w3, info.deployment, PROMPT, timeout=60)
        node = info.nodes[0].url
        job = httpx_calls.post(f"{node}/api/jobs", json={"containers": [tgi.CONTAINER_ID], "data": {"text": PROMPT}})
        job_id = job.json()["id"]
        wait_until(
            lambda: httpx_calls.get(f"{node}/api/jobs", params={"id": job_id}).json()[0]["status"] != "running",
            timeout=30,
            what="the off-chain job",
        )
        yield SimpleNamespace(info=info, state=state, callback=callback, job_id=job_id, node=node)


def kit(stack: SimpleNamespace, *args: str) -> Any:
    """Run `infernet-kit <args>` on the module's stack (its state dir); wide output so nothing wraps."""
    result = CliRunner().invoke(
        build_app(), list(args), env={STATE_ENV: str(stack.state), "COLUMNS": "250"}, catch_exceptions=False
    )
    return result


def test_status_shows_the_stack_the_subscription_and_the_jobs(stack: SimpleNamespace) -> None:
    result = kit(stack, "status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert stack.node in out and "DOWN" not in out
    assert re.search(rf"chain\W+{re.escape(stack.info.rpc_url)}\W+up", out)
    assert "0x00000000…0000" not in out  # only subscriptions that exist
    assert all(url in out for url in stack.info.services.values())
    sub = stack.callback.subscription_id
    row = next(line for line in out.splitlines() if re.match(rf"^\W*{sub}\b", line.strip("│┃ ")))
    assert tgi.CONTAINER_ID in row and "1/1" in row
    assert str(stack.callback.delivery_gas) in row
    assert re.search(r"off-chain jobs \(this client's\): .*success 1", out)


def test_trace_of_the_request_tx_tells_the_whole_story(stack: SimpleNamespace) -> None:
    result = kit(stack, "trace", stack.callback.request_tx, "--json")
    assert result.exit_code == 0, result.output
    story = json.loads(result.output)
    assert story["subscription_id"] == stack.callback.subscription_id
    (delivery,) = story["deliveries"]
    assert delivery["tx_hash"] == stack.callback.delivery_tx
    assert delivery["gas_used"] == stack.callback.delivery_gas and delivery["fee_wei"] > 0
    assert delivery["output"] == generate(PROMPT, max_new_tokens=30) == stack.callback.output
    whats = [step["what"] for step in story["steps"]]
    assert any(w.startswith(f"subscription {stack.callback.subscription_id} created") for w in whats)
    assert "getContainerInputs interval 1" in whats
    inputs = next(s for s in story["steps"] if s["what"] == "getContainerInputs interval 1")
    assert inputs["data"] == PROMPT
    # The node's, the service's and the backend's lines about this interval, in time order.
    by_whom = [step["who"] for step in story["steps"] if step["time"]]
    assert {"node1", "tgi", "backend"} <= set(by_whom)
    times = [datetime.fromisoformat(step["time"]) for step in story["steps"] if step["time"]]
    assert times == sorted(times)
    whats = [step["what"] for step in story["steps"]]
    assert whats.index("getContainerInputs interval 1") < whats.index("delivered interval 1")
    tag = f"subscription={stack.callback.subscription_id} interval=1"
    assert any(s["who"] == "backend" and tag in s["what"] for s in story["steps"])


def test_trace_by_delivery_tx_and_by_id_find_the_same_subscription(stack: SimpleNamespace) -> None:
    by_tx = kit(stack, "trace", stack.callback.delivery_tx)
    by_id = kit(stack, "trace", str(stack.callback.subscription_id))
    assert by_tx.exit_code == by_id.exit_code == 0
    for out in (by_tx.output, by_id.output):
        assert f"subscription {stack.callback.subscription_id}: owner" in out
        assert stack.callback.delivery_tx in out and f"{stack.callback.delivery_gas}" in out, out


def test_trace_of_a_job_and_of_nothing(stack: SimpleNamespace) -> None:
    result = kit(stack, "trace", stack.job_id, "--json")
    assert result.exit_code == 0, result.output
    story = json.loads(result.output)
    assert {"node", "service", "backend"} <= {step["actor"] for step in story["steps"]}
    assert any(step["what"] == "job success" for step in story["steps"])
    missing = kit(stack, "trace", "0x" + "ab" * 32)
    assert missing.exit_code == 1 and "Error:" in missing.output


def test_logs_merge_in_time_order_and_filter(stack: SimpleNamespace) -> None:
    everything = kit(stack, "logs")
    assert everything.exit_code == 0
    components = {line.split()[1] for line in everything.output.splitlines() if line[:2].isdigit()}
    assert {"anvil", "backend", "tgi", "hf", "node1"} <= components
    stamps = [line.split()[0] for line in everything.output.splitlines() if line[:2].isdigit()]
    assert stamps == sorted(stamps)

    sub = kit(stack, "logs", "--sub", str(stack.callback.subscription_id)).output
    sub_lines = [line for line in sub.splitlines() if line[:2].isdigit()]
    assert sub_lines and all(f"subscription={stack.callback.subscription_id}" in line for line in sub_lines)
    assert {"node1", "tgi", "backend"} <= {line.split()[1] for line in sub_lines}

    job = kit(stack, "logs", "--job", stack.job_id).output
    assert {"node1", "tgi", "backend"} <= {line.split()[1] for line in job.splitlines() if line[:2].isdigit()}


def test_logs_follow_prints_new_lines_as_they_are_written(stack: SimpleNamespace) -> None:
    env = {**os.environ, STATE_ENV: str(stack.state)}
    follower = subprocess.Popen(kit_command("logs", "-f"), env=env, stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until(lambda: any(stack.job_id in line for line in lines), timeout=30, what="the old lines")
        job = httpx_calls.post(
            f"{stack.node}/api/jobs", json={"containers": [tgi.CONTAINER_ID], "data": {"text": "new"}}
        )
        new_id = job.json()["id"]
        wait_until(
            lambda: {"node1", "tgi", "backend"} <= {line.split()[1] for line in lines if new_id in line},
            timeout=30,
            what="the new job's lines from the node, the service and the backend",
        )
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_no_stack_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_app(), ["status"], env={STATE_ENV: str(tmp_path)})
    assert result.exit_code == 1 and "no stack is up" in result.output


def test_a_dead_chain_is_down_in_status_and_one_error_line_in_trace(stack: SimpleNamespace, tmp_path: Path) -> None:
    dead = stack.info.model_copy(update={"rpc_url": f"http://127.0.0.1:{free_port()}"})
    (tmp_path / "stack.json").write_text(dead.model_dump_json())
    status = kit(SimpleNamespace(state=tmp_path), "status")
    assert status.exit_code == 0 and re.search(rf"chain\W+{re.escape(dead.rpc_url)}\W+DOWN", status.output)
    trace = kit(SimpleNamespace(state=tmp_path), "trace", "1")
    assert trace.exit_code == 1 and f"cannot reach the chain at {dead.rpc_url}" in trace.output


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition `text` (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if labels else rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def test_metrics_of_the_node_and_a_service(stack: SimpleNamespace) -> None:
    node = httpx_calls.get(f"{stack.node}/metrics")
    assert node.status_code == 200 and node.headers["content-type"].startswith("text/plain")
    text = node.text
    assert _metric(text, "infernet_node_jobs_total", status="success") >= 1
    assert _metric(text, "infernet_node_deliveries_total", outcome="delivered") >= 1
    assert _metric(text, "infernet_node_gas_used_total") >= stack.callback.delivery_gas
    assert _metric(text, "infernet_node_container_seconds_count", container=tgi.CONTAINER_ID, outcome="ok") >= 2
    assert _metric(text, "infernet_node_rpc_requests_total", method="eth_sendRawTransaction") >= 1
    assert "infernet_node_sync_lag_blocks" in text
    service = httpx_calls.get(f"{stack.info.services[tgi.CONTAINER_ID]}/metrics").text
    assert re.search(r'^infernet_service_requests_total\{.*outcome="answered".*\} [1-9]', service, re.MULTILINE)
    assert "infernet_service_request_seconds_bucket" in service


def test_trace_decodes_the_consumers_event(stack: SimpleNamespace) -> None:
    info = stack.info
    w3 = connect(info.rpc_url, info.user_private_key)
    consumer = info.deployment.contract(w3, "RecurringConsumer")
    coordinator = info.deployment.contract(w3, "EIP712Coordinator")
    receipt = transact(consumer.functions.start(PROMPT, 1, 0, 1, False))
    sub_id = created_subscription_id(coordinator, receipt)
    wait_for_fulfillments(coordinator, sub_id, from_block=receipt["blockNumber"], timeout=30)
    story = json.loads(kit(stack, "trace", str(sub_id), "--json").output)
    (event,) = [step for step in story["steps"] if step["what"] == "event IntervalAnswered"]
    (delivery,) = story["deliveries"]
    assert event["data"]["subscriptionId"] == sub_id and event["data"]["interval"] == 1
    assert event["data"]["node"] == delivery["node"]
    assert event["data"]["text"] == delivery["output"] == consumer.functions.outputs(sub_id, 1).call()
