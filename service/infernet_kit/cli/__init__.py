"""The single `infernet-kit` entry point: kit verbs (deploy, serve, backend, node, demo, up, down, setup, init)
and the client verbs of the official `infernet-client` (job, results, sub, ...).

Each area registers its own commands; command bodies import what they need, so `--help` is instant.
"""

from __future__ import annotations

import typer

from infernet_kit.chain.cli import register as register_chain
from infernet_kit.client.cli import register as register_client
from infernet_kit.devstack.cli import register as register_devstack
from infernet_kit.node.cli import register as register_node
from infernet_kit.project.cli import register as register_project
from infernet_kit.services.cli import register as register_services


def _new_app(name: str, help: str) -> typer.Typer:
    return typer.Typer(name=name, help=help, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


def build_client_app() -> typer.Typer:
    """The `infernet-client` command: the client verbs alone, as the official package has them."""
    app = _new_app("infernet-client", "The official infernet-client's verbs, served by infernet-kit.")
    register_client(app)
    return app


def build_app() -> typer.Typer:
    app = _new_app("infernet-kit", "Put LLM inference behind smart contracts and run the whole Infernet loop locally.")

    @app.callback(invoke_without_command=True)
    def root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the kit's version and exit."),
    ) -> None:
        """infernet-kit: the Infernet loop on one laptop."""
        if version:
            from infernet_kit import __version__

            typer.echo(f"infernet-kit {__version__}")
            raise typer.Exit()
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())

    for register in (
        register_project,
        register_devstack,
        register_chain,
        register_services,
        register_node,
        register_client,
    ):
        register(app)
    return app


def main() -> None:
    """The `infernet-kit` command."""
    run_app(build_app())


def run_app(app: typer.Typer) -> None:
    """Run `app`; a usage error (missing option, bad value, unknown command) is one `Error:` line, exit 2."""
    import sys

    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except typer.TyperException as exc:  # click's ClickException family, as vendored by typer
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo(f"Error: {message} (see --help)", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
