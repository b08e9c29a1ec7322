"""/calls with NiceGUI's simulated user: logging a call through the dialog (after a field error), then
filtering the log by direction, contact, user and from the URL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nicegui.testing import User
from sqlmodel import select

from crm_app.activities import calls
from crm_app.activities.models import Call
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from tests.ui.conftest import actor_for, element, eventually, log_in, new_contact, new_institution, table_rows

PARIS = ZoneInfo("Europe/Paris")


def _call(actor: Actor, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return calls.log_call(session, actor, values).id


def _rows(user: User) -> list[dict[str, Any]]:
    return table_rows(user, "calls-table")


def _values(user: User, marker: str) -> list[Any]:
    """The values of the fields carrying `marker`; none while they are not shown."""
    found: set[Any] = user._gather_elements(None, None, marker, None)
    return [field.value for field in found]


def _summaries(user: User) -> list[str]:
    return sorted(row["summary"] for row in _rows(user))


async def test_log_a_call_through_the_dialog_after_a_date_in_the_future(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    institution_id = new_institution("CHU de Nantes", city="Nantes", postal_code="44000")
    contact_id = new_contact(institution_id, "Paul", "Girard")
    await log_in(ui_user, email, path="/login?redirect_to=/calls")
    await ui_user.should_see(marker="new-call")
    ui_user.find(marker="new-call").click()
    await ui_user.should_see(marker="call-dialog")
    ui_user.find(marker="call-direction").click()
    element(ui_user, "call-direction").value = "missed"
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
    ui_user.find(marker="call-called_at").clear().type(tomorrow)
    ui_user.find(marker="call-duration_seconds").type("12")
    element(ui_user, "call-institution_id").select_record(institution_id, "CHU de Nantes")
    contact = element(ui_user, "call-contact_id")
    await eventually(lambda: contact.institution_id == institution_id, "the contact picker ignores the institution")
    ui_user.find(marker="call-contact_id").trigger("popupShow")
    await eventually(lambda: str(contact_id) in contact.options, "the institution's contacts were not offered")
    contact.value = str(contact_id)
    ui_user.find(marker="call-summary").type("Rappeler pour la démo du 12")
    ui_user.find(marker="call-save").click()

    when = element(ui_user, "call-called_at")
    await eventually(lambda: bool(when.error), "no error next to the date")
    assert when.error == gettext("A call cannot be in the future.")
    ui_user.find(marker="call-called_at").clear().type("2026-01-15T09:30")
    ui_user.find(marker="call-save").click()
    await eventually(lambda: _summaries(ui_user) == ["Rappeler pour la démo du 12"], "the call is not in the log")
    row = _rows(ui_user)[0]
    assert row["direction"] == gettext("Missed")
    assert row["contact"] == "Paul Girard" and row["institution"] == "CHU de Nantes"
    assert row["duration"] == gettext("{minutes} min", minutes=12)
    with unit_of_work() as session:
        logged = session.exec(select(Call)).one()
    assert logged.called_at == datetime(2026, 1, 15, 8, 30, tzinfo=UTC)  # 09:30 in Paris
    assert logged.duration_seconds == 720 and logged.contact_id == contact_id


async def test_filter_the_log_by_direction_contact_and_user(ui_user: User, account: Callable[..., str]) -> None:
    email = account(email="claire@example.org", name="Claire Dupont")
    other = account(email="ada@example.org", name="Ada Martin")
    institution_id = new_institution("Clinique Jules Verne", city="Nantes", postal_code="44000")
    girard = new_contact(institution_id, "Paul", "Girard")
    roux = new_contact(institution_id, "Léa", "Roux")
    yesterday = utcnow() - timedelta(days=1)
    me = actor_for(email)
    _call(me, direction="in", contact_id=girard, summary="Entrant Girard", called_at=yesterday)
    _call(me, direction="out", contact_id=roux, summary="Sortant Roux", called_at=yesterday)
    _call(me, direction="missed", contact_id=girard, summary="Manqué Girard", called_at=yesterday - timedelta(days=40))
    _call(actor_for(other), direction="out", summary="Appel d'Ada", called_at=yesterday)

    await log_in(ui_user, email, path="/login?redirect_to=/calls")
    await eventually(
        lambda: _summaries(ui_user) == ["Entrant Girard", "Manqué Girard", "Sortant Roux"], "my calls are not listed"
    )
    element(ui_user, "filter-direction").value = ["in", "missed"]
    await eventually(lambda: _summaries(ui_user) == ["Entrant Girard", "Manqué Girard"], "direction filter ignored")
    element(ui_user, "filter-period").value = "30d"
    await eventually(lambda: _summaries(ui_user) == ["Entrant Girard"], "period filter ignored")
    element(ui_user, "filter-period").value = ""
    element(ui_user, "filter-direction").value = []
    element(ui_user, "filter-contact").select_record(roux, "Léa Roux")
    await eventually(lambda: _summaries(ui_user) == ["Sortant Roux"], "contact filter ignored")

    await ui_user.open(f"/calls?direction=missed&contact_id={girard}")
    await eventually(lambda: _summaries(ui_user) == ["Manqué Girard"], "filters from the URL ignored")
    assert element(ui_user, "filter-contact").selected_label == "Paul Girard"

    await ui_user.open("/calls?user=all")  # "everyone I can see": for a rep, her own calls only
    await eventually(
        lambda: _summaries(ui_user) == ["Entrant Girard", "Manqué Girard", "Sortant Roux"],
        "a rep sees other people's calls",
    )


async def test_an_administrator_filters_by_user(ui_user: User, account: Callable[..., str]) -> None:
    rep = account(email="claire@example.org", name="Claire Dupont")
    admin = account(role=Role.ADMIN, email="ada@example.org", name="Ada Admin")
    _call(actor_for(rep), direction="out", summary="Appel de Claire")
    _call(actor_for(admin), direction="in", summary="Appel d'Ada")
    await log_in(ui_user, admin, path="/login?redirect_to=/calls?user=all")
    await eventually(lambda: _summaries(ui_user) == ["Appel d'Ada", "Appel de Claire"], "everyone's calls not listed")
    element(ui_user, "filter-user").value = str(actor_for(rep).id)
    await eventually(lambda: _summaries(ui_user) == ["Appel de Claire"], "user filter ignored")
    element(ui_user, "filter-user").value = "me"
    await eventually(lambda: _summaries(ui_user) == ["Appel d'Ada"], "'me' filter ignored")


async def test_the_call_log_follows_changes_and_an_open_call_keeps_the_typing(
    ui_user: User, account: Callable[..., str]
) -> None:
    """Calls logged, corrected or deleted in another tab show in the open log without a reload; an
    open call being corrected is warned (naming who) instead of losing the typing; save and delete say
    so and the log shows the result."""
    email = account(name="Claire Dupont")
    me = actor_for(email)
    call_id = _call(me, direction="out", summary="Relance devis")
    await log_in(ui_user, email, path=f"/login?redirect_to=/calls/{call_id}")
    await ui_user.should_see(marker="call-dialog")
    await eventually(lambda: _summaries(ui_user) == ["Relance devis"], "the log is not shown")

    _call(me, direction="in", summary="Question sur la livraison")  # another tab
    await eventually(
        lambda: _summaries(ui_user) == ["Question sur la livraison", "Relance devis"], "a new call does not show"
    )

    element(ui_user, "call-summary").value = "Relance devis : rappeler lundi"
    with unit_of_work() as session:  # the same call corrected in another tab
        version = session.get(Call, call_id).version  # type: ignore[union-attr]
        calls.update_call(session, me, call_id, {"summary": "Relance devis signé"}, expected_version=version)
    await ui_user.should_see(marker="stale-message")
    assert "Claire Dupont" in element(ui_user, "stale-message").text
    assert element(ui_user, "call-summary").value == "Relance devis : rappeler lundi"
    await eventually(
        lambda: _summaries(ui_user) == ["Question sur la livraison", "Relance devis signé"], "the log did not follow"
    )
    ui_user.find(marker="stale-reload").click()
    await eventually(
        lambda: _values(ui_user, "call-summary") == ["Relance devis signé"],
        "their version is not loaded",
    )
    element(ui_user, "call-summary").value = "Devis signé, livraison en mars"
    ui_user.find(marker="call-save").click()
    await ui_user.should_see(gettext("Call saved."))
    await eventually(
        lambda: _summaries(ui_user) == ["Devis signé, livraison en mars", "Question sur la livraison"],
        "the saved call is not in the log",
    )

    ui_user.find(marker="calls-table").trigger("open", str(call_id))
    await ui_user.should_see(marker="call-delete")
    ui_user.find(marker="call-delete").click()
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(gettext("Call deleted."))
    await eventually(lambda: _summaries(ui_user) == ["Question sur la livraison"], "the deleted call is still listed")
