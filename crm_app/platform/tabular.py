"""CSV and XLSX files of rows, safe to open in a spreadsheet (cells that would run as formulas are
neutralised; control characters XML cannot hold are left out of an XLSX)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def neutralise(value: Any) -> Any:
    """A cell that a spreadsheet would run as a formula gets a leading quote (OWASP CSV injection).
    Control characters in front do not hide the formula: an XLSX leaves them out (`_xml_safe`), and a
    spreadsheet may skip them in a CSV."""
    if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.sub("", value).startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with BOM and `;`: what a French spreadsheet opens without a wizard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xml_safe(value: Any) -> Any:
    """Without the control characters an XLSX (XML 1.0) cannot hold: openpyxl refuses the whole file
    for one of them (a stray \\x07 typed or imported in a name)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Export") -> bytes:
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet[:31])
    worksheet.append(list(header))
    for row in rows:
        worksheet.append([neutralise(_xml_safe(v)) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
