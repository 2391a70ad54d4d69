"""Commands of the services area for the `infernet-kit` CLI: `serve <kind>` for every registered service."""

from __future__ import annotations

from typing import Annotated

import typer

from infernet_kit.protocol.defaults import DEFAULT_BIND


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command("serve")
    def serve(
        kind: Annotated[
            str,
            typer.Argument(
                help="A registered service: tgi (TGI client), hf (HF inference client), signer (TGI with proofs), "
                "or a plugin's."
            ),
        ],
        bind: Annotated[
            str, typer.Option("--bind", help="host:port to listen on (the seeds' command).")
        ] = DEFAULT_BIND,
        workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 2,
        log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
    ) -> None:
        """Run an inference service (configured by environment variables, see the README)."""
        from infernet_kit.config import ConfigError
        from infernet_kit.protocol.registry import UnknownService, service
        from infernet_kit.services.server import BindError, parse_bind
        from infernet_kit.services.server import serve as run_server

        try:
            entry = service(kind)
            address = parse_bind(bind)
            entry.check_settings()
        except (ConfigError, BindError, UnknownService) as exc:
            typer.echo(f"infernet-kit serve {kind}: {exc}", err=True)
            raise typer.Exit(2) from exc
        raise typer.Exit(run_server(entry.app, bind=address, workers=workers, log_level=log_level))
