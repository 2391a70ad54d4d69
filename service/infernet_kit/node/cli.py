"""Commands of the node area for the `infernet-kit` CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command("node")
    def node(
        config: Annotated[Path, typer.Option("--config", "-c", help="The node's config.json (reference format).")],
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                help="Where the job database and chain state live [default: config's data_dir, else "
                "infernet-node-data next to config.json].",
            ),
        ] = None,
    ) -> None:
        """Run an Infernet-compatible node: REST API on server.port (4000), containers, chain service."""
        from infernet_kit.config import ConfigError
        from infernet_kit.node.app import SecretMask, configure_logging, run
        from infernet_kit.node.config import load_config
        from infernet_kit.processes import ProcessError

        try:
            loaded = load_config(config)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        base = config.resolve().parent
        directory = data_dir or (Path(loaded.data_dir) if loaded.data_dir else base / "infernet-node-data")
        directory = directory if directory.is_absolute() else Path.cwd() / directory
        configure_logging(loaded, base_dir=base)
        try:
            run(loaded, directory)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except ProcessError as exc:
            typer.echo(f"error: a container did not start: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            pass
        except Exception as exc:  # e.g. the chain RPC is unreachable at start: one line, secrets masked
            mask = SecretMask(loaded.secrets())
            typer.echo(f"error: {mask.mask(str(exc) or type(exc).__name__)}", err=True)
            raise typer.Exit(1) from None
