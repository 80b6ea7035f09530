"""The one CSV writer: cells a spreadsheet would run are written as text (OWASP)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from loopmall.core.csv_export import csv_bytes, neutralise


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+86 139", "'+86 139"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\n=1+1", "'\n=1+1"),
        ("\tname", "'\tname"),
        ("  =1+1", "'  =1+1"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("张三", "张三"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        ("-12.50", "-12.50"),
        ("12", "12"),
        (-1250, "-1250"),
        (Decimal("-1.5"), "-1.5"),
    ],
)
def test_cells(cell: str | int | Decimal | None, written: str) -> None:
    assert neutralise(cell) == written


def test_file_is_utf8_with_bom_and_crlf_and_reads_back() -> None:
    data = csv_bytes(["名字 name", "金额"], [['\t=HYPERLINK("x")', "-3.00"], ["李四", 5]])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["名字 name", "金额"], ['\'\t=HYPERLINK("x")', "-3.00"], ["李四", "5"]]
