"""Commands of the devstack area for the `infernet-kit` CLI: backend, demo, up, down."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infernet_kit.paths import STATE_ENV

if TYPE_CHECKING:
    from infernet_kit.client.observe import Endpoints

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

    @app.command()
    def status(
        watch: Annotated[bool, typer.Option("--watch", "-w", help="Redraw every --interval seconds.")] = False,
        interval: Annotated[float, typer.Option("--interval", min=0.2, help="Seconds between redraws.")] = 2.0,
        state_dir: Annotated[Path | None, STATE_DIR_OPTION] = None,
    ) -> None:
        """The running stack (chain head, nodes, services, backend) and its subscriptions and off-chain jobs."""
        from rich.console import Console

        from infernet_kit.client.observe import Observer
        from infernet_kit.devstack.views import status_view

        observer = Observer(_endpoints(state_dir))
        if not watch:
            Console().print(status_view(observer.status()))
            return
        import time

        from rich.live import Live

        with Live(status_view(observer.status()), auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(status_view(observer.status()), refresh=True)

    @app.command()
    def trace(
        target: Annotated[str, typer.Argument(help="A request or delivery tx hash, a subscription id or a job id.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the trace as JSON.")] = False,
        state_dir: Annotated[Path | None, STATE_DIR_OPTION] = None,
    ) -> None:
        """The whole story of one request: request tx, the nodes, the containers, the deliveries and their gas."""
        from rich.console import Console
        from web3.exceptions import TransactionNotFound

        from infernet_kit.client.observe import Observer
        from infernet_kit.devstack.views import trace_view

        endpoints = _endpoints(state_dir)
        try:
            story = Observer(endpoints).trace(target)
        except (LookupError, TransactionNotFound) as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
        except OSError as exc:  # requests' connection errors are OSErrors too
            typer.echo(f"Error: cannot reach the chain at {endpoints.rpc_url}: {type(exc).__name__}", err=True)
            raise typer.Exit(1) from None
        if as_json:
            typer.echo(story.model_dump_json(indent=2))
        else:
            Console(width=200).print(trace_view(story))

    @app.command()
    def logs(
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
        sub: Annotated[int | None, typer.Option("--sub", min=1, help="Only lines about this subscription.")] = None,
        job: Annotated[str | None, typer.Option("--job", help="Only lines about this off-chain job.")] = None,
        state_dir: Annotated[Path | None, STATE_DIR_OPTION] = None,
    ) -> None:
        """The stack's logs merged in time order, one colour per component."""
        from rich.console import Console

        from infernet_kit.devstack.views import print_logs

        log_dir = _endpoints(state_dir).log_dir
        assert log_dir is not None
        with contextlib.suppress(KeyboardInterrupt):  # the way out of --follow
            print_logs(Console(), log_dir, subscription=sub, job=job, follow_new=follow)


def _endpoints(state_dir: Path | None) -> Endpoints:
    """The recorded stack's endpoints, or one error line and exit 1."""
    from infernet_kit.devstack.views import NoStack, stack_endpoints

    _use_state_dir(state_dir)
    try:
        return stack_endpoints()
    except NoStack as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None


def _use_state_dir(directory: Path | None) -> None:
    """Make `directory` the state dir of this command and of every process it starts."""
    if directory is not None:
        os.environ[STATE_ENV] = str(directory.resolve())
