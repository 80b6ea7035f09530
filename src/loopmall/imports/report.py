"""The error report of a rejected import, in the reader's language: as JSON rows and as CSV.

Bad rows are stored as ``{row, field, column, code, params}``; the reason is written out
only when shown, from the rule's English message and the Chinese catalog.
"""

from __future__ import annotations

from typing import Any

from loopmall.core.csv_export import csv_bytes
from loopmall.imports.formats import ImportKind, column_label
from loopmall.imports.service import REASONS
from loopmall.web.i18n import translations


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


def errors_csv(kind: ImportKind, errors: list[dict[str, Any]], locale: str) -> bytes:
    """The error report as a CSV that Excel opens (UTF-8 with BOM)."""
    gettext = translations(locale).gettext
    header = [gettext("Row"), gettext("Column"), gettext("Reason")]
    rows = [[e["row"], e["column"], e["reason"]] for e in render_errors(kind, errors, locale)]
    return csv_bytes(header, rows)
