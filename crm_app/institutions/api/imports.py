"""POST /api/institutions/import: the CSV import in one call (same service as the wizard page)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import File, Form, Header, UploadFile
from pydantic import BaseModel

from crm_app.institutions import imports
from crm_app.institutions.imports import Action, ImportReport
from crm_app.platform.api.deps import ActorDep, ClientDep, SessionDep
from crm_app.platform.api.routes import area_router
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_, negotiate, use_locale

router = area_router(prefix="/institutions", tags=["institutions"])


class CellErrorOut(BaseModel):
    field: str  # the target field, or "row" for an error about the whole row
    column: str | None  # the file's column that feeds the field (None: the whole row, or no column)
    value: str | None  # the refused value, as written in the file
    reason: str  # why, translated


class RejectedRowOut(BaseModel):
    line: int  # in the file, the header being line 1
    cells: list[str]
    fields: dict[str, str]  # field → reason, translated
    errors: list[CellErrorOut]
    reasons: list[str]  # 'Line 12, "Postal code": the value "7500A" is refused. A French postal code has 5 digits.'


class ImportReportOut(BaseModel):
    total: int
    created: int
    merged: int
    skipped: int
    rejected: int
    rejected_rows: list[RejectedRowOut]
    created_ids: list[uuid.UUID]


def _mapping(value: str | None) -> dict[str, str | None] | None:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in parsed.items()
    ):
        raise ValidationFailed({"mapping": N_("The mapping must be a JSON object: file column → field.")})
    return parsed


def _report_out(report: ImportReport) -> ImportReportOut:
    return ImportReportOut(
        total=report.total,
        created=report.created,
        merged=report.merged,
        skipped=report.skipped,
        rejected=report.rejected,
        created_ids=report.created_ids,
        rejected_rows=[
            RejectedRowOut(
                line=row.line,
                cells=row.cells,
                fields={error.field: error.why() for error in errors},
                errors=[
                    CellErrorOut(field=error.field, column=error.column, value=error.value, reason=error.why())
                    for error in errors
                ],
                reasons=[error.describe(row.line) for error in errors],
            )
            for row in report.rejected_rows
            for errors in [report.errors_of(row)]
        ],
    )


@router.post(
    "/import",
    response_model=ImportReportOut,
    responses={
        403: {"description": "Not allowed to import"},
        422: {"description": "File refused (size, rows, format) or mapping not valid"},
    },
)
def import_institutions(
    *,
    session: SessionDep,
    actor: ActorDep,
    client: ClientDep,
    file: Annotated[
        UploadFile,
        File(description="CSV file, `,` or `;`, UTF-8, Windows-1252 or Latin-1, at most 20 MB and 50,000 rows"),
    ],
    default_action: Annotated[Action, Form(description="What to do with duplicates")] = Action.SKIP,
    mapping: Annotated[
        str | None,
        Form(
            description='Optional JSON object {"file column": "field" or null}; other columns keep the recognised field'
        ),
    ] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> ImportReportOut:
    """Import institutions and their contact from a CSV file, all or nothing.

    Headers in French or English are recognised; duplicates (against the database and the earlier rows
    of the file) are skipped, merged (empty fields filled, new contact added) or created anyway as
    `default_action` says. Invalid rows are rejected with their reasons.
    """
    content = file.file.read(imports.MAX_BYTES + 1)  # enough to tell that a file is too big
    by_header = _mapping(mapping)
    columns_mapping = None
    if by_header is not None:
        analysis = imports.analyse_file(session, actor, content)
        columns_mapping = imports.mapping_from_headers(analysis.columns, by_header)
    report = imports.run_import(
        session, actor, content, columns_mapping, default_action=default_action, client=client, file_name=file.filename
    )
    with use_locale(negotiate(accept_language) or "en"):
        return _report_out(report)
