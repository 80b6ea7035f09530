"""`loopmall import stores|staff FILE --merchant SLUG`."""

from __future__ import annotations

import typer

import_app = typer.Typer(help="Bulk imports from CSV/XLSX", no_args_is_help=True)
