"""Commands of the services area for the `infernet-kit` CLI: `serve tgi|hf`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class ServiceKind(StrEnum):
    tgi = "tgi"
    hf = "hf"


DEFAULT_BIND = "0.0.0.0:3000"
APPS = {
    ServiceKind.tgi: "infernet_kit.services.tgi:create_app",
    ServiceKind.hf: "infernet_kit.services.hf:create_app",
}


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command("serve")
    def serve(
        kind: Annotated[ServiceKind, typer.Argument(help="tgi: TGI client service; hf: HF inference client service.")],
        bind: Annotated[
            str, typer.Option("--bind", help="host:port to listen on (the seeds' command).")
        ] = DEFAULT_BIND,
        workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 2,
        log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
    ) -> None:
        """Run an inference service (configured by environment variables, see the README)."""
        from infernet_kit.config import ConfigError
        from infernet_kit.services.server import BindError, parse_bind
        from infernet_kit.services.server import serve as run_server
        from infernet_kit.services.settings import load_hf_settings, load_tgi_settings

        try:
            address = parse_bind(bind)
            (load_tgi_settings if kind == ServiceKind.tgi else load_hf_settings)()
        except (ConfigError, BindError) as exc:
            typer.echo(f"infernet-kit serve {kind.value}: {exc}", err=True)
            raise typer.Exit(2) from exc
        raise typer.Exit(run_server(APPS[kind], bind=address, workers=workers, log_level=log_level))
