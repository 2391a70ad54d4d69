"""The console library: contracts log with `console.log` as the seeds write it, and the lines reach anvil's log
(the stack's log) and forge's test output, decoded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from eth_abi.abi import encode

from infernet_kit.chain.accounts import USER, dev_key
from infernet_kit.chain.compiler import compile_file, compile_sources
from infernet_kit.chain.deploy import Deployment, deploy_artifact
from infernet_kit.chain.transactions import connect, transact
from infernet_kit.devstack.anvil import Anvil
from infernet_kit.paths import foundry_tool, project_root
from infernet_kit.polling import wait_until

SEED_CONSUMER = Path(__file__).with_name("Seed000Consumer.sol")


def _wait_for_log_line(anvil: Anvil, line: str) -> str:
    """anvil's log once it holds `line` (anvil writes a transaction's console lines as it mines it)."""
    wait_until(lambda: line in anvil.process.log_path.read_text(), timeout=10, what=f"{line!r} in anvil's log")
    return anvil.process.log_path.read_text()


def test_seed_000_consumer_compiles_with_one_import_and_its_logs_reach_anvils_log(
    anvil: Anvil, infernet_deployment: Deployment
) -> None:
    """Seed 000's `MyOnchainSubscription` as printed, plus `import {console} from "forge-std/console.sol";`."""
    artifact = compile_file(SEED_CONSUMER)["MyOnchainSubscription"]
    w3 = connect(anvil.url, dev_key(USER))
    consumer = deploy_artifact(w3, artifact, infernet_deployment.registry)

    transact(consumer.functions.chatWithLLM(encode(["string"], ["Is the sky blue during a clear day?"])))
    assert "Requested compute" in _wait_for_log_line(anvil, "Requested compute")

    # The seed's `receiveCompute` is public: called directly, it logs a string and the bytes.
    transact(consumer.functions.receiveCompute(b"\x01" * 32, bytes.fromhex("c0ffee0123"), b""))
    log = _wait_for_log_line(anvil, "0xc0ffee0123")
    assert log.index("Received output!") < log.index("0xc0ffee0123")


USUAL_IMPORTS = [
    'import {console} from "forge-std/console.sol";',
    'import {console2 as console} from "forge-std/console2.sol";',
    'import "hardhat/console.sol";',
]


def test_every_usual_import_name_compiles() -> None:
    """One contract per import line, compiled together (one compiler run, not one per line)."""
    sources = {
        f"Logs{index}.sol": f"""// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
{import_line}
contract Logs{index} {{
    function go(bytes calldata data) external pure {{
        console.log("value", uint256(7));
        console.logBytes(data);
    }}
}}
"""
        for index, import_line in enumerate(USUAL_IMPORTS)
    }
    artifacts = compile_sources(sources)
    for index, import_line in enumerate(USUAL_IMPORTS):
        assert artifacts[f"Logs{index}"].bytecode, import_line


def test_forge_test_prints_the_console_lines(tmp_path: Path) -> None:
    """forge decodes each standard signature; a wrong selector would print nothing or garbage.

    Only the console library and its test are compiled, into a directory of the test's own: the project's
    build (and the other tests' forge runs) are left alone, and the build takes seconds, not a minute."""
    only_the_console = {
        "FOUNDRY_PROFILE": "tests",
        "FOUNDRY_SRC": "contracts/lib/console",
        "FOUNDRY_OUT": str(tmp_path / "out"),
        "FOUNDRY_CACHE_PATH": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [str(foundry_tool("forge")), "test", "--match-path", "contracts/test/Console.t.sol", "-vv"],
        cwd=project_root(),
        env={**os.environ, **only_the_console},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in (
        "Requested compute",
        "answer 42",
        "0xc0ffee",
        "0x0000000000000000000000000000000000000000000000000000000000000007",
        "0x000000000000000000000000000000000000bEEF",
        "flags true 0x000000000000000000000000000000000000bEEF",
        "-3",
        "console2 2",
        "hardhat console",
        "from a state-changing function",
    ):
        assert line in result.stdout, f"{line!r} missing from forge's output:\n{result.stdout}"
