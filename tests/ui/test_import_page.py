"""The CSV import wizard: upload, mapping, preview with choices, import with progress, report."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from sqlalchemy import func
from sqlmodel import select

from crm_app.institutions import imports
from crm_app.institutions.imports import RowStatus
from crm_app.institutions.models import Institution
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as Account
from tests.factories import actor_of
from tests.ui.conftest import log_in

SAMPLE = Path("/work/shared/data/institutions_fr_sample.csv").read_bytes()
WAIT = 100  # retries of 0.1 s: the steps run the service in a worker thread


async def _open_import(user: User, email: str) -> None:
    await log_in(user, email)
    await user.should_see(marker="user-menu")
    await user.open("/institutions/import")
    await user.should_see(marker="upload")


async def _until(condition: Callable[[], bool]) -> None:
    for _attempt in range(WAIT):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the page did not get there in time")


async def _upload(user: User, name: str, data: bytes) -> None:
    [upload] = user.find(marker="upload").elements
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads([SmallFileUpload(name=name, content_type="text/csv", _data=data)])


def _text(user: User, marker: str) -> str:
    [element] = user.find(marker=marker).elements
    return str(getattr(element, "text", ""))


def _expected_counts(email: str, data: bytes) -> dict[RowStatus, int]:
    with unit_of_work() as session:
        actor = actor_of(session.exec(select(Account).where(Account.email == email)).one())
        preview = imports.preview_import(session, actor, data)
    return {status: preview.count(status) for status in RowStatus}


def _institutions() -> int:
    with unit_of_work() as session:
        return int(session.exec(select(func.count()).select_from(Institution)).one())


async def test_a_manager_imports_the_sample_file_step_by_step(ui_user: User, account: Callable[..., str]) -> None:
    email = account(role=Role.MANAGER)
    data = SAMPLE
    expected = _expected_counts(email, data)
    assert expected[RowStatus.DUPLICATE] == 3 and expected[RowStatus.ERROR] >= 4
    await _open_import(ui_user, email)
    await _upload(ui_user, "institutions_fr_sample.csv", data)

    await ui_user.should_see(marker="mapping-next", retries=WAIT)
    [name_select] = ui_user.find(marker="map-0").elements
    assert isinstance(name_select, ui.select) and name_select.value == "name"
    assert "209" in _text(ui_user, "file-summary")
    ui_user.find(marker="mapping-next").click()

    await ui_user.should_see(marker="start-import", retries=WAIT)
    assert _text(ui_user, "count-valid") == str(expected[RowStatus.VALID])
    assert _text(ui_user, "count-duplicate") == "3"
    assert _text(ui_user, "count-error") == str(expected[RowStatus.ERROR])
    [table] = ui_user.find(marker="preview-table").elements
    assert isinstance(table, ui.table)
    await _until(lambda: len(table.rows) == 25)  # the first page of the preview, loaded off the event loop
    first = {row["line"]: row for row in table.rows}
    assert first[6]["status"] == gettext("Error") and gettext("Beds") in first[6]["details"]
    assert first[2]["action"] == "create"
    # Line 205 duplicates line 190 by name and postal code: create it anyway instead of skipping it.
    ui_user.find(marker="preview-table").trigger("override", {"line": 205, "action": "create"})

    ui_user.find(marker="start-import").click()
    await ui_user.should_see(marker="report-created", retries=WAIT)
    created = expected[RowStatus.VALID] + 1
    assert _text(ui_user, "report-created") == str(created)
    assert _text(ui_user, "report-merged") == "0"
    assert _text(ui_user, "report-skipped") == "2"
    assert _text(ui_user, "report-rejected") == str(expected[RowStatus.ERROR])
    assert _institutions() == created

    ui_user.find(marker="download-rejected").click()
    response = await ui_user.download.next(timeout=5)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(rows) == 1 + expected[RowStatus.ERROR]
    assert rows[0][-1] == gettext("Reason")  # French by default
    assert any(gettext("This SIRET number is not valid (check digit).") in row[-1] for row in rows[1:])


async def test_the_preview_follows_the_column_mapping(ui_user: User, account: Callable[..., str]) -> None:
    email = account(role=Role.MANAGER)
    data = "Établissement;Commune;Autre\r\nClinique A;Lyon;x\r\nClinique B;Lyon;y\r\n".encode()
    await _open_import(ui_user, email)
    await _upload(ui_user, "cliniques.csv", data)
    await ui_user.should_see(marker="mapping-next", retries=WAIT)
    selects: list[Any] = [next(iter(ui_user.find(marker=f"map-{i}").elements)) for i in range(3)]
    assert [s.value for s in selects] == ["name", "city", ""]
    selects[0].value = ""  # without a name column the preview is refused
    ui_user.find(marker="mapping-next").click()
    await _until(lambda: ui_user.notify.contains(gettext("Choose the column that holds the institution's name.")))
    await ui_user.should_see(marker="mapping-next", retries=WAIT)  # back on the mapping, to fix it
    assert _institutions() == 0


async def test_a_file_that_is_not_csv_is_refused(ui_user: User, account: Callable[..., str]) -> None:
    await _open_import(ui_user, account(role=Role.MANAGER))
    await _upload(ui_user, "plaquette.pdf", b"%PDF-1.7")
    await _until(lambda: ui_user.notify.contains(gettext("Choose a CSV file (.csv).")))
    await _upload(ui_user, "export.csv", b"PK\x03\x04\x00\x00")
    await ui_user.should_see(marker="upload")
    await _until(lambda: ui_user.notify.contains(gettext("This file could not be read as CSV.")))
    await ui_user.should_not_see(marker="mapping-next")


async def test_a_sales_rep_cannot_open_the_import(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(role=Role.USER))
    await ui_user.should_see(marker="user-menu")
    await ui_user.open("/institutions/import")
    await ui_user.should_see(gettext("You are not allowed to open this page."))
    await ui_user.should_not_see(marker="upload")
