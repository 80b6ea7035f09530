"""`loopmall demo`: load the demo world (idempotently) and optionally serve it."""

from __future__ import annotations

import typer


def demo(serve: bool = typer.Option(False, "--serve", help="Serve after loading")) -> None:
    """Load the demo world into the configured database."""
    typer.echo("demo world: being written")
