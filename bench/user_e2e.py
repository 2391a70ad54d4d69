"""A user's end-to-end pytest test of one callback, timed as pytest times it.

The project is what `infernet-kit init` writes (this checkout's kit), built by forge. Its pytest runs `--runs`
times; each run prints the e2e test's call phase (deploy the consumer, send the request, wait for the node's
callback: the test's body once the run's stack is up) and the stack's start (the fixtures' setup), against the
baseline in the same run: a test in the same project, on the same stack, that sends a plain transfer and waits
for its receipt (the floor under any test that transacts). Goal: the e2e test's call under 1 s.

    python bench/user_e2e.py [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from infernet_kit.paths import foundry_tool, state_dir
from infernet_kit.processes import kit_command

GOAL_SECONDS = 1.0
E2E_TEST = "tests/test_e2e.py::test_the_node_answers_my_consumer"
FLOOR_TEST = "tests/test_floor.py::test_a_plain_transfer"
FLOOR = '''"""The bench's baseline: a plain transfer on the run's chain, send -> receipt."""

from infernet_kit.chain.accounts import USER, dev_key
from infernet_kit.chain.transactions import connect
from infernet_kit.devstack.anvil import Anvil


def test_a_plain_transfer(anvil: Anvil) -> None:
    w3 = connect(anvil.url, dev_key(USER))
    tx = w3.eth.send_transaction({"to": "0x000000000000000000000000000000000000dEaD", "value": 1})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
'''
DURATION = re.compile(r"^([0-9.]+)s (setup|call)\s+(\S+)$", re.MULTILINE)


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def project() -> Path:
    """A scaffolded project with the baseline test beside the scaffold's, built."""
    root = Path(tempfile.mkdtemp(prefix="bench-user-e2e-", dir=state_dir())) / "my-project"
    _run(kit_command("init", str(root)), root.parent)
    (root / "tests" / "test_floor.py").write_text(FLOOR)
    _run([str(foundry_tool("forge")), "build"], root)
    return root


def timings(root: Path) -> dict[tuple[str, str], float]:
    """One pytest run of the project: seconds by (test, phase)."""
    out = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", "-vv"], root)
    return {(test, phase): float(seconds) for seconds, phase, test in DURATION.findall(out)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="pytest runs of the project")
    args = parser.parse_args()
    root = project()
    print(f"user project: {root}")
    calls: list[float] = []
    for run in range(1, args.runs + 1):
        seen = timings(root)
        setup = max(seen.get((E2E_TEST, "setup"), 0.0), seen.get((FLOOR_TEST, "setup"), 0.0))
        call, floor = seen[(E2E_TEST, "call")], seen[(FLOOR_TEST, "call")]
        calls.append(call)
        print(
            f"  run {run}: e2e test call {call:6.3f} s   baseline (plain transfer) {floor:6.3f} s   "
            f"stack start (setup) {setup:5.1f} s"
        )
    p50 = statistics.median(calls)
    met = p50 < GOAL_SECONDS
    print(
        f"  goal: one callback's e2e test under {GOAL_SECONDS:.0f} s once the stack is up: "
        f"{'met' if met else 'MISSED'} (p50 {p50:.3f} s)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
