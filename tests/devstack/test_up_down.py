"""`infernet-kit up` leaves a working stack running and says where it is; `down` stops all of it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from infernet_kit.processes import free_port, kit_command, port_is_open


def _kit(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kit_command(*args), env=env, capture_output=True, text=True, timeout=timeout)


def test_up_then_down(tmp_path: Path) -> None:
    env = {**os.environ, "INFERNET_KIT_STATE_DIR": str(tmp_path)}
    rpc_port, node_port = free_port(), free_port()
    up = _kit("up", f"--rpc-port={rpc_port}", f"--node-port={node_port}", "--nodes=1", "--block-time=0", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"http://127.0.0.1:{node_port}" in up.stdout
        state = json.loads((tmp_path / "stack.json").read_text())
        assert state["rpc_url"] == f"http://127.0.0.1:{rpc_port}"
        assert state["deployment"]["registry"] == "0x663F3ad617193148711d28f5334eE4Ed07016602"
        assert httpx.get(f"http://127.0.0.1:{node_port}/health").json() == {"status": "healthy"}
        info = httpx.get(f"http://127.0.0.1:{node_port}/info").json()
        assert info["chain"]["enabled"] is True and info["chain"]["address"] == state["nodes"][0]["address"]

        again = _kit("up", f"--rpc-port={free_port()}", f"--node-port={free_port()}", env=env)
        assert again.returncode == 1 and "already up" in again.stdout
    finally:
        down = _kit("down", env=env)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not port_is_open(rpc_port) and not port_is_open(node_port)
    assert not (tmp_path / "stack.json").exists()
    assert "no stack is running" in _kit("down", env=env).stdout


@pytest.mark.parametrize("taken", ["rpc", "node"])
def test_up_refuses_a_taken_port(tmp_path: Path, taken: str) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = {"rpc": port, "node": free_port()} if taken == "rpc" else {"rpc": free_port(), "node": port}
        env = {**os.environ, "INFERNET_KIT_STATE_DIR": str(tmp_path)}
        result = _kit("up", f"--rpc-port={ports['rpc']}", f"--node-port={ports['node']}", "--nodes=1", env=env)
    assert result.returncode == 1
    assert f"port(s) {port} already in use" in result.stdout
