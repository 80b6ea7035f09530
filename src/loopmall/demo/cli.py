"""`loopmall demo`: load the demo world (idempotently) and optionally serve it."""

from __future__ import annotations

import asyncio

import typer

from loopmall.config import Settings, get_settings
from loopmall.core import migrate
from loopmall.core.state import AppState
from loopmall.demo.flash_sale import open_demo_sale
from loopmall.demo.outside import (
    STATE_FILE,
    Outside,
    PortTaken,
    connect_accounts,
    load_keys,
)
from loopmall.demo.world import PLANS, DemoReport, demo_logins, load


def say(line: str = "") -> None:
    """One whole line, never wrapped: the links and logins are copied from a terminal of
    any width or from a log file, and a URL broken across lines is no link (issue #14)."""
    typer.echo(line)


def step(what: str) -> None:
    say(f"==> {what}")


async def _load(settings: Settings) -> DemoReport:
    state = AppState.build(settings)
    try:
        report = await load(state)
        keys = load_keys(settings, [(slug, name) for slug, name, *_rest in PLANS])
        await connect_accounts(state, keys)
        report.flash_sale = await open_demo_sale(state)
        return report
    finally:
        await state.close()


def print_report(report: DemoReport, base: str) -> None:
    """What was made, one login per role with what to try, and every link on its own line."""
    if report.created:
        say(f"created: {', '.join(report.created)}")
    if report.kept:
        say(f"already there, kept: {', '.join(report.kept)}")
    say()
    say("Logins (console: merchant code + phone + password; operator: email + password)")
    for login in demo_logins():
        merchant = f"merchant {login.merchant}, " if login.merchant else ""
        say(f"- {login.who}: {merchant}{login.account}, password {login.password}")
        say(f"  try: {login.tries}")
        say(f"  {base}{login.page}")
    say()
    say("Links")
    say(f"Console: {base}/console/login")
    say(f"Platform console: {base}/platform/login")
    for slug, name, *_rest in PLANS:
        say(f"Mall of {slug} ({name}; one-tap demo login): {base}/m/{slug}/")
    if report.flash_sale is not None:
        sale = report.flash_sale
        say(f"Flash sale ({sale.title}; buying opens {sale.opens_local}): {base}{sale.path}")
    say(f"API docs: {base}/docs")
    say(f"OpenAPI: {base}/openapi.json")
    say(f"Health: {base}/healthz")


def demo(serve: bool = typer.Option(False, "--serve", help="Serve after loading")) -> None:
    """Migrate, load the demo world (nothing is duplicated on a second run), print logins;
    with --serve, start the stand-ins (WeChat Pay, Alipay, WeChat, SMS) and serve."""
    settings = get_settings()
    if serve and settings.env == "prod":  # the demo serves the sandboxes: never in production
        say("LOOPMALL_ENV=prod: `loopmall demo --serve` is for demos only")
        raise typer.Exit(1)
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    step("migrating the database")
    migrate.upgrade(settings.effective_database_url)
    step("loading the demo world (the first time takes a minute: 4 merchants, 46 products)")
    report = asyncio.run(_load(settings))
    print_report(report, f"http://{settings.host}:{settings.port}")
    if serve:
        _serve(settings)


def _serve(settings: Settings) -> None:
    import uvicorn

    from loopmall.app import create_server_app

    step("starting the stand-ins (WeChat Pay, Alipay, WeChat, SMS) and the server")
    keys = load_keys(settings, [(slug, name) for slug, name, *_rest in PLANS])
    try:
        outside = Outside(keys, state_path=settings.data_dir / STATE_FILE).start()
    except PortTaken as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    try:
        say(f"WeChat Pay stand-in: {outside.url('wechatpay')}")
        say(f"Alipay stand-in: {outside.url('alipay')}")
        say(f"WeChat stand-in: {outside.url('wechat')}")
        say(f"SMS stand-in: {outside.url('sms')}")
        say(f"Texts sent: {outside.url('sms')}/_standin/messages")
        # The demo is where the one-tap login and the sandbox's pay button belong: both
        # are off unless switched on (and production refuses them).
        demo_settings = outside.settings_for(settings).model_copy(
            update={"sandbox_login": True, "sandbox_payments": True}
        )
        app = create_server_app(demo_settings)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    finally:
        outside.stop()
