"""On-chain and delegated flows against the live local stack: anvil, the deployed contracts, a chain-enabled
node in front of the real services. Covers the scripts, `request_delegated_subscription` (the seed snippet)
and the `sub` CLI, each checked on chain through the coordinator and the consumers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_abi.abi import decode
from web3 import Web3

from infernet_kit.chain.accounts import DEPLOYER, NODE_OPERATORS, dev_account, dev_key
from infernet_kit.chain.encoding import ZERO_ADDRESS, container_id, delegate_key
from infernet_kit.client.onchain import deliverable_intervals
from infernet_kit.devstack import fake_models
from infernet_kit.paths import project_root
from infernet_kit.processes import free_port

from . import seed_snippets as seeds
from .conftest import (
    CliRunner,
    KitRunner,
)
from .test_cli_errors import assert_one_line_error

TGI = "tgi_client_inference_service"
HF = "hf_inference_client_service"
SKY = "Is the sky blue during a clear day?"
SIGNER_KEY = dev_key(DEPLOYER)  # DelegateConsumer's signer: the deployer


@pytest.fixture(scope="module")
def stack(
    anvil: Any, infernet_deployment: Any, node_launcher: Any, tgi_service: str, hf_service: str, tmp_path_factory: Any
) -> SimpleNamespace:
    """A chain-enabled node serving both seed containers, plus the deployment written where scripts find it."""
    from infernet_kit.testing.node_fixtures import node_container

    operator = dev_account(NODE_OPERATORS[0])
    config = {
        "containers": [node_container(TGI, tgi_service), node_container(HF, hf_service)],
        "chain": {
            "enabled": True,
            "rpc_url": anvil.url,
            "registry_address": infernet_deployment.registry,
            "trail_head_blocks": 0,
            "wallet": {"private_key": "0x" + bytes(operator.key).hex()},
            "snapshot_sync": {"sleep": 0.1, "sync_period": 0.2},
        },
        "server": {"rate_limit": {"num_requests": 100_000, "period": 1}},
    }
    node = node_launcher(config)
    deployments = tmp_path_factory.mktemp("deployments")
    infernet_deployment.save(deployments)
    return SimpleNamespace(
        node_url=node.url,
        rpc_url=anvil.url,
        w3=anvil.w3,
        deployment=infernet_deployment,
        deployments_dir=str(deployments),
        coordinator=infernet_deployment.contract(anvil.w3, "EIP712Coordinator"),
        delegate_consumer=infernet_deployment.contract(anvil.w3, "DelegateConsumer"),
    )


def run_script(name: str, *args: str, stack: SimpleNamespace) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(project_root() / "scripts" / name), "--rpc-url", stack.rpc_url, "--json", *args],
        env={"INFERNET_DEPLOYMENTS_DIR": stack.deployments_dir, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def receipt_ok(w3: Web3, tx_hash: str) -> None:
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1  # type: ignore[arg-type]


def wait_created(stack: SimpleNamespace, owner: str, nonce: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subscription_id := stack.coordinator.functions.delegateCreatedIds(delegate_key(owner, nonce)).call():
            return int(subscription_id)
        time.sleep(0.2)
    raise AssertionError(f"no delegated subscription for {owner} nonce {nonce} after {timeout}s")


def wait_delegated_output(
    stack: SimpleNamespace, subscription_id: int, intervals: tuple[int, ...] = (1,), timeout: float = 60
) -> str:
    """The decoded answer the node delivered to DelegateConsumer for the first of `intervals` that has one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for interval in intervals:
            raw = stack.delegate_consumer.functions.outputs(subscription_id, interval).call()
            if raw:
                (text,) = decode(["string"], raw)
                return str(text)
        time.sleep(0.2)
    raise AssertionError(f"subscription {subscription_id} intervals {intervals} not delivered after {timeout}s")


# -- on-chain callbacks through the scripts -----------------------------------------------------------------------


def test_request_callback_script(stack: SimpleNamespace) -> None:
    result = run_script("request_callback.py", stack=stack)
    assert result["answer"] == fake_models.generate(SKY)
    consumer = stack.deployment.contract(stack.w3, "TGICallbackConsumer")
    assert consumer.functions.outputs(result["subscription_id"]).call() == result["answer"]
    receipt_ok(stack.w3, result["request_tx"])
    receipt_ok(stack.w3, result["delivery_tx"])
    assert result["request_tx"] != result["delivery_tx"]
    assert result["node"] == dev_account(NODE_OPERATORS[0]).address
    assert result["delivery_gas"] == stack.w3.eth.get_transaction_receipt(result["delivery_tx"])["gasUsed"]


def test_request_hf_script_every_task(stack: SimpleNamespace) -> None:
    from infernet_kit.protocol.hf import DEFAULT_MODELS

    answers = run_script("request_hf.py", stack=stack)
    prompts = {
        "text_generation": SKY,
        "text_classification": "I love this kit, it works offline!",
        "token_classification": "My name is Sarah and I live in London.",
    }
    assert answers["text_generation"]["output"] == fake_models.generate(SKY, model=DEFAULT_MODELS["text_generation"])
    assert answers["text_classification"]["output"] == fake_models.classify(prompts["text_classification"])
    expected_entities = [
        {"entity_group": e["entity_group"], "score": e["score"]}
        for e in fake_models.token_classify(prompts["token_classification"])
    ]
    assert answers["token_classification"]["output"] == expected_entities
    assert answers["summarization"]["output"]["summary_text"].startswith("The tower is 324")
    for answer in answers.values():
        receipt_ok(stack.w3, answer["delivery_tx"])


# -- delegated subscriptions ----------------------------------------------------------------------------------------


async def test_python_seed_delegated_subscription(stack: SimpleNamespace) -> None:
    owner = stack.delegate_consumer.address
    code = seeds.adapt(
        seeds.TGI_DELEGATED_PYTHON,
        {
            'owner="0x..."': f'owner="{owner}"',
            'private_key="0x..."': f'private_key="{SIGNER_KEY}"',
            "http://127.0.0.1:4000": stack.node_url,
            "http://127.0.0.1:8545": stack.rpc_url,
            # Chain time, not the wall clock: anvil's clock may run ahead once tests move it.
            "int(time() + 10)": "int(time() + 600)",
        },
    )
    namespace: dict[str, Any] = {
        "time": time.time,
        "random": __import__("random"),
        "ZERO_ADDRESS": ZERO_ADDRESS,
        "global_config": SimpleNamespace(coordinator_address=stack.deployment.coordinator),
    }
    variables = await seeds.run_python_snippet(code, namespace)
    await variables["client"].aclose()
    subscription_id = wait_created(stack, owner, variables["nonce"])
    stored = stack.coordinator.functions.getSubscription(subscription_id).call()
    assert stored[0] == owner
    assert bytes(stored[5]) == container_id([TGI])
    assert wait_delegated_output(stack, subscription_id) == fake_models.generate(SKY)


def write_sub_files(tmp_path: Path, owner: str, **changes: str) -> None:
    params = seeds.PARAMS_JSON.replace("0x00Bd138aBD7....................", owner)
    for old, new in changes.items():
        params = params.replace(old, new)
    (tmp_path / "params.json").write_text(params)
    (tmp_path / "input.json").write_text(seeds.TGI_INPUT_JSON)
    (tmp_path / "key-file.txt").write_text(SIGNER_KEY + "\n")


def test_cli_sub_creates_the_subscription_on_chain(cli: CliRunner, tmp_path: Path, stack: SimpleNamespace) -> None:
    owner = stack.delegate_consumer.address
    now = max(int(stack.w3.eth.get_block("latest")["timestamp"]), int(time.time()))
    # The seed's params.json as printed, with the owner and an active_at the user fills in: ahead of now, so
    # that the subscription's two 3-second intervals are not over before the CLI (slow on a loaded machine)
    # has handed it to the node.
    active_at = now + 10
    write_sub_files(tmp_path, owner, **{'"active_at": 0,': f'"active_at": {active_at},'})
    command = seeds.adapt(
        seeds.CLI_SUB,
        {
            "http://some-rpc-url.com": stack.rpc_url,
            "--address 0x..": f"--address {stack.deployment.coordinator}",
            "--expiry 1713376164": f"--expiry {now + 600}",
        },
    ).split()
    assert command[0] == "infernet-client"
    # Two nodes given, one of them down: the one that took it is enough, and the other is named.
    down = f"http://127.0.0.1:{free_port()}"
    result = cli(*command, "--url", stack.node_url, "--url", down, "--nonce", "4242")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Success: Subscription created."]
    [warning] = result.stderr.splitlines()
    assert warning.startswith(f"Warning: {down} did not take it: node not reachable")
    subscription_id = wait_created(stack, owner, 4242)
    stored = stack.coordinator.functions.getSubscription(subscription_id).call()
    assert (stored[0], stored[1], stored[2], stored[3], stored[4]) == (owner, active_at, 3, 2, 2)
    # Created by the node's first delivery: interval 1, or 2 when the node got it late in interval 1.
    assert wait_delegated_output(stack, subscription_id, intervals=(1, 2)) == fake_models.generate(SKY)


def test_cli_sub_seed_params_as_printed_and_a_reused_nonce(
    kit: KitRunner, tmp_path: Path, stack: SimpleNamespace
) -> None:
    """`"active_at": 0` is instantly active: the chain time is signed (and said); the same nonce again is named
    as the subscription it already is, and its new input is not used."""
    owner = stack.delegate_consumer.address
    write_sub_files(tmp_path, owner)
    now = int(stack.w3.eth.get_block("latest")["timestamp"])
    args = ["sub", "--rpc-url", stack.rpc_url, "--address", stack.deployment.coordinator, "--expiry", str(now + 600)]
    files = ["--key", "key-file.txt", "--params", "params.json", "--input", "input.json", "--url", stack.node_url]
    result = kit(*args, *files, "--nonce", "31337")
    assert result.returncode == 0, result.stderr
    said, created = result.stdout.splitlines()
    assert said.startswith("active_at 0 (instantly active): signing the current chain time ")
    signed = int(said.rsplit(" ", 1)[1])
    assert created == "Success: Subscription created."
    subscription_id = wait_created(stack, owner, 31337)
    stored = stack.coordinator.functions.getSubscription(subscription_id).call()
    assert (stored[1], stored[2], stored[3], stored[4]) == (signed, 3, 2, 2)
    assert wait_delegated_output(stack, subscription_id, intervals=(1, 2)) == fake_models.generate(SKY)

    (tmp_path / "input.json").write_text('{"text": "another question"}')
    again = kit(*args, *files, "--nonce", "31337")
    assert_one_line_error(again, f"already exists as subscription {subscription_id}", "this input was not used")


def test_cli_sub_wait_timeout_says_what_each_node_did(kit: KitRunner, tmp_path: Path, stack: SimpleNamespace) -> None:
    """A redundancy of 2 sent to one serving node and one that is down: one delivery comes, the wait times out,
    and the error is followed by each node's own account (the serving node's delivery, the down node unreachable)."""
    owner = stack.delegate_consumer.address
    write_sub_files(tmp_path, owner, **{'"frequency": 2,': '"frequency": 1,'})
    now = int(stack.w3.eth.get_block("latest")["timestamp"])
    down = f"http://127.0.0.1:{free_port()}"
    args = ["sub", "--rpc-url", stack.rpc_url, "--address", stack.deployment.coordinator, "--expiry", str(now + 600)]
    files = ["--key", "key-file.txt", "--params", "params.json", "--input", "input.json"]
    result = kit(*args, *files, "--url", stack.node_url, "--url", down, "--nonce", "5151", "--wait", "--timeout", "8")
    assert result.returncode == 1, result.stdout + result.stderr
    subscription_id = wait_created(stack, owner, 5151)
    delivery = result.stdout.splitlines()[-1]
    assert delivery.startswith("Delivery 1/2: interval 1 node "), result.stdout
    tx = delivery.split(" tx ", 1)[1].split(":", 1)[0]
    warning, error, *reasons = result.stderr.splitlines()
    assert warning.startswith(f"Warning: {down} did not take it: node not reachable"), result.stderr
    assert error == f"Error: subscription {subscription_id}: 1 of 2 deliveries after 8s", result.stderr
    served, unreachable = reasons
    assert served.startswith(f"  node {stack.node_url}: subscription {subscription_id} "), result.stderr
    assert served.endswith(f", interval 1 delivered tx {tx}"), result.stderr
    assert unreachable.startswith(f"  node {down}: could not be asked (ConnectError"), result.stderr


def test_cli_sub_wait_counts_only_the_intervals_open_at_creation(
    kit: KitRunner, tmp_path: Path, stack: SimpleNamespace
) -> None:
    """An `active_at` more than a period in the past: interval 1 closed before the subscription existed, so `--wait`
    says so and waits for interval 2 alone (one node: redundancy 1), instead of timing out on one never due. (The
    stack automines: no block, no later interval; the creation delivers interval 2 in its own transaction.)"""
    owner = stack.delegate_consumer.address
    # Automining, the chain's clock stands still between blocks: its next block takes the wall clock's time.
    now = max(int(stack.w3.eth.get_block("latest")["timestamp"]), int(time.time()))
    changes = {'"active_at": 0,': f'"active_at": {now - 12},', '"period": 3,': '"period": 10,'}
    write_sub_files(tmp_path, owner, **changes, **{'"redundancy": 2,': '"redundancy": 1,'})
    args = ["sub", "--rpc-url", stack.rpc_url, "--address", stack.deployment.coordinator, "--expiry", str(now + 600)]
    files = ["--key", "key-file.txt", "--params", "params.json", "--input", "input.json", "--url", stack.node_url]
    result = kit(*args, *files, "--nonce", "6060", "--wait", "--timeout", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    subscription_id = wait_created(stack, owner, 6060)
    intervals = deliverable_intervals(stack.w3, stack.coordinator, subscription_id)
    assert intervals == range(2, 3), intervals
    lines = result.stdout.splitlines()
    assert f"Intervals 1 to 1 closed before subscription {subscription_id} existed" in lines
    assert [line.split(" node ")[0] for line in lines if line.startswith("Delivery ")] == ["Delivery 1/1: interval 2"]


def test_cli_sub_wrong_signer_is_refused(kit: KitRunner, tmp_path: Path, stack: SimpleNamespace) -> None:
    now = int(stack.w3.eth.get_block("latest")["timestamp"])
    write_sub_files(tmp_path, stack.delegate_consumer.address, **{'"active_at": 0,': f'"active_at": {now},'})
    (tmp_path / "key-file.txt").write_text(dev_key(7))
    args = ["sub", "--rpc-url", stack.rpc_url, "--address", stack.deployment.coordinator, "--expiry", str(now + 600)]
    result = kit(
        *args, "--key", "key-file.txt", "--params", "params.json", "--input", "input.json", "--url", stack.node_url
    )
    line = assert_one_line_error(result, "Signer mismatch")
    assert bytes(dev_account(7).key).hex() not in result.stderr + line


def test_create_delegated_subscription_script(stack: SimpleNamespace) -> None:
    result = run_script(
        "create_delegated_subscription.py", "--url", stack.node_url, "--wait-delivery", "--nonce", "777", stack=stack
    )
    owner = stack.delegate_consumer.address
    assert (result["owner"], result["nonce"]) == (owner, 777)
    assert result["subscription_id"] == wait_created(stack, owner, 777)
    assert result["answer"] == fake_models.generate(SKY)
    assert wait_delegated_output(stack, result["subscription_id"]) == result["answer"]
    receipt_ok(stack.w3, result["delivery_tx"])


@pytest.mark.parametrize("script", ["request_callback.py", "request_hf.py", "create_delegated_subscription.py"])
def test_scripts_have_help(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(project_root() / "scripts" / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--rpc-url" in done.stdout and "usage:" in done.stdout


async def test_official_positional_delegated_form(stack: SimpleNamespace) -> None:
    """infernet-client 1.4's order: (subscription, rpc, coordinator_address, expiry, nonce, private_key, data)."""
    from infernet_kit.client.chain_utils import RPC, Subscription
    from infernet_kit.client.node import NodeClient

    owner = stack.delegate_consumer.address
    now = max(int(stack.w3.eth.get_block("latest")["timestamp"]), int(time.time()))
    sub = Subscription(owner, now, 0, 1, 1, [TGI], False, ZERO_ADDRESS, 0, ZERO_ADDRESS, ZERO_ADDRESS)
    async with NodeClient(stack.node_url) as client, RPC(stack.rpc_url) as rpc:
        data = {"text": "official form"}
        await client.request_delegated_subscription(
            sub, rpc, stack.deployment.coordinator, now + 600, 9001, SIGNER_KEY, data
        )
    subscription_id = wait_created(stack, owner, 9001)
    assert wait_delegated_output(stack, subscription_id) == fake_models.generate("official form")
