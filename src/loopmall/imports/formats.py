"""What a stores file and a staff file look like: their columns, in English or Chinese.

A header matches a column by any of its names, ignoring case, spaces, ``-``/``_`` and a
"required" mark (``门店编码*``, ``门店编码（必填）``). Unknown columns are ignored, so
people can keep their own notes beside the data. The downloadable templates are built
from the same table, with Chinese headers and a UTF-8 BOM so that Excel opens them right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from loopmall.core.csv_export import csv_bytes
from loopmall.core.errors import ValidationFailed
from loopmall.imports.sheets import Sheet, read_sheet


class ImportKind(StrEnum):
    STORES = "stores"
    STAFF = "staff"


class MissingColumns(ValidationFailed):
    code = "missing_columns"
    title = "The file lacks required columns"
    message = "Required columns are missing: %(names)s"


class DuplicateColumns(ValidationFailed):
    code = "duplicate_columns"
    title = "Two columns of the file mean the same thing"


@dataclass(frozen=True)
class Column:
    field: str
    label_zh: str
    label_en: str
    aliases: tuple[str, ...]
    required: bool = False
    example: str = ""

    def label(self, locale: str) -> str:
        return self.label_en if locale == "en" else self.label_zh


STORE_COLUMNS = (
    Column(
        "code", "门店编码", "code", ("门店编号", "门店代码", "编码", "store_code"), True, "SH001"
    ),
    Column("name", "门店名称", "name", ("名称", "店名", "store_name"), True, "南京西路店"),
    Column("city", "城市", "city", (), example="上海"),
    Column("district", "区县", "district", ("区", "区域"), example="静安区"),
    Column("address", "地址", "address", ("详细地址",), example="南京西路1266号"),
    Column("phone", "电话", "phone", ("联系电话", "门店电话", "tel"), example="021-62881234"),
    Column("latitude", "纬度", "latitude", ("lat",), example="31.2304"),
    Column("longitude", "经度", "longitude", ("lng", "lon"), example="121.4737"),
    Column(
        "opening_hours",
        "营业时间",
        "opening_hours",
        ("hours",),
        example="周一至周五 10:00-22:00；周六,周日 09:00-23:00",
    ),
    Column("pickup", "自提", "pickup", ("支持自提", "pickup_enabled"), example="是"),
)

STAFF_COLUMNS = (
    Column("phone", "手机号", "phone", ("手机", "手机号码", "mobile"), True, "13912345678"),
    Column("name", "姓名", "name", ("名字",), True, "王小明"),
    Column("role", "角色", "role", ("岗位", "职位"), True, "导购"),
    Column(
        "stores", "门店", "stores", ("门店编码", "所属门店", "store_codes"), example="SH001|SH002"
    ),
    Column("employee_no", "工号", "employee_no", ("员工编号",), example="E0001"),
)

COLUMNS: dict[ImportKind, tuple[Column, ...]] = {
    ImportKind.STORES: STORE_COLUMNS,
    ImportKind.STAFF: STAFF_COLUMNS,
}

_REQUIRED_MARK = re.compile(r"\s*([*＊]|[(（](必填|required)[)）])\s*$", re.IGNORECASE)


def _norm(header: str) -> str:
    return re.sub(r"[\s\-_]+", "_", _REQUIRED_MARK.sub("", header).strip().lower())


def _index(columns: tuple[Column, ...]) -> dict[str, Column]:
    index: dict[str, Column] = {}
    for column in columns:
        for name in (column.field, column.label_zh, column.label_en, *column.aliases):
            index[_norm(name)] = column
    return index


_INDEX = {kind: _index(columns) for kind, columns in COLUMNS.items()}


@dataclass
class Table:
    """A sheet read as one kind of import: rows as ``{field: text}`` for the known columns."""

    kind: ImportKind
    headers: dict[str, str]  # field → the header as written in the file
    rows: list[tuple[int, dict[str, str]]]
    overflow_rows: list[int]  # rows with cells right of the last header
    source_format: str

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.headers)


def column_label(kind: ImportKind, field: str, headers: dict[str, str], locale: str) -> str:
    """The column name to show for ``field``: as the file wrote it, else our own name."""
    if field in headers:
        return headers[field]
    for column in COLUMNS[kind]:
        if column.field == field:
            return column.label(locale)
    return field


def to_table(sheet: Sheet, kind: ImportKind) -> Table:
    """Match the sheet's headers to ``kind``'s columns.

    Raises ``MissingColumns`` or ``DuplicateColumns`` (422) naming the columns.
    """
    index = _INDEX[kind]
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    for position, header in enumerate(sheet.headers):
        column = index.get(_norm(header)) if header else None
        if column is None:
            continue
        if column.field in positions:
            raise DuplicateColumns(
                f"Columns {headers[column.field]!r} and {header!r} are both {column.label_en}",
                columns=[headers[column.field], header],
            )
        positions[column.field] = position
        headers[column.field] = header
    missing = [c for c in COLUMNS[kind] if c.required and c.field not in positions]
    if missing:
        names = ", ".join(f"{c.label_zh} ({c.label_en})" for c in missing)
        raise MissingColumns(
            f"Required columns are missing: {names}",
            missing=[c.field for c in missing],
            names=names,
        )
    width = len(sheet.headers)
    rows: list[tuple[int, dict[str, str]]] = []
    overflow: list[int] = []
    items = list(positions.items())
    for number, cells in sheet.rows:
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            overflow.append(number)
        size = len(cells)
        rows.append((number, {f: cells[p] if p < size else "" for f, p in items}))
    return Table(kind, headers, rows, overflow, sheet.source_format)


def template_csv(kind: ImportKind) -> bytes:
    """A CSV template: Chinese headers (required ones marked ``*``), one example row, BOM."""
    columns = COLUMNS[kind]
    header = [c.label_zh + ("*" if c.required else "") for c in columns]
    return csv_bytes(header, [[c.example for c in columns]])


def read_table(data: bytes, kind: ImportKind, *, max_bytes: int) -> Table:
    """Read an uploaded file as an import of ``kind`` (see ``sheets.read_sheet`` and
    ``to_table`` for what it raises). CPU-bound: run it in a thread from async code."""
    return to_table(read_sheet(data, max_bytes=max_bytes), kind)
