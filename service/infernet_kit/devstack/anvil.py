"""A local anvil chain as a managed process, with the few RPC helpers tests and the demo need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web3 import Web3

from infernet_kit.chain.transactions import rpc_provider
from infernet_kit.paths import foundry_tool
from infernet_kit.processes import ManagedProcess, free_port, local_address

LOCAL_CHAIN_ID = 31337


class Anvil:
    """An anvil process (on a loopback port unless `host` says otherwise); `block_time=None` mines a block per
    transaction. Its log file holds what anvil prints, `console.log` lines of contracts included."""

    def __init__(
        self,
        *,
        log_path: Path,
        port: int | None = None,
        block_time: float | None = None,
        chain_id: int = LOCAL_CHAIN_ID,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.block_time = block_time
        command = [str(foundry_tool("anvil")), "--host", host, "--port", str(self.port)]
        command += ["--chain-id", str(chain_id)]
        if block_time is not None:
            command += ["--block-time", str(block_time)]
        self.process = ManagedProcess("anvil", command, log_path=log_path)
        self._w3: Web3 | None = None

    @property
    def url(self) -> str:
        return f"http://{local_address(self.host)}:{self.port}"

    @property
    def w3(self) -> Web3:
        if self._w3 is None:
            self._w3 = Web3(rpc_provider(self.url, timeout=30))
        return self._w3

    def start(self) -> Anvil:
        self.process.start()
        self.process.wait_for_port(self.port, timeout=20, host=local_address(self.host))
        return self

    def stop(self) -> None:
        self.process.stop()

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response.get("result")

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def increase_time(self, seconds: int) -> None:
        """Move chain time forward and mine a block so the new time is visible to calls."""
        self.rpc("evm_increaseTime", seconds)
        self.mine()

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
