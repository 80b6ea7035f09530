"""Reading uploads: every encoding Excel in China produces, XLSX, and every broken file."""

from __future__ import annotations

import io
import zipfile

import pytest

from loopmall.core.errors import PayloadTooLarge
from loopmall.imports.formats import (
    DuplicateColumns,
    ImportKind,
    MissingColumns,
    read_table,
    template_csv,
)
from loopmall.imports.sheets import EmptyFile, MalformedFile, TooManyRows, read_sheet
from tests.imports.samples import (
    STORE_HEADERS_EN,
    STORE_HEADERS_ZH,
    store_row,
    to_csv,
    to_xlsx,
)

LIMIT = 1024 * 1024


@pytest.mark.parametrize(
    ("encoding", "source_format"),
    [
        ("utf-8", "csv-utf-8"),
        ("utf-8-sig", "csv-utf-8"),
        ("gbk", "csv-gb18030"),
        ("gb18030", "csv-gb18030"),
        ("utf-16", "csv-utf-16"),
    ],
)
def test_csv_encodings_read_the_same_chinese_text(encoding: str, source_format: str) -> None:
    # given the same Chinese table saved in each encoding
    data = to_csv(STORE_HEADERS_ZH, [store_row(1), store_row(2)], encoding)
    # when it is read
    table = read_table(data, ImportKind.STORES, max_bytes=LIMIT)
    # then the headers map to fields and the text survives, rows numbered as in Excel
    assert table.source_format == source_format
    assert table.headers["code"] == "门店编码"
    assert [n for n, _ in table.rows] == [2, 3]
    assert table.rows[0][1]["name"] == "南京西路1号店"
    assert table.rows[1][1]["address"] == "南京西路1002号"


def test_utf16_tab_separated_text_as_excel_saves_unicode_text() -> None:
    text = "\t".join(STORE_HEADERS_EN) + "\r\n" + "\t".join(store_row(1)) + "\r\n"
    table = read_table(text.encode("utf-16"), ImportKind.STORES, max_bytes=LIMIT)
    assert table.rows[0][1]["code"] == "SH001"
    assert table.rows[0][1]["opening_hours"] == "10:00-22:00"


def test_xlsx_numbers_become_the_text_people_typed() -> None:
    # given a workbook where Excel kept phone numbers and coordinates as numbers
    row: list[object] = list(store_row(1))
    row[5] = 13800000001  # phone typed as a number
    row[6] = 31.2304
    row[7] = 121.0  # a whole-number float
    data = to_xlsx(STORE_HEADERS_EN, [row, [None] * 10, store_row(3)])
    # when it is read
    table = read_table(data, ImportKind.STORES, max_bytes=LIMIT)
    # then numbers read as text, the blank row is skipped, and row numbers still match Excel
    assert table.source_format == "xlsx"
    assert [n for n, _ in table.rows] == [2, 4]
    assert table.rows[0][1]["phone"] == "13800000001"
    assert table.rows[0][1]["latitude"] == "31.2304"
    assert table.rows[0][1]["longitude"] == "121"


def test_blank_lines_in_csv_keep_excel_row_numbers() -> None:
    data = to_csv(STORE_HEADERS_EN, [store_row(1), [""] * 10, store_row(3)])
    table = read_table(data, ImportKind.STORES, max_bytes=LIMIT)
    assert [(n, v["code"]) for n, v in table.rows] == [(2, "SH001"), (4, "SH003")]


def test_headers_ignore_case_spaces_and_required_marks() -> None:
    headers = ["Code", "门店名称（必填）", "Opening Hours", "PICKUP", "my notes"]
    data = to_csv(headers, [["A1", "店", "24h", "no", "whatever"]])
    table = read_table(data, ImportKind.STORES, max_bytes=LIMIT)
    assert table.fields == frozenset({"code", "name", "opening_hours", "pickup"})
    assert table.rows[0][1] == {"code": "A1", "name": "店", "opening_hours": "24h", "pickup": "no"}


def test_cells_beyond_the_header_are_flagged() -> None:
    data = b"code,name\r\nA1,Shop,stray\r\nA2,Shop2,\r\n"
    table = read_table(data, ImportKind.STORES, max_bytes=LIMIT)
    assert table.overflow_rows == [2]


def test_template_reads_back_as_its_own_kind() -> None:
    for kind in ImportKind:
        data = template_csv(kind)
        assert data.startswith(b"\xef\xbb\xbf")
        table = read_table(data, kind, max_bytes=LIMIT)
        assert len(table.rows) == 1
    header = template_csv(ImportKind.STORES).decode("utf-8-sig").splitlines()[0]
    assert header.split(",")[:3] == ["门店编码*", "门店名称*", "城市"]


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        (b"", EmptyFile, "empty"),
        (b"   \r\n  ", EmptyFile, "empty"),
        (b"\xef\xbb\xbf", EmptyFile, "no header"),
        (b"code,name\r\n", EmptyFile, "no rows"),
        (b"code,name\r\n,\r\n", EmptyFile, "no rows"),
        (bytes(range(256)) * 4, MalformedFile, ""),
        (b"\x00\x01\x02binary\x00junk", MalformedFile, "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, MalformedFile, ".xls"),
        (b"PK\x03\x04not really a zip", MalformedFile, "XLSX"),
        (b'code,name\r\n"A1,unterminated\r\n', MalformedFile, "CSV is broken"),
        (b'code,name\r\nA1,"x"y\r\n', MalformedFile, "CSV is broken"),
    ],
)
def test_broken_files_are_refused_with_a_clear_problem(
    data: bytes, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        read_sheet(data, max_bytes=LIMIT)
    assert fragment in str(caught.value)


def test_a_zip_that_is_not_a_workbook_is_malformed() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(MalformedFile):
        read_sheet(buffer.getvalue(), max_bytes=LIMIT)


def test_a_truncated_workbook_is_malformed() -> None:
    data = to_xlsx(STORE_HEADERS_EN, [store_row(1)])
    with pytest.raises(MalformedFile):
        read_sheet(data[: len(data) // 2], max_bytes=LIMIT)


def test_size_and_row_limits() -> None:
    data = to_csv(STORE_HEADERS_EN, [store_row(n) for n in range(1, 6)])
    with pytest.raises(PayloadTooLarge) as too_big:
        read_sheet(data, max_bytes=len(data) - 1)
    assert too_big.value.status == 413
    with pytest.raises(TooManyRows) as too_many:
        read_sheet(data, max_bytes=LIMIT, max_rows=4)
    assert too_many.value.status == 413
    assert len(read_sheet(data, max_bytes=len(data), max_rows=5).rows) == 5


def test_missing_and_duplicate_columns() -> None:
    with pytest.raises(MissingColumns) as missing:
        read_table(to_csv(["name", "city"], [["店", "上海"]]), ImportKind.STORES, max_bytes=LIMIT)
    assert missing.value.extra["missing"] == ["code"]
    with pytest.raises(MissingColumns) as missing_staff:
        read_table(to_csv(["姓名"], [["王"]]), ImportKind.STAFF, max_bytes=LIMIT)
    assert missing_staff.value.extra["missing"] == ["phone", "role"]
    with pytest.raises(DuplicateColumns) as duplicate:
        read_table(
            to_csv(["code", "门店编码", "name"], [["A", "B", "C"]]),
            ImportKind.STORES,
            max_bytes=LIMIT,
        )
    assert duplicate.value.extra["columns"] == ["code", "门店编码"]
