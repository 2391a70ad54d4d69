"""Commands for a user's own project: `infernet-kit setup` and `infernet-kit init`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def setup() -> None:
        """Install Foundry (forge, anvil, cast) and solc from npm into the per-user cache, once (an installed
        kit needs them; a checkout has `make setup`). Nothing downloads after this."""
        from infernet_kit.project.toolchain import SetupError, installed_tools, setup_toolchain

        try:
            cache = setup_toolchain()
        except SetupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        for name, path in installed_tools(cache).items():
            typer.echo(f"{name:>6}  {path}")

    @app.command()
    def init(
        directory: Annotated[Path, typer.Argument(help="The new project's directory (created; must be empty).")],
        vendor: bool = typer.Option(
            False, "--vendor", help="Copy the kit's contracts into lib/ instead of remapping to the installed kit."
        ),
        force: bool = typer.Option(False, "--force", help="Write into a directory that is not empty."),
    ) -> None:
        """Create a Foundry + pytest project: consumers, a forge test on the simulator, an end-to-end test."""
        from infernet_kit.project.scaffold import InitError, init_project

        try:
            written = init_project(directory, vendor=vendor, force=force)
        except InitError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        root = directory.resolve()
        for path in written:
            typer.echo(f"  {path.relative_to(root)}")
        typer.echo(f"created {root}; next: cd {directory} && forge build && forge test && pytest")
