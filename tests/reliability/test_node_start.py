"""Starting the node: where it listens (`server.host`) and a data dir it cannot write, through real node processes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infernet_kit.processes import free_port, kit_command
from infernet_kit.testing import httpx_calls
from infernet_kit.testing.node_fixtures import NodeFactory, node_container, wait_for_job


def test_host_ipv6_any_listens_on_ipv4_and_ipv6(infernet_node: NodeFactory, echo_container: str) -> None:
    # The fixture waits for /health on 127.0.0.1: the node must take IPv4 clients on "::".
    node = infernet_node({"containers": [node_container("echo", echo_container)], "server": {"host": "::"}})
    for base in (f"http://127.0.0.1:{node.port}", f"http://[::1]:{node.port}"):
        assert httpx_calls.get(f"{base}/health", timeout=5).json() == {"status": "healthy"}
        job_id = httpx_calls.post(f"{base}/api/jobs", json={"containers": ["echo"], "data": {}}, timeout=5).json()["id"]
        assert wait_for_job(base, job_id)["status"] == "success"
        # An IPv4 client is seen as its IPv4 address (not ::ffff:127.0.0.1), so it is local for /api/status.
        report = {"id": f"local-{base[-6:]}", "status": "success", "containers": ["echo"], "result": {}}
        assert httpx_calls.put(f"{base}/api/status", json=report, timeout=5).status_code == 200
    assert httpx_calls.get(f"{node.url}/info", timeout=5).json()["pending"] == {"offchain": 0, "onchain": 0}


def run_node(config_dir: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    config = config_dir / "config.json"
    config.write_text(json.dumps({"server": {"port": free_port(), "host": "127.0.0.1"}}))
    command = kit_command("node", "--config", str(config), "--data-dir", str(data_dir))
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs mount (the tests run as root, for whom chmod does not stop a write)."""
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount_point)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        with pytest.raises(OSError):  # the premise: nobody, root included, can write there
            (mount_point / "probe").write_text("x")
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def assert_stopped_naming(result: subprocess.CompletedProcess[str], path: Path) -> None:
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert f"data dir {path}: cannot write there" in errors[0]
    assert "unable to open database file" not in result.stderr


def test_read_only_data_dir_stops_the_node_naming_it(tmp_path: Path, read_only_dir: Path) -> None:
    for data_dir in (read_only_dir, read_only_dir / "data"):  # existing, and to be created
        result = run_node(tmp_path, data_dir)
        assert_stopped_naming(result, data_dir)
        assert "Read-only file system" in result.stderr


def test_data_dir_under_a_file_stops_the_node_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    data_dir = tmp_path / "file" / "data"
    assert_stopped_naming(run_node(tmp_path, data_dir), data_dir)
