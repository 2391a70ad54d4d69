"""What `demo` and `up` do around the stack: progress output, signals, clean shutdown, the state file."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from pathlib import Path
from types import FrameType

from pydantic import SecretStr
from rich.console import Console

from infernet_kit.devstack.stack import LocalStack, StackOptions
from infernet_kit.paths import stack_file, state_dir
from infernet_kit.processes import ProcessError, local_address, port_is_open

# Real chains make blocks on a clock; so does the demo, so recurring intervals come due as time passes.
DEMO_BLOCK_TIME = 1.0


def run_demo(*, tgi_url: str | None, hf_endpoint: str | None, hf_token: str | None) -> int:
    """Run the demo; the exit code is 0 only when every flow was verified."""
    from infernet_kit.devstack.demo import Demo

    console = Console()
    options = StackOptions(
        tgi_url=tgi_url,
        hf_endpoint=hf_endpoint,
        hf_token=SecretStr(hf_token) if hf_token else None,
        block_time=DEMO_BLOCK_TIME,
    )
    run_dir = Path(tempfile.mkdtemp(prefix="demo-", dir=state_dir()))
    stack = LocalStack(options, run_dir=run_dir, progress=lambda text: console.print(f"[green]✓[/] {text}"))

    def interrupt(signum: int, frame: FrameType | None) -> None:
        # Stop the processes first: flows blocked in worker threads then fail at once instead of timing out.
        stack.stop()
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    started = time.perf_counter()
    try:
        console.rule("[bold]Starting the local Infernet stack")
        console.print(f"logs in {run_dir}", highlight=False)
        info = stack.start()
        demo = Demo(info, console, work_dir=run_dir, offline=tgi_url is None and hf_endpoint is None)
        asyncio.run(demo.run_all())
        console.print(demo.summary())
        console.print(f"total {time.perf_counter() - started:.1f} s; logs in {run_dir}")
        return 0 if demo.all_verified else 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: stopping every process the demo started")
        return 130
    except ProcessError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    finally:
        stack.stop()


def run_up(options: StackOptions) -> int:
    """Start the stack on `options`' ports and record it in the state dir; 1 with one line if it cannot."""
    console = Console()
    if stack_file().is_file():
        console.print(f"[red]error:[/] a stack is already up (see {stack_file()}); run `infernet-kit down` first")
        return 1
    taken = [port for port in options.listening_ports() if port_is_open(port, local_address(options.host))]
    if taken:
        console.print(f"[red]error:[/] port(s) {', '.join(map(str, taken))} already in use")
        return 1
    run_dir = state_dir() / "up"
    stack = LocalStack(options, run_dir=run_dir, progress=lambda text: console.print(f"[green]✓[/] {text}"))
    try:
        info = stack.start()
    except (ProcessError, KeyboardInterrupt) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    stack_file().write_text(info.model_dump_json(indent=2))
    console.print(f"RPC URL        {info.rpc_url} (chain {info.chain_id})")
    for index, node in enumerate(info.nodes, 1):
        console.print(f"node {index}         {node.url} (operator {node.address})")
    console.print(f"dashboard      {info.nodes[0].url}/dashboard (each node serves its own)", highlight=False)
    for container, url in info.services.items():
        console.print(f"{container:<14} {url}", highlight=False)
    if info.backend_url:
        console.print(f"dev backend    {info.backend_url}")
    for role, address in info.deployment.model_dump(exclude={"chain_id", "consumers", "deployer"}).items():
        console.print(f"{role:<14} {address}")
    for name, address in info.deployment.consumers.items():
        console.print(f"{name:<14} {address}")
    console.print(f"user account   {info.user_address} key {info.user_private_key} (anvil dev account #0)")
    console.print(f"written to {stack_file()}; logs in {run_dir}; stop with `infernet-kit down`")
    return 0
