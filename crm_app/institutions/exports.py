"""The institutions list as CSV or XLSX, within the actor's rights (files written by `platform.tabular`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from crm_app.institutions import service as institutions
from crm_app.institutions.fields import EXPORTED, FieldSpec, Shown
from crm_app.institutions.service import InstitutionQuery, InstitutionRow
from crm_app.platform import security_log
from crm_app.platform.i18n import N_, gettext
from crm_app.platform.models.audit import SecurityAction, Severity
from crm_app.platform.permissions import Actor
from crm_app.platform.tabular import ExportFormat, to_csv, to_xlsx


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


def export_institutions(session: Session, actor: Actor, query: InstitutionQuery, export_format: ExportFormat) -> bytes:
    """The filtered list, every page of it; the export is written to the security log."""
    rows = [_institution_cells(row) for row in institutions.iter_institutions(session, actor, query)]
    header = [gettext(spec.label) for spec in EXPORTED]
    security_log.record(
        session,
        SecurityAction.EXPORT,
        severity=Severity.MEDIUM,
        user_id=actor.id if actor.id.int else None,
        email=actor.email,
        list="institutions",
        rows=len(rows),
        format=export_format.value,
        filters=query.to_params(),
    )
    if export_format is ExportFormat.XLSX:
        return to_xlsx(header, rows, sheet=gettext(N_("Institutions")))
    return to_csv(header, rows)
