"""Every code block of the three seed pages, read from /work/shared/seeds at test time, run as printed but for
the placeholders a user fills in (`0x...`, the token, hostnames and ports), against `infernet-kit up` (two nodes).

Blocks are classified (Python, CLI, cURL, JSON, Solidity); each kind has one runner that checks the outcome
against the dev backend's deterministic answers (`devstack.fake_models`). Blocks that cannot run here are listed
in `NOT_RUN` with the reason; a block that is neither run nor listed fails the coverage test.
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import shlex
import subprocess
import sys
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_abi.abi import decode

from infernet_kit.chain.accounts import DEPLOYER, USER, dev_account, dev_key
from infernet_kit.chain.artifacts import load_artifact
from infernet_kit.chain.compiler import compile_sources
from infernet_kit.chain.encoding import ZERO_ADDRESS, container_id, delegate_key
from infernet_kit.chain.transactions import connect, transact
from infernet_kit.client.onchain import deliverable_intervals
from infernet_kit.config import parse_json
from infernet_kit.devstack import fake_models
from infernet_kit.node.config import parse_config
from infernet_kit.paths import project_root
from infernet_kit.polling import wait_until
from infernet_kit.processes import free_port, kit_command
from infernet_kit.protocol import hf, tgi
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.snippets import run_python_snippet

SEEDS = next((d for d in (project_root().parent / "shared" / "seeds", Path("/work/shared/seeds")) if d.is_dir()), None)
TGI, HF = tgi.CONTAINER_ID, hf.CONTAINER_ID
# Placeholders of the seeds a user replaces with their own values (the stack's are filled in per block).
OWNER_PLACEHOLDER = "0x00Bd138aBD7...................."
SEED_EXPIRY = "1713376164"
# What `up` (and seed 000's config) asks the TGI service for.
TGI_MAX_NEW_TOKENS = json.loads(tgi.dev_env("http://backend")[tgi.KW_ENV])["max_new_tokens"]
# The one edit that is not a placeholder: both delegated Python examples lack a comma after `rpc=RPC(...)`.
MISSING_COMMA = 'rpc=RPC("http://127.0.0.1:8545")\n'


@dataclass(frozen=True)
class Block:
    page: str  # the seed file's number: 000, 001, 002
    index: int
    lang: str
    text: str
    before: str  # the prose right before the block (says which file a JSON block is)

    @property
    def id(self) -> str:
        return f"{self.page}-{self.index:02d}-{self.kind}"

    @property
    def kind(self) -> str:
        """python, cli, curl, json, solidity (from the fence's language and the first word)."""
        first = next((line for line in self.text.splitlines() if line.strip() and not line.startswith("#")), "")
        if self.lang == "bash":
            return "curl" if first.startswith("curl ") else "cli"
        return self.lang


def _blocks(path: Path) -> list[Block]:
    """The fenced blocks of a page, dedented (the tabbed examples are indented by four spaces)."""
    text = path.read_text()
    found = []
    last_end = 0
    for match in re.finditer(r"^( *)```(\w*)\n(.*?)^\1```", text, re.MULTILINE | re.DOTALL):
        indent, lang, body = match.group(1), match.group(2), match.group(3)
        lines = [line.removeprefix(indent) for line in body.splitlines()]
        before = text[last_end : match.start()].strip().splitlines()
        found.append(Block(path.name[:3], len(found), lang, "\n".join(lines) + "\n", before[-1] if before else ""))
        last_end = match.end()
    return found


PAGES = sorted(SEEDS.glob("*.txt")) if SEEDS else []
BLOCKS = [block for page in PAGES for block in _blocks(page)]
BY_ID = {block.id: block for block in BLOCKS}

# Blocks not run here, and why. Everything else is run by `test_block`.
NOT_RUN = {
    "001-09-solidity": "MyContract (CallbackConsumer) is a fragment: no constructor, `containerId` and "
    "`generatedTaskId` undefined, an `infernet-sdk/contracts/` import path no SDK version has; seed 001's "
    "callback flow is run through HFCallbackConsumer (tests/client/test_onchain.py::test_request_hf_script_every_task)",
    "001-10-solidity": "MyContract calling `container.requestCompute` is a fragment: `container` is never declared "
    "and ContainerLookup has no requestCompute",
}


def test_the_pages_and_their_blocks_are_found() -> None:
    if not PAGES:
        pytest.skip("the seed documents are not beside this checkout")
    assert [page.name[:3] for page in PAGES] == ["000", "001", "002"]
    kinds = {page.name[:3]: sorted({b.kind for b in BLOCKS if b.page == page.name[:3]}) for page in PAGES}
    assert kinds["000"] == kinds["001"] == ["cli", "curl", "json", "python", "solidity"]
    # Page 002 is a web page's text: its code lost its fences and parts of its content (empty URLs, a curl
    # without its URL, `--rpc_url` without a value). Its one complete command is run from the page's text.
    assert kinds["002"] == []
    lost = PAGES[2].read_text()
    for fragment in ('NodeClient("")', "curl -X POST \\\n    -H", "infernet-client sub --rpc_url --address"):
        assert fragment in lost, fragment
    assert set(NOT_RUN) <= set(BY_ID)


# -- the stack: `infernet-kit up`, two nodes ---------------------------------------------------------------------


def _two_free_ports() -> int:
    """A port whose next one is free too: `up --node-port=P` puts the second node on P + 1."""
    import socket

    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """`infernet-kit up` with its own state directory (so `sub` finds its nodes as a user's would) and ports."""
    state = tmp_path_factory.mktemp("kit-state")
    env = {**os.environ, "INFERNET_KIT_STATE_DIR": str(state)}
    for name in ("SERVER_URL", "RPC_URL", "PRIVATE_KEY", "ADDRESS"):
        env.pop(name, None)
    up = subprocess.run(
        kit_command(
            "up",
            f"--rpc-port={free_port()}",
            f"--node-port={_two_free_ports()}",
            f"--tgi-port={free_port()}",
            f"--hf-port={free_port()}",
            f"--backend-port={free_port()}",
            "--nodes=2",
            "--block-time=1",
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        info = json.loads((state / "stack.json").read_text())
        w3 = connect(info["rpc_url"])
        deployment = info["deployment"]
        yield SimpleNamespace(
            env=env,
            rpc_url=info["rpc_url"],
            nodes=[node["url"] for node in info["nodes"]],
            addresses={node["address"] for node in info["nodes"]},
            w3=w3,
            coordinator=w3.eth.contract(address=deployment["coordinator"], abi=load_artifact("EIP712Coordinator").abi),
            consumers=deployment["consumers"],
            registry=deployment["registry"],
        )
    finally:
        subprocess.run(kit_command("down"), env=env, capture_output=True, timeout=120)


def _fill(text: str, stack: SimpleNamespace, **more: str) -> str:
    """The user's values for the seeds' placeholders: the first node for port 4000, anvil for 8545."""
    text = text.replace("http://127.0.0.1:4000", stack.nodes[0]).replace("http://127.0.0.1:8545", stack.rpc_url)
    text = text.replace("http://some-rpc-url.com", stack.rpc_url)
    for old, new in more.items():
        assert old in text, (old, text)
        text = text.replace(old, new)
    return text


def _expected(page: str, data: dict[str, Any]) -> str:
    """The dev backend's answer to a seed's input (TGI on page 000 and 002, HF text generation on 001)."""
    if page == "001":
        model = data.get("model") or hf.DEFAULT_MODELS["text_generation"]
        return fake_models.generate(data["prompt"], model=model)
    return fake_models.generate(data["text"], max_new_tokens=TGI_MAX_NEW_TOKENS)


def _input_after(block: Block, name: str = "input.json") -> Block:
    """The JSON block the page introduces as `name` after `block`."""
    return next(b for b in BLOCKS if b.page == block.page and b.index > block.index and f"`{name}`" in b.before)


def _run_cli(stack: SimpleNamespace, line: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A seed's `infernet-client ...` line, comments and line continuations as printed, run in `cwd`."""
    words = shlex.split(line.replace("\\\n", " "), comments=True)
    assert words[0] == "infernet-client", line
    return subprocess.run(
        [sys.executable, "-m", "infernet_client", *words[1:]],
        cwd=cwd,
        env={**stack.env, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _deliveries(stack: SimpleNamespace, subscription_id: int, count: int, timeout: float = 60) -> list[Any]:
    event = stack.coordinator.events.SubscriptionFulfilled()

    def arrived() -> list[Any] | None:
        logs = event.get_logs(from_block=0, argument_filters={"id": subscription_id})
        return logs if len(logs) >= count else None

    return wait_until(arrived, timeout=timeout, interval=0.3, what=f"{count} deliveries of {subscription_id}")


def _delivered_answers(stack: SimpleNamespace, logs: list[Any]) -> list[tuple[int, str, bytes]]:
    """(interval, node, raw output) of each delivery, decoded from the delivery transactions."""
    from infernet_kit.chain.encoding import unpack_pair

    answers = []
    for log in logs:
        tx = stack.w3.eth.get_transaction(log["transactionHash"])
        _, arguments = stack.coordinator.decode_function_input(tx["input"])
        raw, _processed = unpack_pair(bytes(arguments["output"]))
        answers.append((int(arguments["deliveryInterval"]), str(log["args"]["node"]), raw))
    return answers


def _decode(page: str, raw: bytes) -> str:
    return str(hf.decode_output(hf.HFTaskId.TEXT_GENERATION, raw) if page == "001" else tgi.decode_output(raw))


def _new_delegator(stack: SimpleNamespace) -> str:
    """A fresh DelegateConsumer (signer: the deployer), so that each page's `sub` line, which uses nonce 0 as
    printed, creates its own subscription."""
    w3 = connect(stack.rpc_url, dev_key(USER))
    artifact = load_artifact("DelegateConsumer")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = transact(factory.constructor(stack.registry, dev_account(DEPLOYER).address))
    return str(receipt["contractAddress"])


# -- the runners, one per kind -------------------------------------------------------------------------------------


def _run_json(block: Block) -> None:
    """A config block loads as the node's config; an input or params file parses as the CLI reads it."""
    value = parse_json(block.text, source=block.id)
    if "containers" in value and "log_path" in value:
        config = parse_config(value, source=block.id)
        assert [c.id for c in config.containers] == [TGI if block.page == "000" else HF]
    elif "owner" in value:
        assert (value["active_at"], value["period"], value["frequency"], value["redundancy"]) == (0, 3, 2, 2)
    else:
        assert value.get("text") or value.get("prompt")


def _typed_dict_keys(cls: Any) -> set[str]:
    return set(cls.__required_keys__ | cls.__optional_keys__)


def _run_schema(block: Block) -> bool:
    """A class the page prints (JobRequest, JobResult, ContainerOutput, HFTaskId): the kit's has the same fields."""
    import infernet_client.types as kit_types

    namespace: dict[str, Any] = {
        **{name: getattr(typing, name) for name in ("Any", "Optional", "NotRequired")},
        "TypedDict": typing.TypedDict,
        "IntEnum": IntEnum,
        "JobStatus": kit_types.JobStatus,
        "ContainerOutput": kit_types.ContainerOutput,
    }
    if not block.text.startswith("class "):
        return False
    tree = ast.parse(block.text)
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    if not classes:
        return False
    exec(compile(tree, block.id, "exec"), namespace)
    for name in classes:
        if name == "HFTaskId":
            assert {m.name: m.value for m in namespace[name]} == {m.name: m.value for m in hf.HFTaskId}
        else:
            printed = _typed_dict_keys(namespace[name])
            ours = _typed_dict_keys(getattr(kit_types, name))
            assert printed <= ours, (name, printed - ours)
    return True


async def _run_python_block(block: Block, stack: SimpleNamespace) -> None:
    text = block.text
    if _run_schema(block):
        return
    if "request_delegated_subscription" in text:
        await _run_delegated_python(block, stack)
        return
    if "request_job" in text:
        variables = await run_python_snippet(_fill(text, stack), {})
        await variables["client"].aclose()
        data = ast.literal_eval(re.search(r"request_job\(\s*\"\w+\",\s*(\{.*?\}),\s*\)", text, re.DOTALL)[1])  # type: ignore[index]
        assert variables["result"] == {"output": _expected(block.page, data)}
        return
    if "input_bytes = encode(" in text:
        variables = await run_python_snippet(_with_kit_hf_types(block), {})
        if block.page == "001":
            assert variables["input_bytes"] == hf.encode_input(hf.HFTaskId.TEXT_GENERATION, _SKY)
        else:
            assert variables["input_bytes"] == tgi.encode_input(_SKY)
        return
    if "chatWithLLM(input_bytes)" in text:
        # The user's contract instance: the kit's TGICallbackConsumer has the seed's chatWithLLM(bytes).
        w3 = connect(stack.rpc_url, dev_key(USER))
        consumer = stack.consumers["TGICallbackConsumer"]
        namespace = {
            "w3": w3,
            "contract_address": consumer,
            "contract_abi": load_artifact("TGICallbackConsumer").abi,
            "input_bytes": tgi.encode_input(_SKY),
        }
        variables = await run_python_snippet(text, namespace)
        receipt = w3.eth.wait_for_transaction_receipt(variables["tx_hash"], timeout=60)
        assert receipt["status"] == 1
        from infernet_kit.chain.watch import created_subscription_id

        subscription_id = created_subscription_id(stack.coordinator, receipt)
        [(interval, node, raw)] = _delivered_answers(stack, _deliveries(stack, subscription_id, 1))
        assert (interval, node in stack.addresses) == (1, True)
        assert tgi.decode_output(raw) == _expected("000", {"text": _SKY})
        return
    raise AssertionError(f"{block.id}: no runner for this Python block")


_SKY = "Is the sky blue during a clear day?"


def _with_kit_hf_types(block: Block) -> str:
    """Seed 001 imports HFTaskId from Ritual's infernet_ml, which is not installed here; the kit's has the same
    members (checked by the HFTaskId block). Every other line runs as printed."""
    return block.text.replace(
        "from infernet_ml.utils.hf_types import HFTaskId", "from infernet_kit.protocol.hf import HFTaskId"
    )


async def _run_delegated_python(block: Block, stack: SimpleNamespace) -> None:
    with pytest.raises(SyntaxError):
        compile(block.text, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert MISSING_COMMA in block.text
    owner = stack.consumers["DelegateConsumer"]
    text = _fill(
        block.text.replace(MISSING_COMMA, MISSING_COMMA.replace(")\n", "),\n")),
        stack,
        **{'owner="0x..."': f'owner="{owner}"', 'private_key="0x..."': f'private_key="{dev_key(DEPLOYER)}"'},
    )
    # The names the snippet leaves to the user: `time`, `random`, ZERO_ADDRESS and their config's coordinator.
    namespace = {
        "time": time.time,
        "random": random,
        "ZERO_ADDRESS": ZERO_ADDRESS,
        "global_config": SimpleNamespace(coordinator_address=stack.coordinator.address),
    }
    variables = await run_python_snippet(text, namespace)
    await variables["client"].aclose()
    key = delegate_key(owner, variables["nonce"])
    subscription_id = wait_until(
        lambda: stack.coordinator.functions.delegateCreatedIds(key).call(), timeout=60, what="the subscription"
    )
    [(interval, node, raw)] = _delivered_answers(stack, _deliveries(stack, subscription_id, 1))
    data = ast.literal_eval(re.search(r"data=(\{.*?\}),\n\)", block.text, re.DOTALL)[1])  # type: ignore[index]
    assert (interval, node) == (1, stack_node_address(stack, 0))
    assert _decode(block.page, raw) == _expected(block.page, data)


def stack_node_address(stack: SimpleNamespace, index: int) -> str:
    return str(httpx_calls.get(f"{stack.nodes[index]}/info", timeout=10).json()["chain"]["address"])


# What a user adds to a seed contract that calls `console.log` without importing it.
CONSOLE_IMPORT = 'import {console} from "forge-std/console.sol";'


def _run_solidity(block: Block) -> None:
    """The contract as printed, plus the console import after its last import line, compiled by the kit's
    compiler (foundry.toml's remappings: `infernet-sdk/`, `forge-std/`)."""
    lines = block.text.splitlines()
    after = max(i for i, line in enumerate(lines) if line.startswith("import ")) + 1
    if "console.log" in block.text and "console.sol" not in block.text:
        lines.insert(after, CONSOLE_IMPORT)
    names = re.findall(r"^contract (\w+)", block.text, re.MULTILINE)
    assert names, f"{block.id}: no contract in the block"
    artifacts = compile_sources({f"{names[0]}.sol": "\n".join(lines) + "\n"})
    for name in names:
        assert artifacts[name].bytecode, f"{block.id}: {name} compiled to no bytecode"


def _run_curl(block: Block, stack: SimpleNamespace) -> None:
    line = _fill(block.text, stack)
    words = shlex.split(line.replace("\\\n", " "))
    done = subprocess.run(words, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["id"]
    data = json.loads(words[words.index("-d") + 1])["data"]
    result = wait_until(
        lambda: next(
            (
                r
                for r in httpx_calls.get(f"{stack.nodes[0]}/api/jobs", params={"id": job_id}).json()
                if r["status"] != "running"
            ),
            None,
        ),
        timeout=30,
        what="the job",
    )
    assert result["result"]["output"] == {"output": _expected(block.page, data)}


def _run_cli_block(block: Block, stack: SimpleNamespace, tmp_path: Path) -> None:
    if " sub " in block.text:
        _run_cli_sub(block, stack, tmp_path)
        return
    source = _input_after(block)
    (tmp_path / "input.json").write_text(source.text)
    # The seed assumes a node on port 4000; the user points the client at theirs.
    done = _run_cli(stack, block.text, tmp_path, SERVER_URL=stack.nodes[0])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"output": _expected(block.page, parse_json(source.text, source="input"))}


def _run_cli_sub(block: Block, stack: SimpleNamespace, tmp_path: Path) -> None:
    """The seed's `sub` line, params.json verbatim but the owner: each of its 2 intervals still open once it is
    created (both, unless the machine is slow: `deliverable_intervals`) delivered by both nodes, computed from
    input.json."""
    owner = _new_delegator(stack)
    params, data = _input_after(block, "params.json"), _input_after(block, "input.json")
    (tmp_path / "params.json").write_text(params.text.replace(OWNER_PLACEHOLDER, owner))
    (tmp_path / "input.json").write_text(data.text)
    (tmp_path / "key-file.txt").write_text(dev_key(DEPLOYER) + "\n")
    now = int(stack.w3.eth.get_block("latest")["timestamp"])
    address = "0x..." if "0x... " in block.text else "0x.."
    line = _fill(block.text, stack, **{f"--address {address} ": f"--address {stack.coordinator.address} "})
    line = line.replace(f"--expiry {SEED_EXPIRY}", f"--expiry {now + 600}")
    done = _run_cli(stack, line, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("active_at 0 (instantly active): signing the current chain time ")
    assert lines[-1] == "Success: Subscription created."  # as the seed's comment prints it

    key = delegate_key(owner, 0)
    subscription_id = wait_until(
        lambda: stack.coordinator.functions.delegateCreatedIds(key).call(), timeout=60, what="the subscription"
    )
    stored = stack.coordinator.functions.getSubscription(subscription_id).call()
    assert stored[5] == container_id([TGI if block.page == "000" else HF])
    intervals = deliverable_intervals(stack.w3, stack.coordinator, subscription_id)
    assert intervals, f"subscription {subscription_id} was created after its last interval"
    answers = _delivered_answers(stack, _deliveries(stack, subscription_id, 2 * len(intervals)))
    expected = _expected(block.page, parse_json(data.text, source="input.json"))
    assert sorted((interval, node) for interval, node, _ in answers) == sorted(
        (interval, node) for interval in intervals for node in stack.addresses
    )
    assert [_decode(block.page, raw) for _, _, raw in answers] == [expected] * len(answers)
    consumer = stack.w3.eth.contract(address=owner, abi=load_artifact("DelegateConsumer").abi)
    for interval in intervals:
        (text,) = decode(["string"], consumer.functions.outputs(subscription_id, interval).call())
        assert text == expected

    # Again with the same nonce and another input: nothing is created, and `sub` says so.
    (tmp_path / "input.json").write_text(data.text.replace("Is the sky", "Is the sea"))
    again = _run_cli(stack, line, tmp_path)
    assert again.returncode == 1
    assert f"already exists as subscription {subscription_id}; this input was not used" in again.stderr

    if block.page == "000":
        # A new nonce with --wait: `sub` prints the id, then each delivery decoded (4 on a quiet machine: both
        # intervals by both nodes), from the new input.
        waited = _run_cli(stack, line + " --nonce 1 --wait", tmp_path)
        assert waited.returncode == 0, waited.stderr
        new_id = stack.coordinator.functions.delegateCreatedIds(delegate_key(owner, 1)).call()
        assert f"Subscription id: {new_id}" in waited.stdout.splitlines()
        intervals = deliverable_intervals(stack.w3, stack.coordinator, new_id)
        printed = [line for line in waited.stdout.splitlines() if line.startswith("Delivery ")]
        answer = json.dumps(_expected("000", {"text": _SKY.replace("Is the sky", "Is the sea")}))
        assert sorted(p.split(" tx ")[0].split(": ", 1)[1] for p in printed) == sorted(
            f"interval {interval} node {node}" for interval in intervals for node in stack.addresses
        )
        expected = 2 * len(intervals)
        assert [p.rsplit(": ", 1)[1] for p in printed] == [answer] * expected
        assert [p.split(":")[0] for p in printed] == [f"Delivery {k}/{expected}" for k in range(1, expected + 1)]


def test_page_002_complete_command(stack: SimpleNamespace, tmp_path: Path) -> None:
    """Page 002's only complete example (its code lost its fences): the job line with SERVICE_NAME filled in."""
    if not PAGES:
        pytest.skip("the seed documents are not beside this checkout")
    text = PAGES[2].read_text()
    [line] = [line.strip() for line in text.splitlines() if line.strip().startswith("infernet-client job")]
    prompt = re.search(r'"text": "([^"]+)"\n', text)[1]  # type: ignore[index]
    (tmp_path / "input.json").write_text(json.dumps({"text": prompt}))
    done = _run_cli(stack, line.replace("SERVICE_NAME", TGI), tmp_path, SERVER_URL=stack.nodes[0])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"output": fake_models.generate(prompt, max_new_tokens=TGI_MAX_NEW_TOKENS)}


@pytest.mark.parametrize("block_id", [b.id for b in BLOCKS])
async def test_block(block_id: str, stack: SimpleNamespace, tmp_path: Path) -> None:
    block = BY_ID[block_id]
    if block_id in NOT_RUN:
        pytest.skip(NOT_RUN[block_id])
    if block.kind == "json":
        _run_json(block)
    elif block.kind == "python":
        await _run_python_block(block, stack)
    elif block.kind == "curl":
        _run_curl(block, stack)
    elif block.kind == "cli":
        _run_cli_block(block, stack, tmp_path)
    elif block.kind == "solidity":
        _run_solidity(block)
    else:
        raise AssertionError(f"{block_id}: {block.kind} blocks are neither run nor listed in NOT_RUN")
    # Both nodes are alive and nothing is left in flight once the block's outcome is checked.
    for url in stack.nodes:
        info = wait_until(
            lambda url=url: (
                (i := httpx_calls.get(f"{url}/info", timeout=10).json())["pending"] == {"offchain": 0, "onchain": 0}
                and i
            ),
            timeout=30,
            what="nothing pending on the node",
        )
        assert info["chain"]["enabled"] is True
