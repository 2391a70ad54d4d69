"""Commands of the chain area for the `infernet-kit` CLI."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""
