"""/calls with NiceGUI's simulated user: logging a call through the dialog (after a field error), then
filtering the log by direction, contact, user and from the URL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from crm_app.db import unit_of_work
from crm_app.i18n import gettext
from crm_app.models import Call, Role, utcnow
from crm_app.models import User as UserRow
from crm_app.services import calls, contacts, institutions
from crm_app.services.permissions import SYSTEM_ACTOR, Actor
from tests.factories import actor_of
from tests.ui.conftest import log_in

PARIS = ZoneInfo("Europe/Paris")


def _actor(email: str) -> Actor:
    with unit_of_work() as session:
        return actor_of(session.exec(select(UserRow).where(UserRow.email == email)).one())


def _institution(name: str) -> uuid.UUID:
    with unit_of_work() as session:
        return institutions.create_institution(session, SYSTEM_ACTOR, {"name": name, "city": "Nantes",
                                                                       "postal_code": "44000"},
                                               allow_duplicate=True).id


def _contact(institution_id: uuid.UUID, first: str, last: str) -> uuid.UUID:
    with unit_of_work() as session:
        return contacts.create_contact(session, SYSTEM_ACTOR, institution_id,
                                       {"first_name": first, "last_name": last}).id


def _call(actor: Actor, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return calls.log_call(session, actor, values).id


def _one(user: User, marker: str) -> Any:
    return next(iter(user.find(marker=marker).elements))


async def _until(check: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


def _rows(user: User) -> list[dict[str, Any]]:
    found = user._gather_elements(None, ui.table, "calls-table", None)  # no public "find or none"
    return list(next(iter(found)).rows) if found else []


def _summaries(user: User) -> list[str]:
    return sorted(row["summary"] for row in _rows(user))


async def test_log_a_call_through_the_dialog_after_a_date_in_the_future(
        ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    institution_id = _institution("CHU de Nantes")
    contact_id = _contact(institution_id, "Paul", "Girard")
    await log_in(ui_user, email, path="/login?redirect_to=/calls")
    await ui_user.should_see(marker="new-call")
    ui_user.find(marker="new-call").click()
    await ui_user.should_see(marker="call-dialog")
    ui_user.find(marker="call-direction").click()
    _one(ui_user, "call-direction").value = "missed"
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
    ui_user.find(marker="call-called_at").clear().type(tomorrow)
    ui_user.find(marker="call-duration_seconds").type("12")
    _one(ui_user, "call-institution_id").select_record(institution_id, "CHU de Nantes")
    contact = _one(ui_user, "call-contact_id")
    await _until(lambda: contact.institution_id == institution_id, "the contact picker ignores the institution")
    ui_user.find(marker="call-contact_id").trigger("popupShow")
    await _until(lambda: str(contact_id) in contact.options, "the institution's contacts were not offered")
    contact.value = str(contact_id)
    ui_user.find(marker="call-summary").type("Rappeler pour la démo du 12")
    ui_user.find(marker="call-save").click()

    when = _one(ui_user, "call-called_at")
    await _until(lambda: bool(when.error), "no error next to the date")
    assert when.error == gettext("A call cannot be in the future.")
    ui_user.find(marker="call-called_at").clear().type("2026-01-15T09:30")
    ui_user.find(marker="call-save").click()
    await _until(lambda: _summaries(ui_user) == ["Rappeler pour la démo du 12"], "the call is not in the log")
    row = _rows(ui_user)[0]
    assert row["direction"] == gettext("Missed")
    assert row["contact"] == "Paul Girard" and row["institution"] == "CHU de Nantes"
    assert row["duration"] == gettext("{minutes} min", minutes=12)
    with unit_of_work() as session:
        logged = session.exec(select(Call)).one()
    assert logged.called_at == datetime(2026, 1, 15, 8, 30, tzinfo=UTC)  # 09:30 in Paris
    assert logged.duration_seconds == 720 and logged.contact_id == contact_id


async def test_filter_the_log_by_direction_contact_and_user(
        ui_user: User, account: Callable[..., str]) -> None:
    email = account(email="claire@example.org", name="Claire Dupont")
    other = account(email="ada@example.org", name="Ada Martin")
    institution_id = _institution("Clinique Jules Verne")
    girard = _contact(institution_id, "Paul", "Girard")
    roux = _contact(institution_id, "Léa", "Roux")
    yesterday = utcnow() - timedelta(days=1)
    me = _actor(email)
    _call(me, direction="in", contact_id=girard, summary="Entrant Girard", called_at=yesterday)
    _call(me, direction="out", contact_id=roux, summary="Sortant Roux", called_at=yesterday)
    _call(me, direction="missed", contact_id=girard, summary="Manqué Girard", called_at=yesterday - timedelta(days=40))
    _call(_actor(other), direction="out", summary="Appel d'Ada", called_at=yesterday)

    await log_in(ui_user, email, path="/login?redirect_to=/calls")
    await _until(lambda: _summaries(ui_user) == ["Entrant Girard", "Manqué Girard", "Sortant Roux"],
                 "my calls are not listed")
    _one(ui_user, "filter-direction").value = ["in", "missed"]
    await _until(lambda: _summaries(ui_user) == ["Entrant Girard", "Manqué Girard"], "direction filter ignored")
    _one(ui_user, "filter-period").value = "30d"
    await _until(lambda: _summaries(ui_user) == ["Entrant Girard"], "period filter ignored")
    _one(ui_user, "filter-period").value = ""
    _one(ui_user, "filter-direction").value = []
    _one(ui_user, "filter-contact").select_record(roux, "Léa Roux")
    await _until(lambda: _summaries(ui_user) == ["Sortant Roux"], "contact filter ignored")

    await ui_user.open(f"/calls?direction=missed&contact_id={girard}")
    await _until(lambda: _summaries(ui_user) == ["Manqué Girard"], "filters from the URL ignored")
    assert _one(ui_user, "filter-contact").selected_label == "Paul Girard"

    await ui_user.open("/calls?user=all")  # "everyone I can see": for a rep, her own calls only
    await _until(lambda: _summaries(ui_user) == ["Entrant Girard", "Manqué Girard", "Sortant Roux"],
                 "a rep sees other people's calls")


async def test_an_administrator_filters_by_user(ui_user: User, account: Callable[..., str]) -> None:
    rep = account(email="claire@example.org", name="Claire Dupont")
    admin = account(role=Role.ADMIN, email="ada@example.org", name="Ada Admin")
    _call(_actor(rep), direction="out", summary="Appel de Claire")
    _call(_actor(admin), direction="in", summary="Appel d'Ada")
    await log_in(ui_user, admin, path="/login?redirect_to=/calls?user=all")
    await _until(lambda: _summaries(ui_user) == ["Appel d'Ada", "Appel de Claire"], "everyone's calls not listed")
    _one(ui_user, "filter-user").value = str(_actor(rep).id)
    await _until(lambda: _summaries(ui_user) == ["Appel de Claire"], "user filter ignored")
    _one(ui_user, "filter-user").value = "me"
    await _until(lambda: _summaries(ui_user) == ["Appel d'Ada"], "'me' filter ignored")
