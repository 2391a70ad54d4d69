"""`make test` must fail when forge does: npm's `forge` launcher exits 0 on failing tests, so the Makefile calls
the platform binary. These tests point the Makefile's forge steps at a tiny throwaway project and watch the exit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infernet_kit.paths import foundry_tool, project_root, solc_wrapper

TEST_SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import {Test} from "kit-test/Test.sol";

contract GasTest is Test {
    uint256 internal stored;

    function test_Gas_Store() public {
        stored = 42;
        assertEq(stored, %(expected)s, "stored value");
    }
}
"""


def _project(root: Path, *, expected: int) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "test").mkdir()
    (root / "foundry.toml").write_text(
        "[profile.default]\n"
        'src = "src"\ntest = "test"\nout = "out"\nlibs = []\noffline = true\n'
        f'solc = "{solc_wrapper()}"\n'
        f'remappings = ["kit-test/={project_root() / "contracts" / "test" / "lib"}/"]\n'
    )
    (root / "test" / "Store.t.sol").write_text(TEST_SOURCE % {"expected": expected})
    return root


def _make(target: str, project: Path, *extra_flags: str) -> subprocess.CompletedProcess[str]:
    flags = " ".join(["--root", str(project), *extra_flags])
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(project_root()), target, f"FORGE_FLAGS={flags}"],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(("expected", "passes"), [(42, True), (7, False)])
def test_forge_test_step_exit_follows_the_tests(tmp_path: Path, expected: int, passes: bool) -> None:
    result = _make("forge-test", _project(tmp_path, expected=expected))
    output = result.stdout + result.stderr
    if passes:
        assert result.returncode == 0, output
        assert "[PASS] test_Gas_Store()" in output
    else:
        assert result.returncode != 0, output
        assert "[FAIL" in output and "stored value: 42 != 7" in output


def test_gas_check_fails_on_a_changed_figure(tmp_path: Path) -> None:
    project = _project(tmp_path, expected=42)
    gas_file = project / ".gas-snapshot"  # forge reads and writes it relative to the working directory
    recorded = subprocess.run(
        [str(foundry_tool("forge")), "snapshot", "--mc", "GasTest", "--root", str(project), "--snap", str(gas_file)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    line = gas_file.read_text().strip()
    assert line.startswith("GasTest:test_Gas_Store() (gas: ")
    assert _make("gas-check", project, "--snap", str(gas_file)).returncode == 0

    figure = int(line.rsplit(" ", 1)[1].rstrip(")"))
    gas_file.write_text(line.replace(f"gas: {figure})", f"gas: {figure - 1000})") + "\n")
    result = _make("gas-check", project, "--snap", str(gas_file))
    assert result.returncode != 0, result.stdout + result.stderr
