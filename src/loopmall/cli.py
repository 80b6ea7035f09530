"""`loopmall …`: serve, worker, db, demo, import, operator."""

from __future__ import annotations

import asyncio
import logging
import os

import typer
from rich.console import Console

from loopmall.config import Settings, get_settings
from loopmall.core import migrate, production

app = typer.Typer(help="Loopmall: social commerce + O2O platform", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()


def _refuse_unsafe(settings: Settings) -> None:
    """LOOPMALL_ENV=prod: print every reason the settings are unsafe and exit 1."""
    try:
        production.check(settings)
    except production.UnsafeProductionSettings as exc:
        console.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply migrations up to REVISION (default: every head)."""
    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url, revision)
    console.print(f"[green]database at {revision}[/green]")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(get_settings().effective_database_url, revision)
    console.print(f"[yellow]database at {revision}[/yellow]")


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default from LOOPMALL_HOST)"),
    port: int = typer.Option(None, help="Port (default from LOOPMALL_PORT)"),
    server: str = typer.Option("uvicorn", help="uvicorn (uvloop + httptools) or granian"),
    workers: int = typer.Option(1, min=1, help="App processes (each builds its own app)"),
    access_log: bool = typer.Option(True, help="Log every request (off for benchmarks)"),
) -> None:
    """Serve the app (migrates the embedded database first)."""
    settings = get_settings()
    _refuse_unsafe(settings)
    host, port = host or settings.host, port or settings.port
    if server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        Granian(
            "loopmall.app:create_server_app",
            factory=True,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            workers=workers,
            loop=Loops.uvloop,
            log_access=access_log,
        ).serve()
        return
    if server != "uvicorn":
        raise typer.BadParameter("--server is uvicorn or granian")
    import uvicorn

    from loopmall.app import create_server_app

    uvicorn.run(
        create_server_app(settings) if workers == 1 else "loopmall.app:create_server_app",
        factory=workers > 1,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        # A worker imports the whole app before it answers the supervisor's pings: on a
        # busy machine that takes longer than uvicorn's 5 s, and it would be killed.
        timeout_worker_healthcheck=60,
        loop="uvloop",
        http="httptools",
        log_level="info",
        access_log=access_log,
    )


@app.command("flashsale-consumer")
def flashsale_consumer(
    name: str = typer.Option(None, help="Consumer name (default host-pid)"),
    claim_idle_ms: int = typer.Option(15_000, help="Take over others' entries idle this long"),
    reconcile: bool = typer.Option(False, help="Reconcile every Redis sale once and exit"),
    repair: bool = typer.Option(False, help="With --reconcile: repair Redis from the database"),
    nice: int = typer.Option(
        0,
        min=0,
        max=19,
        help="Lower this process's CPU priority (os.nice): on a machine it shares with the "
        "gate, the gate answers first and the orders are made in the gaps",
    ),
) -> None:
    """Turn the Redis gate's accepted requests into orders (runs until stopped)."""
    from loopmall.flashsale.reconcile import reconcile_all
    from loopmall.flashsale.stream import run_consumer

    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    if reconcile:
        ok = asyncio.run(reconcile_all(settings, repair=repair, console=console))
        raise typer.Exit(0 if ok else 1)
    if nice:
        os.nice(nice)
    try:
        asyncio.run(run_consumer(settings, name=name, claim_idle_ms=claim_idle_ms))
    except KeyboardInterrupt:
        pass


@app.command()
def worker() -> None:
    """Run the background work without serving HTTP (production): with
    LOOPMALL_EVENT_BROKER_URL the event relay (one worker leads), the broker's consumers and
    the retries; without it the in-process dispatcher; and the periodic jobs."""
    import signal

    from loopmall.app import HANDLER_MODULES
    from loopmall.core.broker import Worker, load_handlers

    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    _refuse_unsafe(settings)
    load_handlers(settings, HANDLER_MODULES)

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        # SIGTERM (a deploy, a test's cleanup) stops cleanly: messages in hand are finished
        # or, if cut off, redelivered by the broker.
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
        running = Worker(settings)
        await running.start()
        console.print("[green]worker running[/green] (Ctrl-C to stop)")
        try:
            await stopping.wait()
        finally:
            await running.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def _register_subcommands() -> None:
    from loopmall.demo.cli import demo
    from loopmall.identity.cli import operator_app
    from loopmall.imports.cli import import_app

    app.add_typer(import_app, name="import")
    app.add_typer(operator_app, name="operator")
    app.command()(demo)


_register_subcommands()


def main() -> None:  # pragma: no cover
    app()
