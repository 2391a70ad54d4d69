"""Commands of the devstack area for the `infernet-kit` CLI."""

from __future__ import annotations

from typing import Annotated

import typer


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
