"""`loopmall operator …`: platform operator accounts."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from loopmall.config import get_settings
from loopmall.core.errors import LoopmallError
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.identity.operators import create_operator

operator_app = typer.Typer(help="Platform operator accounts", no_args_is_help=True)
console = Console()


async def _create(email: str, name: str, password: str) -> str:
    state = AppState.build(get_settings())
    try:
        async with UnitOfWork(state.write_factory) as uow:
            operator = await create_operator(uow.session, email=email, name=name, password=password)
            await uow.commit()
            return operator.public_id
    finally:
        await state.close()


@operator_app.command("create")
def create(
    email: str = typer.Option(..., "--email", help="Login email"),
    name: str = typer.Option(..., "--name", help="Shown name"),
    password: str = typer.Option(
        ...,
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="At least 8 characters (asked for when not given)",
    ),
) -> None:
    """Create a platform operator, who can then get a token at /api/v1/platform/auth/token."""
    try:
        public_id = asyncio.run(_create(email, name, password))
    except LoopmallError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from None
    console.print(f"[green]operator {email.strip().lower()} created[/green] ({public_id})")
