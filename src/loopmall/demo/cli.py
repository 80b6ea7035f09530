"""`loopmall demo`: load the demo world (idempotently) and optionally serve it."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from loopmall.config import get_settings
from loopmall.core import migrate
from loopmall.core.state import AppState
from loopmall.demo.world import DEMO_PASSWORD, OPERATOR_EMAIL, DemoReport, load


async def _load() -> DemoReport:
    state = AppState.build(get_settings())
    try:
        return await load(state)
    finally:
        await state.close()


def demo(serve: bool = typer.Option(False, "--serve", help="Serve after loading")) -> None:
    """Migrate, load the demo world (nothing is duplicated on a second run), print logins."""
    console = Console()
    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)
    report = asyncio.run(_load())
    if report.created:
        console.print(f"[green]created[/green]: {', '.join(report.created)}")
    if report.kept:
        console.print(f"[yellow]already there, kept[/yellow]: {', '.join(report.kept)}")
    base = f"http://{settings.host}:{settings.port}"
    table = Table(title="Demo logins (console: merchant code + phone + password)")
    for col in ("who", "merchant code", "phone / email", "password"):
        table.add_column(col)
    for login in report.logins:
        table.add_row(login.who, login.merchant, login.account, login.password)
    table.add_row("platform operator (API)", "—", OPERATOR_EMAIL, DEMO_PASSWORD)
    console.print(table)
    console.print(f"Console:   {base}/console/login")
    console.print(f"API docs:  {base}/docs   (OpenAPI: {base}/openapi.json)")
    console.print(f"Health:    {base}/healthz")
    if serve:
        import uvicorn

        from loopmall.app import create_app

        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
