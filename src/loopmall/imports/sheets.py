"""Reading an uploaded table: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16) or XLSX.

Excel in China saves CSV in GBK unless told otherwise, and "Unicode text" in UTF-16 with
tabs; people also send the .xlsx itself. Whatever arrives becomes a :class:`Sheet`: the
header cells and every data row with the row number Excel shows for it (the header is
row 1). Anything that is not such a table is refused here with a clear problem, before
any row is looked at.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from loopmall.core.errors import PayloadTooLarge, ValidationFailed

# Enough for the largest chain many times over; beyond it a file is a mistake or an attack.
MAX_ROWS = 200_000

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc…)
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class MalformedFile(ValidationFailed):
    code = "malformed_file"
    title = "The file is not a readable CSV or XLSX table"


class EmptyFile(ValidationFailed):
    code = "empty_file"
    title = "The file has no rows to import"


class TooManyRows(PayloadTooLarge):
    code = "too_many_rows"
    title = "The file has too many rows"
    message = "More than %(max_rows)s rows; split the file"


@dataclass
class Sheet:
    """A table read from a file: header cells and ``(row number, cells)`` for data rows."""

    headers: list[str]
    header_row: int
    rows: list[tuple[int, list[str]]]
    source_format: str  # csv-utf-8 | csv-gb18030 | csv-utf-16 | xlsx


def check_size(size: int, max_bytes: int) -> None:
    """Raise ``PayloadTooLarge`` (413) when an upload is over the limit."""
    if size > max_bytes:
        raise PayloadTooLarge(
            f"The file is {size:,} bytes; the limit is {max_bytes:,} bytes",
            max_bytes=max_bytes,
        )


def read_sheet(data: bytes, *, max_bytes: int, max_rows: int = MAX_ROWS) -> Sheet:
    """Read ``data`` as XLSX (by its signature) or CSV (by its encoding).

    Raises ``PayloadTooLarge`` (413), ``TooManyRows`` (413), ``EmptyFile`` (422) or
    ``MalformedFile`` (422). Blank rows are skipped but keep their numbers.
    """
    check_size(len(data), max_bytes)
    if not data.strip():
        raise EmptyFile("The file is empty")
    if data.startswith(_ZIP_MAGIC):
        return _sheet(_xlsx_rows(data), "xlsx", max_rows)
    if data.startswith(_OLE_MAGIC):
        raise MalformedFile(
            "This is an old Excel .xls file; save it as .xlsx or CSV (UTF-8) and upload again"
        )
    text, encoding = _decode(data)
    if _BINARY.search(text):
        raise MalformedFile("The file contains binary data; upload a CSV or XLSX table")
    return _sheet(_csv_rows(text), f"csv-{encoding}", max_rows)


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise MalformedFile("The file is not valid UTF-16 text") from exc
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise MalformedFile(
            "The file is neither UTF-8 nor GBK/GB18030 text, nor an XLSX workbook"
        ) from exc


def _csv_rows(text: str) -> Iterator[list[str]]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise MalformedFile(f"The CSV is broken near row {reader.line_num}: {exc}") from exc


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Excel keeps phone numbers and codes typed as numbers as floats: 13800000001.0
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken zip or workbook
        raise MalformedFile("The file is not a readable XLSX workbook") from exc
    try:
        if not workbook.worksheets:
            raise MalformedFile("The workbook has no sheets")
        sheet = workbook.worksheets[0]
        try:
            for values in sheet.iter_rows(min_row=1, values_only=True):
                yield [_cell_text(v) for v in values]
        except MalformedFile:
            raise
        except Exception as exc:  # a damaged sheet part shows up only while reading rows
            raise MalformedFile("The first sheet of the workbook cannot be read") from exc
    finally:
        workbook.close()


def _sheet(rows: Iterable[list[str]], source_format: str, max_rows: int) -> Sheet:
    headers: list[str] | None = None
    header_row = 0
    data: list[tuple[int, list[str]]] = []
    for number, cells in enumerate(rows, start=1):
        while cells and not cells[-1].strip():
            cells.pop()
        if not cells:
            continue
        if headers is None:
            headers, header_row = [c.strip() for c in cells], number
            continue
        data.append((number, cells))
        if len(data) > max_rows:
            raise TooManyRows(f"More than {max_rows:,} rows; split the file", max_rows=max_rows)
    if headers is None:
        raise EmptyFile("The file has no header row")
    if not data:
        raise EmptyFile("The file has a header row but no rows under it")
    return Sheet(headers, header_row, data, source_format)
