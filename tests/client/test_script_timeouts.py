"""A script whose callback does not come says so, not that the RPC is unreachable (the chain answered)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from infernet_kit.paths import project_root


def test_request_hf_without_a_node_reports_the_missing_callback(private_chain: tuple[Any, Any], tmp_path: Path) -> None:
    # A chain of its own: a node another test left serving the session chain would answer the request.
    anvil, deployment = private_chain
    deployment.save(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            str(project_root() / "scripts" / "request_hf.py"),
            "--rpc-url",
            anvil.url,
            "--task",
            "text_generation",
            "--timeout",
            "2",
        ],
        env={"INFERNET_DEPLOYMENTS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    first, *asked = done.stderr.splitlines()
    assert first.startswith("Error: subscription ") and "0 of 1 deliveries after 2s" in first, done.stderr
    assert "RPC not reachable" not in done.stderr
    # then what each node it could ask said: here none runs at the default URL, and the line says so
    assert len(asked) == 1 and "127.0.0.1:4000" in asked[0], done.stderr
