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


INSTITUTION_COLUMNS = (N_("Name"), N_("Type"), N_("FINESS"), N_("SIRET"), N_("Accounting number"), N_("Postal code"),
                       N_("City"), N_("Region"), N_("Status"), N_("Assigned to"), N_("Team"), N_("Beds"),
                       N_("Operating rooms"), N_("Tags"), N_("Archived"))


def _institution_cells(row: InstitutionRow) -> list[Any]:
    return [row.name, gettext(institutions.TYPE_LABELS[row.type]), row.finess, row.siret, row.accounting_number,
            row.postal_code, row.city, row.region, gettext(institutions.STATUS_LABELS[row.commercial_status]),
            row.assigned_user_name, row.team_name, row.bed_capacity, row.surgical_rooms, ", ".join(row.tags),
            gettext(N_("Yes")) if row.is_archived else gettext(N_("No"))]


def export_institutions(session: Session, actor: Actor, query: InstitutionQuery,
                        export_format: ExportFormat) -> bytes:
    """The filtered list, every page of it; the export is written to the security log."""
    rows = [_institution_cells(row) for row in institutions.iter_institutions(session, actor, query)]
    header = [gettext(column) for column in INSTITUTION_COLUMNS]
    security_log.record(session, SecurityAction.EXPORT, severity=Severity.MEDIUM,
                        user_id=actor.id if actor.id.int else None,
                        email=actor.email, list="institutions", rows=len(rows), format=export_format.value,
                        filters=query.to_params())
    if export_format is ExportFormat.XLSX:
        return to_xlsx(header, rows, sheet=gettext(N_("Institutions")))
    return to_csv(header, rows)
