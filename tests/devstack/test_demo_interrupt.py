"""Ctrl-C in the middle of `infernet-kit demo` leaves no process and no port behind."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

from infernet_kit.polling import wait_until
from infernet_kit.processes import kit_command, port_is_open

URL = re.compile(r"http://127\.0\.0\.1:(\d+)")
DISPATCHED = re.compile(r"judged block=\d+ due=[1-9]")


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue  # exited while we looked
    return found


def _dispatched(run_dir: Path) -> bool:
    return any(DISPATCHED.search(log.read_text(errors="replace")) for log in run_dir.glob("**/*.log"))


def test_ctrl_c_mid_demo_stops_everything() -> None:
    demo = subprocess.Popen(kit_command("demo"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert demo.stdout is not None
    ports: set[int] = set()
    run_dir = ""
    deadline = time.monotonic() + 120
    for line in demo.stdout:
        ports.update(int(port) for port in URL.findall(line))
        if line.startswith("logs in "):
            run_dir = line.removeprefix("logs in ").strip()
        if "on-chain TGI callback" in line:  # the stack is up and the flows are under way: interrupt now
            break
        assert time.monotonic() < deadline, "the demo did not start its stack in time"
    assert run_dir, "the demo did not say where its logs are"
    assert len(ports) >= 6, f"expected anvil, backend, two services and two nodes, saw ports {ports}"
    assert _processes_mentioning(run_dir), "the nodes should be running before the interrupt"

    # The flow has sent its request and waits for the callback once a node judged a block with a due interval.
    wait_until(lambda: _dispatched(Path(run_dir)), timeout=30, what="a node to take up the demo's on-chain request")
    interrupted_at = time.monotonic()
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)

    assert time.monotonic() - interrupted_at < 20, "stopping took as long as a flow's timeout"
    assert demo.returncode == 130, rest
    assert "interrupted" in rest
    assert [port for port in ports if port_is_open(port)] == []
    assert _processes_mentioning(run_dir) == []
