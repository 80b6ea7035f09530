"""The one CSV writer for files a person opens in a spreadsheet (issue #11 case 8).

Every cell is written so that Excel, WPS and LibreOffice show it as text and never run it
(CSV / formula injection, after OWASP's guidance): a text cell whose first character is
``=``, ``+``, ``-``, ``@``, TAB, CR or LF — or whose first character after leading
whitespace is one of ``= + - @`` — gets a leading single quote. Numbers (``int``, and text
that is exactly a decimal number such as ``"-12.50"``) are written as they are: a number
cannot be a formula, and a clawback must stay a negative amount in the sheet.

The file is UTF-8 with a byte-order mark (so that Excel opens Chinese as Chinese) and CRLF
line ends, as our exports have always been.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL_START = ("\t", "\r", "\n")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")

Cell = str | int | Decimal | None


def neutralise(cell: Cell) -> str:
    """``cell`` as text a spreadsheet will not run as a formula."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, int | Decimal):
        return str(cell)
    text = str(cell)
    if not text or _NUMBER.fullmatch(text):
        return text
    if text.startswith(_CONTROL_START) or text.lstrip().startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_bytes(header: Sequence[Cell], rows: Iterable[Sequence[Cell]], *, bom: bool = True) -> bytes:
    """A whole CSV file: ``header`` then ``rows``, every cell neutralised; UTF-8 (with BOM)."""
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in header])
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return buffer.getvalue().encode("utf-8")
