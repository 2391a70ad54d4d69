"""Commands of the devstack area for the `infernet-kit` CLI: backend, demo, up, down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from infernet_kit.paths import STATE_ENV

STATE_DIR_OPTION = typer.Option(
    "--state-dir",
    envvar=STATE_ENV,
    help="Where the stack keeps its record, logs and node data (default .kit/); one per stack side by side.",
)


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command("backend")
    def backend(
        port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
        host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
        log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "warning",
    ) -> None:
        """Run the offline dev backend: a TGI server and HF inference API stand-in with deterministic answers."""
        from infernet_kit.services.server import Bind
        from infernet_kit.services.server import serve as run_server

        # One worker: fault injection and counters live in the process.
        address = Bind(host, port)
        raise typer.Exit(
            run_server("infernet_kit.devstack.backend:create_app", bind=address, workers=1, log_level=log_level)
        )

    @app.command()
    def demo(
        tgi_url: Annotated[
            str | None, typer.Option("--tgi-url", help="A real TGI server instead of the dev backend.")
        ] = None,
        hf_endpoint: Annotated[str | None, typer.Option("--hf-endpoint", help="A real HF inference endpoint.")] = None,
        hf_token: Annotated[
            str | None, typer.Option("--hf-token", envvar="HF_INF_TOKEN", help="Hugging Face token.")
        ] = None,
    ) -> None:
        """Start a local stack, run every flow of the seeds, print a verified summary; exit 0 only if all pass."""
        from infernet_kit.devstack.runner import run_demo

        raise typer.Exit(run_demo(tgi_url=tgi_url, hf_endpoint=hf_endpoint, hf_token=hf_token))

    @app.command()
    def up(
        rpc_port: Annotated[int, typer.Option("--rpc-port", min=1, max=65535, help="anvil's port.")] = 8545,
        node_port: Annotated[
            int, typer.Option("--node-port", min=1, max=65535, help="The first node's port (others follow).")
        ] = 4000,
        tgi_port: Annotated[int, typer.Option("--tgi-port", min=1, max=65535, help="The TGI service's port.")] = 3000,
        hf_port: Annotated[int, typer.Option("--hf-port", min=1, max=65535, help="The HF service's port.")] = 3001,
        backend_port: Annotated[
            int, typer.Option("--backend-port", min=1, max=65535, help="The dev backend's port.")
        ] = 8080,
        host: Annotated[str, typer.Option("--host", help="Interface every process listens on.")] = "127.0.0.1",
        state_dir: Annotated[Path | None, STATE_DIR_OPTION] = None,
        nodes: Annotated[int, typer.Option("--nodes", min=1, max=3)] = 2,
        block_time: Annotated[
            float, typer.Option("--block-time", help="Seconds per block; 0 mines one per transaction.")
        ] = 1.0,
    ) -> None:
        """Start the local stack on the README's ports and leave it running; `infernet-kit down` stops it."""
        from infernet_kit.devstack.runner import run_up
        from infernet_kit.devstack.stack import StackOptions
        from infernet_kit.protocol import hf, tgi

        _use_state_dir(state_dir)
        options = StackOptions(
            rpc_port=rpc_port,
            node_port=node_port,
            backend_port=backend_port,
            service_ports={tgi.KIND: tgi_port, hf.KIND: hf_port},
            host=host,
            nodes=nodes,
            block_time=block_time or None,
        )
        raise typer.Exit(run_up(options))

    @app.command()
    def down(state_dir: Annotated[Path | None, STATE_DIR_OPTION] = None) -> None:
        """Stop the stack `infernet-kit up` started."""
        from infernet_kit.devstack.stack import stop_recorded_stack

        _use_state_dir(state_dir)
        stopped = stop_recorded_stack()
        typer.echo(f"stopped {len(stopped)} processes" if stopped else "no stack is running")


def _use_state_dir(directory: Path | None) -> None:
    """Make `directory` the state dir of this command and of every process it starts."""
    if directory is not None:
        os.environ[STATE_ENV] = str(directory.resolve())
