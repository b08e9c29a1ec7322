"""The institutions list as CSV or XLSX, within the actor's rights (files written by `platform.tabular`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from crm_app.institutions import service as institutions
from crm_app.institutions.service import InstitutionQuery, InstitutionRow
from crm_app.platform import security_log
from crm_app.platform.i18n import N_, gettext
from crm_app.platform.models.audit import SecurityAction, Severity
from crm_app.platform.permissions import Actor
from crm_app.platform.tabular import ExportFormat, to_csv, to_xlsx

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
