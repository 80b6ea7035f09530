"""`loopmall operator …`: platform operator accounts."""

from __future__ import annotations

import typer

operator_app = typer.Typer(help="Platform operator accounts", no_args_is_help=True)
