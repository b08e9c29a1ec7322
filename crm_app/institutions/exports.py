"""CSV and XLSX exports of lists, within the actor's rights, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from openpyxl import Workbook
from sqlmodel import Session

from crm_app.institutions import service as institutions
from crm_app.institutions.fields import EXPORTED, FieldSpec, Shown
from crm_app.institutions.service import InstitutionQuery, InstitutionRow
from crm_app.platform import security_log
from crm_app.platform.i18n import N_, gettext
from crm_app.platform.models.audit import SecurityAction, Severity
from crm_app.platform.permissions import Actor

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def neutralise(value: Any) -> Any:
    """A cell that a spreadsheet would run as a formula gets a leading quote (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
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


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Export") -> bytes:
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet[:31])
    worksheet.append(list(header))
    for row in rows:
        worksheet.append([neutralise(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(spec: FieldSpec, row: InstitutionRow) -> Any:
    """A field of a list row as the export shows it (`FieldSpec.shown`)."""
    value = getattr(row, spec.name_field or spec.name)
    if spec.shown is Shown.CODE and spec.codes is not None:
        return gettext(spec.codes[value])
    if spec.shown is Shown.LIST:
        return ", ".join(value)
    if spec.shown is Shown.YES_NO:
        return gettext(N_("Yes")) if value else gettext(N_("No"))
    return value


def _institution_cells(row: InstitutionRow) -> list[Any]:
    return [_cell(spec, row) for spec in EXPORTED]


def export_institutions(session: Session, actor: Actor, query: InstitutionQuery,
                        export_format: ExportFormat) -> bytes:
    """The filtered list, every page of it; the export is written to the security log."""
    rows = [_institution_cells(row) for row in institutions.iter_institutions(session, actor, query)]
    header = [gettext(spec.label) for spec in EXPORTED]
    security_log.record(session, SecurityAction.EXPORT, severity=Severity.MEDIUM,
                        user_id=actor.id if actor.id.int else None,
                        email=actor.email, list="institutions", rows=len(rows), format=export_format.value,
                        filters=query.to_params())
    if export_format is ExportFormat.XLSX:
        return to_xlsx(header, rows, sheet=gettext(N_("Institutions")))
    return to_csv(header, rows)
