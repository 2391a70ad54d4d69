"""`infernet-kit up` leaves a working stack running and says where it is; `down` stops all of it. Tests never use
the README's default ports or state dir (a developer's own stack may be up on them)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from infernet_kit.chain.accounts import USER, dev_key
from infernet_kit.chain.compiler import compile_sources
from infernet_kit.chain.deploy import deploy_artifact
from infernet_kit.chain.transactions import connect, transact
from infernet_kit.paths import project_root
from infernet_kit.polling import wait_until
from infernet_kit.processes import free_port, kit_command, port_is_open
from infernet_kit.testing import httpx_calls


def _kit(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kit_command(*args), env=env, capture_output=True, text=True, timeout=timeout)


PORT_NAMES = ("rpc", "node", "tgi", "hf", "backend")


def _ports() -> dict[str, int]:
    return {name: free_port() for name in PORT_NAMES}


def _port_flags(ports: dict[str, int]) -> list[str]:
    return [f"--{name}-port={port}" for name, port in ports.items()]


def _listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at `port` (from /proc: what the kernel says, not the config)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


LOOPBACK = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


def test_up_then_down(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ}
    env.pop("INFERNET_KIT_STATE_DIR", None)
    ports = _ports()
    up = _kit("up", *_port_flags(ports), f"--state-dir={state}", "--nodes=1", "--block-time=0", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        for name in ("node", "tgi", "hf", "backend"):
            assert f"http://127.0.0.1:{ports[name]}" in up.stdout, name
        record = json.loads((state / "stack.json").read_text())
        assert record["rpc_url"] == f"http://127.0.0.1:{ports['rpc']}"
        assert record["backend_url"] == f"http://127.0.0.1:{ports['backend']}"
        signing = record["services"].pop("signer_inference_service")  # the proof-signing example, on a free port
        assert signing.startswith("http://127.0.0.1:")
        assert record["services"] == {
            "tgi_client_inference_service": f"http://127.0.0.1:{ports['tgi']}",
            "hf_inference_client_service": f"http://127.0.0.1:{ports['hf']}",
        }
        assert record["deployment"]["registry"] == "0x663F3ad617193148711d28f5334eE4Ed07016602"
        assert httpx_calls.get(f"http://127.0.0.1:{ports['node']}/health").json() == {"status": "healthy"}
        info = httpx_calls.get(f"http://127.0.0.1:{ports['node']}/info").json()
        assert info["chain"]["enabled"] is True and info["chain"]["address"] == record["nodes"][0]["address"]
        dashboard = f"http://127.0.0.1:{ports['node']}/dashboard"
        assert dashboard in up.stdout and "/dashboard/dashboard.js" in httpx_calls.get(dashboard).text
        for name, port in ports.items():
            assert _listening_addresses(port) == {LOOPBACK}, f"{name} listens on {_listening_addresses(port)}"

        _console_lines_land_in_the_stacks_anvil_log(record["rpc_url"], state / "up" / "anvil.log")

        again = _kit("up", *_port_flags(_ports()), f"--state-dir={state}", env=env)
        assert again.returncode == 1 and "already up" in again.stdout
        _deploy_refuses_to_replace_the_running_stacks_file(ports["rpc"], {**env, "INFERNET_KIT_STATE_DIR": str(state)})
    finally:
        down = _kit("down", f"--state-dir={state}", env=env)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not any(port_is_open(port) for port in ports.values())
    assert not (state / "stack.json").exists()
    assert "no stack is running" in _kit("down", f"--state-dir={state}", env=env).stdout


CONSOLE_SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
import {console} from "forge-std/console.sol";
contract Hello {
    function hello(uint256 n) external { console.log("hello from the stack", n); }
}
"""


def _console_lines_land_in_the_stacks_anvil_log(rpc_url: str, log: Path) -> None:
    hello = compile_sources({"Hello.sol": CONSOLE_SOURCE})["Hello"]
    contract = deploy_artifact(connect(rpc_url, dev_key(USER)), hello)
    transact(contract.functions.hello(42))
    wait_until(lambda: "hello from the stack 42" in log.read_text(), timeout=10, what="the console line in anvil.log")


def _deploy_refuses_to_replace_the_running_stacks_file(rpc_port: int, env: dict[str, str]) -> None:
    deployments = project_root() / "deployments" / "31337.json"
    before = deployments.read_text()
    rpc = f"--rpc-url=http://127.0.0.1:{rpc_port}"
    for command in (kit_command("deploy", rpc), [sys.executable, "scripts/deploy.py", rpc]):
        refused = subprocess.run(command, env=env, cwd=project_root(), capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "belongs to the stack running at" in refused.stderr and "--force" in refused.stderr
        assert deployments.read_text() == before  # nothing replaced, nothing deployed
    forced = _kit("deploy", rpc, "--force", "--no-examples", env=env)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert json.loads(deployments.read_text())["registry"] != json.loads(before)["registry"]
    deployments.write_text(before)  # the stack's own file back, for the nodes' sake and the user's


def test_up_refuses_taken_ports_and_names_each(tmp_path: Path) -> None:
    """Every port `up` would listen on is checked first: with all five taken, the one error line names each."""
    with contextlib.ExitStack() as held:
        ports = {}
        for name in PORT_NAMES:
            busy = held.enter_context(socket.socket())
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            ports[name] = busy.getsockname()[1]
        env = {**os.environ, "INFERNET_KIT_STATE_DIR": str(tmp_path)}
        result = _kit("up", *_port_flags(ports), "--nodes=1", env=env)
    assert result.returncode == 1
    named = re.search(r"port\(s\) ([\d, ]+) already in use", result.stdout)
    assert named and sorted(map(int, named[1].split(", "))) == sorted(ports.values()), result.stdout
    assert not (tmp_path / "stack.json").exists()


def test_up_defaults_are_the_readmes_ports() -> None:
    """`up --help` shows the ports the README's curl lines use."""
    result = _kit("up", "--help", env={**os.environ, "COLUMNS": "200"})
    text = " ".join(result.stdout.split())
    for flag, default in (
        ("--rpc-port", 8545),
        ("--node-port", 4000),
        ("--tgi-port", 3000),
        ("--hf-port", 3001),
        ("--backend-port", 8080),
    ):
        assert flag in text and f"[default: {default}]" in text.split(flag, 1)[1][:200], flag
    assert "[default: 127.0.0.1]" in text.split("--host", 1)[1][:200]
