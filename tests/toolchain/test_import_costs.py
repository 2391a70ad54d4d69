"""What a node process imports at start: the suite starts about a hundred nodes, and users start them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Libraries an off-chain node never uses, with what each costs at every start (CPU, 2-core test machine).
NOT_AT_START = {
    # httpx brings its command line's libraries (rich, pygments, click) with it, ~0.14 s: the node only needs it
    # to probe a command container it started (imported there, when used).
    "httpx": "node/containers.py",
    "rich": "httpx's command line",
    "pygments": "httpx's command line",
    # ~0.1-0.15 s (its connector builds SSL contexts at import): only `https://` containers, streams and
    # `/resources` go through it, and a chain node's RPC.
    "aiohttp": "node/orchestrator.py, node/chain/",
    # ~0.15 s with its type grammar (parsimonious, regex); eth-account another ~0.1 s, eth-utils ~0.06 s: only
    # what encodes, signs or checksums imports them (chain/encoding.py, a config's addresses).
    "eth_abi": "chain/encoding.py",
    "eth_account": "chain/encoding.py",
    "eth_utils": "chain/encoding.py, node/config.py",
}

# A node started as `infernet-kit node` does (its command's module, its config read, its parts started and its
# API built), then stopped; which of `NOT_AT_START` got loaded meanwhile.
NODE_START = f"""
import asyncio, sys
from pathlib import Path
import infernet_kit.cli
from infernet_kit.node.app import Node
from infernet_kit.node.config import NodeConfig

async def main() -> None:
    config = NodeConfig.model_validate(
        {{"containers": [{{"id": "echo", "image": "x/echo", "url": "http://127.0.0.1:9", "external": True}}]}}
    )
    node = Node(config, Path(sys.argv[1]))
    api = await node.start()
    api.app()
    await node.stop()
    print("loaded:", sorted(name for name in {sorted(NOT_AT_START)!r} if name in sys.modules))

asyncio.run(main())
"""


def test_an_off_chain_node_starts_without_what_only_some_paths_use(tmp_path: Path) -> None:
    """An off-chain node's start loads none of `NOT_AT_START`; each is imported where it is used."""
    command = [sys.executable, "-c", NODE_START, str(tmp_path / "data")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1:] == ["loaded: []"], done.stdout + done.stderr


# What the CLI's client commands (`job`, `results`, ...) import to talk to a node.
CLIENT_IMPORTS = """
import sys
import infernet_kit.cli
import infernet_kit.client.node
print("loaded:", sorted(name for name in ("click", "rich", "pygments") if name in sys.modules))
"""


def test_the_client_commands_load_httpx_without_its_command_line() -> None:
    """httpx's own command line (click, rich, pygments; ~0.09 s) stays unloaded in every process of the kit that
    uses httpx: compat/deferred_httpx_cli.py."""
    done = subprocess.run([sys.executable, "-c", CLIENT_IMPORTS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1:] == ["loaded: []"], done.stdout + done.stderr
