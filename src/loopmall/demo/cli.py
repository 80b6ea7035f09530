"""`loopmall demo`: load the demo world (idempotently) and optionally serve it."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from loopmall.config import Settings, get_settings
from loopmall.core import migrate
from loopmall.core.state import AppState
from loopmall.demo.outside import Outside, PortTaken, connect_accounts, load_keys
from loopmall.demo.world import DEMO_PASSWORD, OPERATOR_EMAIL, PLANS, DemoReport, load


async def _load(settings: Settings) -> DemoReport:
    state = AppState.build(settings)
    try:
        report = await load(state)
        keys = load_keys(settings, [(slug, name) for slug, name, *_rest in PLANS])
        await connect_accounts(state, keys)
        return report
    finally:
        await state.close()


def demo(serve: bool = typer.Option(False, "--serve", help="Serve after loading")) -> None:
    """Migrate, load the demo world (nothing is duplicated on a second run), print logins;
    with --serve, start the stand-ins (WeChat Pay, Alipay, WeChat, SMS) and serve."""
    console = Console()
    settings = get_settings()
    if serve and settings.env == "prod":  # the demo serves the sandboxes: never in production
        console.print("[red]LOOPMALL_ENV=prod: `loopmall demo --serve` is for demos only[/red]")
        raise typer.Exit(1)
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)
    report = asyncio.run(_load(settings))
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
    for slug, name, *_rest in PLANS:
        console.print(f"Mall:      {base}/m/{slug}/   ({name}; log in with the one-tap demo login)")
    console.print(f"API docs:  {base}/docs   (OpenAPI: {base}/openapi.json)")
    console.print(f"Health:    {base}/healthz")
    if serve:
        import uvicorn

        from loopmall.app import create_server_app

        keys = load_keys(settings, [(slug, name) for slug, name, *_rest in PLANS])
        try:
            outside = Outside(keys).start()
        except PortTaken as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        try:
            console.print(
                "Stand-ins: "
                f"WeChat Pay {outside.url('wechatpay')} · Alipay {outside.url('alipay')} · "
                f"WeChat {outside.url('wechat')} · SMS {outside.url('sms')} "
                f"(texts sent: {outside.url('sms')}/_standin/messages)"
            )
            # The demo is where the one-tap login and the sandbox's pay button belong: both
            # are off unless switched on (and production refuses them).
            demo_settings = outside.settings_for(settings).model_copy(
                update={"sandbox_login": True, "sandbox_payments": True}
            )
            app = create_server_app(demo_settings)
            uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
        finally:
            outside.stop()
