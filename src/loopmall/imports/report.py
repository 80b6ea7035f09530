"""The error report of a rejected import, in the reader's language: as JSON rows and as CSV.

Bad rows are stored as ``{row, field, column, code, params}``; the reason is written out
only when shown, from the rule's English message and the Chinese catalog.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from loopmall.imports.formats import ImportKind, column_label
from loopmall.imports.service import REASONS
from loopmall.web.i18n import translations

# A cell starting with one of these is a formula to Excel; the report quotes it (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def reason(kind: ImportKind, code: str, params: dict[str, Any], locale: str) -> str:
    """The message for rule ``code`` in ``locale``, with its parameters filled in."""
    template = REASONS[kind].get(code, code)
    text = translations(locale).gettext(template)
    return text % params if params else text


def render_errors(
    kind: ImportKind, errors: list[dict[str, Any]], locale: str
) -> list[dict[str, Any]]:
    """Stored bad rows → ``{row, column, field, code, reason}`` for people and API clients."""
    out = []
    for error in errors:
        field = error.get("field", "")
        column = error.get("column") or (column_label(kind, field, {}, locale) if field else "")
        out.append(
            {
                "row": error["row"],
                "column": column,
                "field": field,
                "code": error["code"],
                "reason": reason(kind, error["code"], error.get("params") or {}, locale),
            }
        )
    return out


def _safe(cell: Any) -> str:
    text = str(cell)
    return "'" + text if text.startswith(_FORMULA_START) else text


def errors_csv(kind: ImportKind, errors: list[dict[str, Any]], locale: str) -> bytes:
    """The error report as a CSV that Excel opens (UTF-8 with BOM)."""
    gettext = translations(locale).gettext
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([gettext("Row"), gettext("Column"), gettext("Reason")])
    for error in render_errors(kind, errors, locale):
        writer.writerow([error["row"], _safe(error["column"]), _safe(error["reason"])])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
