"""`loopmall import stores|staff FILE --merchant SLUG`: the same import as the console's,
with a Rich progress bar, and the bad rows as a table (exit code 1) when it is refused."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table as RichTable

from loopmall.config import Settings, get_settings
from loopmall.core.errors import LoopmallError
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.imports import service
from loopmall.imports.formats import ImportKind, Table, read_table
from loopmall.imports.report import errors_csv, render_errors
from loopmall.imports.runner import Run, import_recorded
from loopmall.imports.service import Actor, ImportRejected, ImportSummary
from loopmall.imports.sheets import check_size
from loopmall.merchants.bulk import tenant_for_slug
from loopmall.web.i18n import LOCALES, translations

import_app = typer.Typer(help="Bulk imports from CSV/XLSX", no_args_is_help=True)
console = Console()

# Rows printed in the terminal; --report writes all of them.
MAX_PRINTED = 1000

FILE_ARG = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV or XLSX")
MERCHANT_OPT = typer.Option(..., "--merchant", "-m", help="The merchant's slug")
LANG_OPT = typer.Option("zh_Hans", "--lang", help="Language of messages: zh_Hans | en")
REPORT_OPT = typer.Option(None, "--report", help="Write every bad row to this CSV file")


@dataclass
class Outcome:
    summary: ImportSummary | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


async def _import(
    settings: Settings, table: Table, slug: str, filename: str, report: service.Reporter
) -> Outcome:
    state = AppState.build(settings)
    try:
        async with UnitOfWork(state.write_factory) as uow:
            tenant = await tenant_for_slug(uow.session, slug)
            run = Run(tenant, Actor(source="cli"), filename)
            try:
                summary = await import_recorded(uow, run, table, report=report)
            except ImportRejected as exc:
                return Outcome(errors=exc.issues)
            await uow.commit()
            return Outcome(summary=summary)
    finally:
        await state.close()


def _run(kind: ImportKind, file: Path, merchant: str, lang: str, report_path: Path | None) -> int:
    if lang not in LOCALES:
        console.print(f"[red]--lang must be one of {', '.join(LOCALES)}[/red]")
        return 2
    gettext = translations(lang).gettext
    settings = get_settings()
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        parsing = progress.add_task(gettext("Parsing the file"), total=1)
        try:
            check_size(file.stat().st_size, settings.import_max_bytes)
            table = read_table(file.read_bytes(), kind, max_bytes=settings.import_max_bytes)
        except LoopmallError as exc:
            progress.stop()
            console.print(f"[red]{exc.code}[/red]: {exc.detail}")
            console.print(gettext("Nothing was imported."))
            return 1
        progress.update(parsing, completed=1)
        tasks: dict[str, TaskID] = {
            "validating": progress.add_task(gettext("Checking rows"), total=len(table.rows)),
            "writing": progress.add_task(gettext("Writing"), total=None),
        }

        async def report(phase: str, done: int, total: int) -> None:
            progress.update(tasks[phase], completed=done, total=total)

        try:
            outcome = asyncio.run(_import(settings, table, merchant, file.name, report))
        except LoopmallError as exc:
            progress.stop()
            console.print(f"[red]{exc.code}[/red]: {exc.detail}")
            return 1

    if outcome.summary is not None:
        s = outcome.summary
        console.print(
            "[green]"
            + gettext("Imported %(rows)s row(s): %(created)s new, %(updated)s updated.")
            % {"rows": s.rows, "created": s.created, "updated": s.updated}
            + "[/green]"
        )
        return 0

    rendered = render_errors(kind, outcome.errors, lang)
    table_out = RichTable(title=gettext("Import of %(file)s") % {"file": file.name})
    table_out.add_column(gettext("Row"), justify="right")
    table_out.add_column(gettext("Column"))
    table_out.add_column(gettext("Reason"))
    for error in rendered[:MAX_PRINTED]:
        table_out.add_row(str(error["row"]), error["column"] or "—", error["reason"])
    console.print(table_out)
    if len(rendered) > MAX_PRINTED:
        console.print(
            gettext("Showing the first %(shown)s of %(count)s problems.")
            % {"shown": MAX_PRINTED, "count": len(rendered)}
        )
    if report_path is not None:
        report_path.write_bytes(errors_csv(kind, outcome.errors, lang))
    console.print(
        "[red]"
        + gettext(
            "Nothing was imported: %(count)s problem(s) in %(rows)s row(s). "
            "Fix them and upload the file again."
        )
        % {"count": len(rendered), "rows": len(table.rows)}
        + "[/red]"
    )
    return 1


@import_app.command("stores")
def import_stores(
    file: Path = FILE_ARG,
    merchant: str = MERCHANT_OPT,
    lang: str = LANG_OPT,
    report: Path | None = REPORT_OPT,
) -> None:
    """Import stores (upsert by store code); nothing is written if any row is bad."""
    raise typer.Exit(_run(ImportKind.STORES, file, merchant, lang, report))


@import_app.command("staff")
def import_staff(
    file: Path = FILE_ARG,
    merchant: str = MERCHANT_OPT,
    lang: str = LANG_OPT,
    report: Path | None = REPORT_OPT,
) -> None:
    """Import staff (upsert by phone) with their stores; nothing is written if any row is bad."""
    raise typer.Exit(_run(ImportKind.STAFF, file, merchant, lang, report))
