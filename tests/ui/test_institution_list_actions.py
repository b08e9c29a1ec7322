"""The list's bulk actions, saved views and export, with NiceGUI's simulated user."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Callable

import pytest
from nicegui import ElementFilter, ui
from nicegui.testing import User
from sqlmodel import select

from crm_app.institutions import service as institutions
from crm_app.institutions.models import Institution, InstitutionLabel, SavedView
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as User_
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.ui.conftest import element, log_in


def _create(name: str, **values: object) -> uuid.UUID:
    with unit_of_work() as session:
        return institutions.create_institution(session, SYSTEM_ACTOR, {"name": name, **values}, allow_duplicate=True).id


async def _table(user: User) -> ui.table:
    for _ in range(60):
        for table in user._gather_elements(None, ui.table, "institutions-table", None):
            if isinstance(table, ui.table) and table.rows:
                return table
        await asyncio.sleep(0.05)
    raise AssertionError("the institutions table did not load")


def _built(user: User, marker: str) -> bool:
    """Whether an element exists in the page at all (shown or not)."""
    assert user.client is not None
    with user.client:
        return bool(list(ElementFilter(marker=marker)))


async def test_bulk_tag_then_archive_the_selection(ui_user: User, account: Callable[..., str]) -> None:
    first, second = _create("Clinique Alpha", city="Pau"), _create("Clinique Beta", city="Pau")
    _create("Clinique Gamma", city="Pau", tags="appel d'offres")
    await log_in(ui_user, account(role=Role.ADMIN), path="/login?redirect_to=/institutions")
    table = await _table(ui_user)
    assert not _built(ui_user, "bulk-add-tag")  # the actions are built on the first selection
    rows = [row for row in table.rows if row["id"] in {str(first), str(second)}]
    ui_user.find(marker="institutions-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [row["id"] for row in rows]}
    )
    await ui_user.should_see("2 sélectionnés")
    bar = next(iter(ui_user.find(marker="bulk-add-tag").elements)).parent_slot.parent  # type: ignore[union-attr]
    assert table.parent_slot is not None and bar.parent_slot is table.parent_slot
    siblings = table.parent_slot.children
    assert siblings.index(bar) == siblings.index(table) - 1  # built on the selection, in its place above the table
    ui_user.find(marker="bulk-add-tag").click()
    await ui_user.should_see(marker="bulk-tag")
    ui_user.find(marker="bulk-tag").click()
    ui_user.find("appel d'offres").click()
    ui_user.find(marker="bulk-tag-apply").click()
    for _ in range(60):
        with unit_of_work() as session:
            tagged = set(
                session.exec(
                    select(InstitutionLabel.institution_id).where(InstitutionLabel.value == "appel d'offres")
                ).all()
            )
        if len(tagged) == 3:
            break
        await asyncio.sleep(0.05)
    assert {first, second} < tagged
    await ui_user.should_not_see("2 sélectionnés")  # the list reloaded: the selection starts again
    ui_user.find(marker="bulk-tag-dialog").trigger("hide")  # the browser's word that it has closed
    assert not _built(ui_user, "bulk-tag-dialog")  # each use leaves nothing behind
    rows = [row for row in (await _table(ui_user)).rows if row["id"] in {str(first), str(second)}]
    ui_user.find(marker="institutions-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [row["id"] for row in rows]}
    )
    ui_user.find(marker="bulk-archive").click()
    for _ in range(60):
        with unit_of_work() as session:
            archived = set(session.exec(select(Institution.id).where(Institution.is_archived)).all())
        if archived:
            break
        await asyncio.sleep(0.05)
    assert archived == {first, second}


async def test_bulk_assign_asks_for_a_user_then_assigns_the_selection(
    ui_user: User, account: Callable[..., str]
) -> None:
    first, second = _create("Clinique Alpha", city="Pau"), _create("Clinique Beta", city="Pau")
    account(role=Role.USER, email="paul@example.org", name="Paul Martin")
    await log_in(ui_user, account(role=Role.ADMIN), path="/login?redirect_to=/institutions")
    table = await _table(ui_user)
    rows = [row for row in table.rows if row["id"] in {str(first), str(second)}]
    ui_user.find(marker="institutions-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [row["id"] for row in rows]}
    )
    ui_user.find(marker="bulk-assign").click()
    await ui_user.should_see(marker="bulk-assign-user")
    ui_user.find(marker="bulk-assign-apply").click()
    await ui_user.should_see("Ce champ est obligatoire.")
    ui_user.find(marker="bulk-assign-user").click()
    ui_user.find("Paul Martin").click()
    ui_user.find(marker="bulk-assign-apply").click()
    for _ in range(60):
        with unit_of_work() as session:
            assigned = {i.id: i.assigned_user_id for i in session.exec(select(Institution)).all()}
        if all(assigned[i] is not None for i in (first, second)):
            break
        await asyncio.sleep(0.05)
    with unit_of_work() as session:
        paul = session.exec(select(User_).where(User_.email == "paul@example.org")).one()
    assert assigned[first] == assigned[second] == paul.id
    await ui_user.should_see("2 établissements attribués.")


async def test_the_filter_fields_are_built_when_the_panel_first_opens(
    ui_user: User, account: Callable[..., str]
) -> None:
    _create("CHU de Nantes", type="university_hospital", city="Nantes")
    _create("Pharmacie du Port", type="pharmacy", city="Nantes")
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions")
    await _table(ui_user)
    await ui_user.should_not_see(marker="filter-type")
    element(ui_user, "filters").value = True
    await ui_user.should_see(marker="filter-type")
    element(ui_user, "filter-type").value = ["pharmacy"]
    for _ in range(60):
        if [row["name"] for row in (await _table(ui_user)).rows] == ["Pharmacie du Port"]:
            break
        await asyncio.sleep(0.05)
    assert [row["name"] for row in (await _table(ui_user)).rows] == ["Pharmacie du Port"]
    element(ui_user, "filters").value = False
    element(ui_user, "filters").value = True  # opened again: the same fields, not a second set
    assert len(ui_user.find(marker="filter-type").elements) == 1


async def test_the_filter_choices_are_read_only_when_the_url_filters(
    ui_user: User, account: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the list reads its first page and nothing else: the choices (every user, team, tag...) are
    read when the panel opens, or with the first page when the URL filters and the panel opens with it."""
    _create("CHU de Nantes", type="university_hospital", city="Nantes")
    reads: list[str] = []
    choices = institutions.filter_choices

    def counted(*args: object, **kwargs: object) -> object:
        reads.append("choices")
        return choices(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(institutions, "filter_choices", counted)
    await log_in(ui_user, account(role=Role.ADMIN), path="/login?redirect_to=/institutions")
    await _table(ui_user)
    assert reads == [] and _built(ui_user, "new-institution")

    await ui_user.open("/institutions?type=university_hospital")
    await ui_user.should_see(marker="filter-type")
    assert reads == ["choices"]


async def test_saved_view_keeps_the_filters(ui_user: User, account: Callable[..., str]) -> None:
    _create("CHU de Limoges", type="university_hospital", city="Limoges", postal_code="87000")
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions?type=university_hospital")
    await _table(ui_user)
    assert not _built(ui_user, "view-name")  # the dialog is built when first opened
    ui_user.find(marker="save-view").click()
    ui_user.find(marker="view-name").type("Mes CHU")
    ui_user.find(marker="view-save").click()
    for _ in range(60):
        with unit_of_work() as session:
            saved = session.exec(select(SavedView)).all()
        if saved:
            break
        await asyncio.sleep(0.05)
    assert [(v.name, v.query, v.is_shared) for v in saved] == [("Mes CHU", {"type": ["university_hospital"]}, False)]


async def test_export_downloads_the_filtered_list(ui_user: User, account: Callable[..., str]) -> None:
    _create('=HYPERLINK("http://evil")', city="Lille", postal_code="59000")  # not in the filtered list
    _create("Clinique Lilloise", city="Lille", postal_code="59000")
    _create("@Lilloise SUM(A1)", city="Lille", postal_code="59800")  # in it, and a formula to a spreadsheet
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions?q=lilloise")
    await _table(ui_user)
    downloads = ui_user.download
    ui_user.find(marker="export").click()  # builds its menu
    ui_user.find(marker="export-csv").click()
    for _ in range(60):
        if downloads.http_responses:
            break
        await asyncio.sleep(0.05)
    response = downloads.http_responses[-1]
    text = response.content.decode("utf-8-sig")
    names = [row[0] for row in csv.reader(io.StringIO(text), delimiter=";")][1:]
    assert sorted(names) == ["'@Lilloise SUM(A1)", "Clinique Lilloise"]  # filtered, and the formula neutralised
    with unit_of_work() as session:
        assert len(session.exec(select(Institution)).all()) == 3
