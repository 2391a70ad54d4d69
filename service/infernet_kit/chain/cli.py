"""Commands of the chain area for the `infernet-kit` CLI."""

from __future__ import annotations

import os

import typer

from infernet_kit.protocol.defaults import DEFAULT_RPC_URL


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command()
    def deploy(
        rpc_url: str = typer.Option(DEFAULT_RPC_URL, "--rpc-url", "--rpc_url", envvar="RPC_URL"),
        key_env: str = typer.Option(
            "INFERNET_DEPLOYER_KEY",
            "--key-env",
            help="Environment variable holding the deployer's private key; unset = anvil account #2.",
        ),
        no_examples: bool = typer.Option(False, "--no-examples", help="Deploy the core only."),
        force: bool = typer.Option(
            False, "--force", help="Replace deployments/<chainid>.json even when a running stack uses it."
        ),
    ) -> None:
        """Deploy the Infernet core and example consumers; writes deployments/<chainid>.json."""
        from eth_account import Account

        from infernet_kit.chain.accounts import DEPLOYER, dev_account
        from infernet_kit.chain.deploy import DeploymentInUse, ensure_replaceable
        from infernet_kit.chain.deploy import deploy as deploy_contracts
        from infernet_kit.chain.transactions import connect

        key = os.environ.get(key_env)
        deployer = Account.from_key(key) if key else dev_account(DEPLOYER)
        w3 = connect(rpc_url)
        if not w3.is_connected():
            typer.echo(f"error: no Ethereum node answers at {rpc_url}", err=True)
            raise typer.Exit(1)
        try:
            ensure_replaceable(w3.eth.chain_id, force=force)
        except DeploymentInUse as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        deployment = deploy_contracts(w3, deployer, examples=not no_examples)
        path = deployment.save()
        for role, address in deployment.model_dump(exclude={"consumers", "chain_id"}).items():
            typer.echo(f"{role:>16}  {address}")
        for name, address in deployment.consumers.items():
            typer.echo(f"{name:>16}  {address}")
        typer.echo(f"wrote {path}")
