"""`loopmall import stores|staff FILE --merchant SLUG` against a migrated SQLite file."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loopmall.cli import app
from loopmall.config import Settings, get_settings
from loopmall.core.state import AppState
from loopmall.core.tenancy import Tenant
from tests.factories import make_merchant
from tests.imports.conftest import counts, staff_by_phone
from tests.imports.samples import (
    STAFF_HEADERS_ZH,
    STORE_HEADERS_EN,
    staff_row,
    store_row,
    stores_csv,
    to_csv,
    to_xlsx,
)

runner = CliRunner()


class Database:
    """A migrated SQLite file the CLI uses through LOOPMALL_DATABASE_URL."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.settings = Settings(database_url=url, data_dir=data_dir)

    async def _with_state(self, fn):  # type: ignore[no-untyped-def]
        state = AppState.build(self.settings)
        try:
            return await fn(state)
        finally:
            await state.close()

    def run(self, fn):  # type: ignore[no-untyped-def]
        return asyncio.run(self._with_state(fn))


@pytest.fixture
def database(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Database, Tenant]]:
    target = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, target)
    url = f"sqlite+aiosqlite:///{target}"
    monkeypatch.setenv("LOOPMALL_DATABASE_URL", url)
    monkeypatch.setenv("LOOPMALL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    db = Database(url, tmp_path / "data")
    tenant = db.run(lambda state: make_merchant(state, "vero", "Vero Moda"))
    yield db, tenant
    get_settings.cache_clear()


def test_import_stores_prints_the_summary(
    database: tuple[Database, Tenant], tmp_path: Path
) -> None:
    db, tenant = database
    file = tmp_path / "门店.csv"
    file.write_bytes(stores_csv(4, "gbk", chinese=True))
    result = runner.invoke(app, ["import", "stores", str(file), "--merchant", "vero"])
    assert result.exit_code == 0, result.output
    assert "已导入 4 行：新增 4，更新 0。" in result.output
    assert db.run(lambda s: counts(s, tenant)) == {
        "stores": 4,
        "staff": 0,
        "assignments": 0,
        "jobs": 1,
    }
    # again, in English: the same stores are updated
    again = runner.invoke(app, ["import", "stores", str(file), "-m", "vero", "--lang", "en"])
    assert again.exit_code == 0, again.output
    assert "Imported 4 row(s): 0 new, 4 updated." in again.output
    assert db.run(lambda s: counts(s, tenant))["stores"] == 4


def test_bad_rows_print_a_table_and_exit_1(
    database: tuple[Database, Tenant], tmp_path: Path
) -> None:
    db, tenant = database
    file = tmp_path / "stores.csv"
    rows = [store_row(1), store_row(2, longitude="200"), store_row(1)]
    file.write_bytes(to_csv(STORE_HEADERS_EN, rows))
    report = tmp_path / "errors.csv"
    result = runner.invoke(
        app,
        [
            "import",
            "stores",
            str(file),
            "--merchant",
            "vero",
            "--lang",
            "en",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 1
    assert "Longitude must be between -180 and 180" in result.output
    assert "Store code SH001 is also on row 2" in result.output
    assert "Nothing was imported: 2 problem(s) in 3 row(s)." in result.output
    assert report.read_bytes().decode("utf-8-sig").splitlines() == [
        "Row,Column,Reason",
        "3,longitude,Longitude must be between -180 and 180",
        "4,code,Store code SH001 is also on row 2",
    ]
    # nothing written; the rejection is in the history
    assert db.run(lambda s: counts(s, tenant)) == {
        "stores": 0,
        "staff": 0,
        "assignments": 0,
        "jobs": 1,
    }


def test_import_staff_from_xlsx(database: tuple[Database, Tenant], tmp_path: Path) -> None:
    db, tenant = database
    stores = tmp_path / "stores.csv"
    stores.write_bytes(stores_csv(2))
    assert runner.invoke(app, ["import", "stores", str(stores), "-m", "vero"]).exit_code == 0
    staff = tmp_path / "导购.xlsx"
    staff.write_bytes(
        to_xlsx(STAFF_HEADERS_ZH, [staff_row(1), staff_row(2, role="店长", stores="SH001|SH002")])
    )
    result = runner.invoke(app, ["import", "staff", str(staff), "-m", "vero"])
    assert result.exit_code == 0, result.output
    people = db.run(lambda s: staff_by_phone(s, tenant))
    assert {p: (s.role, codes) for p, (s, codes) in people.items()} == {
        "13900000001": ("guide", ["SH001"]),
        "13900000002": ("store_manager", ["SH001", "SH002"]),
    }


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"\x00\x01\x02", [], "malformed_file"),
        (b"name\r\nx\r\n", [], "missing_columns"),
        (b"code,name\r\nA,B\r\n", ["--merchant", "nobody"], "No merchant 'nobody'"),
    ],
)
def test_unusable_input_exits_1_and_writes_nothing(
    database: tuple[Database, Tenant],
    tmp_path: Path,
    content: bytes,
    args: list[str],
    message: str,
) -> None:
    db, tenant = database
    file = tmp_path / "x.csv"
    file.write_bytes(content)
    result = runner.invoke(app, ["import", "stores", str(file), *(args or ["-m", "vero"])])
    assert result.exit_code == 1
    assert message in result.output
    assert db.run(lambda s: counts(s, tenant))["stores"] == 0


def test_too_large_file_is_refused(
    database: tuple[Database, Tenant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _db, _tenant = database
    file = tmp_path / "big.csv"
    file.write_bytes(stores_csv(50))
    monkeypatch.setenv("LOOPMALL_IMPORT_MAX_BYTES", "100")
    get_settings.cache_clear()
    result = runner.invoke(app, ["import", "stores", str(file), "-m", "vero"])
    assert result.exit_code == 1
    assert "payload_too_large" in result.output
