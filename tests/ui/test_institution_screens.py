"""Institution screens with NiceGUI's simulated user: list, search, filters from the URL, form with
field errors and the duplicate warning, detail with hostile text, rights, history, global search."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.institutions.models import CommercialStatus, Institution, InstitutionType
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, format_date, gettext
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as UserRow
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import make_institution
from tests.ui.conftest import breadcrumb, html_elements, log_in
from tests.ui.search_box import search_option


def _create(**values: object) -> uuid.UUID:
    with unit_of_work() as session:
        return institutions.create_institution(session, SYSTEM_ACTOR, values, allow_duplicate=True).id


def _user_id(email: str) -> uuid.UUID:
    with unit_of_work() as session:
        return session.exec(select(UserRow.id).where(UserRow.email == email)).one()


async def _table_rows(user: User, marker: str, expected: int | None = None) -> list[dict[str, object]]:
    for _ in range(60):
        tables = user._gather_elements(None, ui.table, marker, None)  # no public "find or none"
        if tables:
            table = tables.pop()
            assert isinstance(table, ui.table)
            if expected is None or len(table.rows) == expected:
                return list(table.rows)
        await asyncio.sleep(0.05)
    raise AssertionError(f"table {marker} did not show {expected} rows")


async def test_list_shows_institutions_and_searches_without_accents(ui_user: User, account: Callable[..., str]) -> None:
    _create(name="Hôpital Européen Georges-Pompidou", type="hospital", postal_code="75015", city="Paris")
    _create(name="Clinique du Parc", type="private_clinic", postal_code="69006", city="Lyon")
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions")
    rows = await _table_rows(ui_user, "institutions-table", expected=2)
    assert [row["name"] for row in rows] == ["Clinique du Parc", "Hôpital Européen Georges-Pompidou"]
    ui_user.find(marker="search").type("hopital europeen")
    rows = await _table_rows(ui_user, "institutions-table", expected=1)
    assert rows[0]["name"] == "Hôpital Européen Georges-Pompidou"


async def test_filters_come_from_the_url(ui_user: User, account: Callable[..., str]) -> None:
    _create(name="CHU de Nantes", type="university_hospital", postal_code="44093", city="Nantes", tags="UGAP")
    _create(name="Clinique Jules Verne", type="private_clinic", postal_code="44300", city="Nantes")
    _create(name="CHU de Rennes", type="university_hospital", postal_code="35033", city="Rennes")
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions?type=university_hospital%26city=nantes")
    rows = await _table_rows(ui_user, "institutions-table", expected=1)
    assert rows[0]["name"] == "CHU de Nantes"
    assert rows[0]["tags"] == "UGAP"


async def test_form_shows_errors_next_to_fields_and_keeps_the_input(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions/new")
    await ui_user.should_see(marker="field-name")
    ui_user.find(marker="field-name").type("Clinique Saint-Roch")
    ui_user.find(marker="field-siret").type("12345678901234")
    ui_user.find(marker="field-postal_code").type("3400")
    ui_user.find(marker="save").click()
    await ui_user.should_see(marker="field-siret")
    for _ in range(40):
        siret = ui_user.find(marker="field-siret").elements.pop()
        if getattr(siret, "error", None):
            break
        await asyncio.sleep(0.05)
    assert isinstance(siret, ui.input)
    assert siret.error == gettext("This SIRET number is not valid (check digit).")
    postal = ui_user.find(marker="field-postal_code").elements.pop()
    assert isinstance(postal, ui.input)
    assert postal.error == gettext("A French postal code has 5 digits.")
    assert siret.value == "12345678901234"  # nothing lost
    with unit_of_work() as session:
        assert session.exec(select(Institution)).all() == []


async def test_duplicate_warning_then_create_anyway(ui_user: User, account: Callable[..., str]) -> None:
    _create(name="Clinique Saint-Roch", postal_code="34000", city="Montpellier")
    await log_in(ui_user, account(), path="/login?redirect_to=/institutions/new")
    await ui_user.should_see(marker="field-name")
    ui_user.find(marker="field-name").type("CLINIQUE SAINT ROCH")
    ui_user.find(marker="field-postal_code").type("34000")
    ui_user.find(marker="field-city").type("Montpellier")
    ui_user.find(marker="save").click()
    await ui_user.should_see(marker="duplicate-dialog")
    await ui_user.should_see("Clinique Saint-Roch")
    ui_user.find(marker="create-anyway").click()
    await ui_user.should_see(marker="institution-name")
    with unit_of_work() as session:
        assert len(session.exec(select(Institution)).all()) == 2


async def test_hostile_name_is_shown_as_text(ui_user: User, account: Callable[..., str]) -> None:
    hostile = '<script>alert("x")</script> Clinique'
    institution_id = _create(name=hostile, city="Paris", postal_code="75001")
    await log_in(ui_user, account(), path=f"/login?redirect_to=/institutions/{institution_id}")
    await ui_user.should_see(marker="institution-name")
    label = ui_user.find(marker="institution-name").elements.pop()
    assert isinstance(label, ui.label)
    assert label.text == hostile
    assert breadcrumb(ui_user)[-1] == hostile  # escaped in the trail's markup, shown as typed
    assert not html_elements(ui_user)  # nothing rendered as HTML


async def test_sales_rep_cannot_edit_someone_elses_institution(ui_user: User, account: Callable[..., str]) -> None:
    owner = account(email="owner@example.org", name="Olivier Owner")
    institution_id = _create(name="CH de Vannes", city="Vannes", postal_code="56000", assigned_user_id=_user_id(owner))
    await log_in(
        ui_user,
        account(email="rep@example.org", name="Rita Rep"),
        path=f"/login?redirect_to=/institutions/{institution_id}",
    )
    await ui_user.should_see(marker="institution-name")
    await ui_user.should_not_see(marker="edit")
    await ui_user.open(f"/institutions/{institution_id}/edit")
    await ui_user.should_see(gettext("You are not allowed to edit this institution."))


async def test_edit_then_see_the_change_in_history(ui_user: User, account: Callable[..., str]) -> None:
    institution_id = _create(name="Polyclinique du Golfe", city="Vannes", postal_code="56000")
    await log_in(ui_user, account(role=Role.MANAGER), path=f"/login?redirect_to=/institutions/{institution_id}/edit")
    await ui_user.should_see(marker="field-city")
    ui_user.find(marker="field-city").clear().type("Séné")
    terms = ui_user.find(marker="field-payment_terms_days").elements.pop()
    assert isinstance(terms, ui.number) and terms.value is None  # the organisation's terms until set
    terms.value = 60
    ui_user.find(marker="save").click()
    await ui_user.should_see(marker="institution-name")
    with unit_of_work() as session:
        saved = session.get(Institution, institution_id)
        assert saved is not None and (saved.city, saved.payment_terms_days) == ("Séné", 60)
    ui_user.find(marker="tab-history").click()
    rows = await _table_rows(ui_user, "history-table", expected=3)
    change = next(row for row in rows if row["old"] == "Vannes")
    assert change["new"] == "Séné" and change["field"] == gettext("City")


async def test_a_stale_save_names_who_saved_first_and_keeps_the_input(
    ui_user: User, account: Callable[..., str]
) -> None:
    institution_id = _create(name="Clinique des Lilas", city="Vannes", postal_code="56000")
    with unit_of_work() as session:
        other = actor_of(make_user(session, role=Role.MANAGER, name="Sophie Martin", email="sophie@example.org"))
    await log_in(ui_user, account(role=Role.MANAGER), path=f"/login?redirect_to=/institutions/{institution_id}/edit")
    await ui_user.should_see(marker="field-city")
    with unit_of_work() as session:  # saved by someone else while the form is open
        institutions.update_institution(
            session, other, institution_id, {"street": "2 rue des Lilas"}, expected_version=1
        )
    ui_user.find(marker="field-city").clear().type("Séné")
    ui_user.find(marker="save").click()
    await ui_user.should_see(
        gettext("{name} changed this record in the meantime. Reload to see their changes.", name="Sophie Martin")
    )
    city = ui_user.find(marker="field-city").elements.pop()
    assert isinstance(city, ui.input) and city.value == "Séné"  # the edit is still there
    with unit_of_work() as session:
        saved = session.get(Institution, institution_id)
        assert saved is not None and (saved.city, saved.street, saved.version) == ("Vannes", "2 rue des Lilas", 2)


async def test_history_names_people_and_teams_and_puts_codes_in_words(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(role=Role.MANAGER, name="Yann Le Goff")
    with unit_of_work() as session:
        team = make_team(session, "Équipe Bretagne")
        created = institutions.create_institution(
            session,
            SYSTEM_ACTOR,
            {"name": "Clinique Saint-Yves", "city": "Vannes", "type": "private_clinic", "annual_revenue": "1200000"},
        )
        institution_id, version = created.id, created.version
    with unit_of_work() as session:
        institutions.update_institution(
            session,
            SYSTEM_ACTOR,
            institution_id,
            {
                "assigned_user_id": _user_id(email),
                "team_id": team.id,
                "commercial_status": "client",
                "type": "hospital",
                "audit_date": "2026-03-02",
                "annual_revenue": "1500000",
            },
            expected_version=version,
        )
    await log_in(ui_user, email, path=f"/login?redirect_to=/institutions/{institution_id}")
    await ui_user.should_see(marker="tab-history")
    ui_user.find(marker="tab-history").click()
    rows = await _table_rows(ui_user, "history-table", expected=7)
    changes = {row["field"]: (row["old"], row["new"]) for row in rows if row["old"] or row["new"]}
    assert changes == {
        gettext("Assigned to"): ("", "Yann Le Goff"),
        gettext("Team"): ("", "Équipe Bretagne"),
        gettext("Status"): (
            gettext(institutions.STATUS_LABELS[CommercialStatus.PROSPECT]),
            gettext(institutions.STATUS_LABELS[CommercialStatus.CLIENT]),
        ),
        gettext("Type"): (
            gettext(institutions.TYPE_LABELS[InstitutionType.PRIVATE_CLINIC]),
            gettext(institutions.TYPE_LABELS[InstitutionType.HOSPITAL]),
        ),
        gettext("Audit date"): ("", format_date(date(2026, 3, 2))),
        gettext("Annual revenue (€)"): (format_currency(Decimal("1200000")), format_currency(Decimal("1500000"))),
    }


async def test_contacts_tab_adds_a_primary_contact(ui_user: User, account: Callable[..., str]) -> None:
    institution_id = _create(name="Clinique de l'Anjou", city="Angers", postal_code="49000")
    await log_in(ui_user, account(role=Role.MANAGER), path=f"/login?redirect_to=/institutions/{institution_id}")
    await ui_user.should_see(marker="tab-contacts")
    ui_user.find(marker="tab-contacts").click()
    await ui_user.should_see(marker="add-contact")
    ui_user.find(marker="add-contact").click()
    await ui_user.should_see(marker="contact-dialog")
    ui_user.find(marker="contact-last_name").type("Leclerc")
    ui_user.find(marker="contact-email").type("not-an-email")
    ui_user.find(marker="contact-save").click()
    for _ in range(40):
        email = ui_user.find(marker="contact-email").elements.pop()
        if getattr(email, "error", None):
            break
        await asyncio.sleep(0.05)
    assert isinstance(email, ui.input) and email.error == gettext("Enter a valid email address.")
    email.value = "a.leclerc@clinique-anjou.fr"
    ui_user.find(marker="contact-is_primary").click()
    ui_user.find(marker="contact-save").click()
    rows = await _table_rows(ui_user, "contacts-table", expected=1)
    assert rows[0]["email"] == "a.leclerc@clinique-anjou.fr" and rows[0]["primary"] == "★"


async def test_global_search_finds_contacts_and_opens_the_record(ui_user: User, account: Callable[..., str]) -> None:
    institution_id = _create(name="Centre Hospitalier de Cholet", city="Cholet", postal_code="49300")
    with unit_of_work() as session:
        contacts.create_contact(session, SYSTEM_ACTOR, institution_id, {"first_name": "Gaëlle", "last_name": "Moine"})
    await log_in(ui_user, account())
    await ui_user.should_see(marker="global-search")
    box = ui_user.find(marker="global-search")
    box.trigger("inputValue", "gaelle")  # what Quasar sends as the user types
    option = await search_option(box, "Gaëlle Moine")
    box.trigger("update:modelValue", option)  # a click on the result, or Enter on it
    await ui_user.should_see(marker="contact-name")


async def test_the_overview_leaves_out_what_is_unknown_rather_than_a_stray_separator(
    ui_user: User, account: Callable[..., str]
) -> None:
    """A record created by an import (no creator) showed "Créé par —", and one last changed by nobody
    "Dernière modification 6 déc. 2026 ·"."""
    email = account()
    with unit_of_work() as session:
        institution_id = make_institution(session, name="Clinique des Imports").id
    await log_in(ui_user, email, path=f"/login?redirect_to=/institutions/{institution_id}")
    await ui_user.should_see("Clinique des Imports", retries=50)
    await ui_user.should_see("Dernière modification")
    await ui_user.should_not_see("Créé par")
    texts = [element.text for element in ui_user.find(ui.label).elements if isinstance(element.text, str)]
    assert not [text for text in texts if text.rstrip().endswith("·") or text.lstrip().startswith("·")], texts


async def test_the_open_tab_is_in_the_url(ui_user: User, account: Callable[..., str]) -> None:
    """A reload or a shared link opens the tab that was open."""
    email = account()
    with unit_of_work() as session:
        institution_id = make_institution(session, name="Clinique des Onglets").id
    await log_in(ui_user, email, path=f"/login?redirect_to=/institutions/{institution_id}?tab=history")
    await ui_user.should_see(marker="history-table", retries=50)
    await ui_user.should_not_see(marker="add-contact")  # the overview's and the contacts' panels wait
    await ui_user.open(f"/institutions/{institution_id}?tab=contacts")
    await ui_user.should_see(marker="add-contact", retries=50)


def _text(user: User, marker: str) -> str:
    found: Any = next(iter(user.find(marker=marker).elements))
    return str(found.text)


def _field_values(user: User, marker: str) -> list[object]:
    found: set[Any] = user._gather_elements(None, None, marker, None)
    return [field.value for field in found]


async def _eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_the_institution_page_confirms_archiving_and_follows_others_changes(
    ui_user: User, account: Callable[..., str]
) -> None:
    """Archive and restore say so and the header shows the new state at once (the page once navigated
    to itself, silently); another person's change to the institution or to its contacts shows on the
    open page without a reload, in the header, the overview and the contacts tab."""
    institution_id = _create(name="Clinique de l'Anjou", city="Angers", postal_code="49000")
    with unit_of_work() as session:
        other = actor_of(make_user(session, role=Role.MANAGER, name="Sophie Martin", email="sophie@example.org"))
    await log_in(ui_user, account(role=Role.ADMIN), path=f"/login?redirect_to=/institutions/{institution_id}")
    await ui_user.should_see(marker="archive")

    ui_user.find(marker="archive").click()
    await ui_user.should_see(gettext("Institution archived."))
    await ui_user.should_see(marker="archived-badge")
    assert _text(ui_user, "archive") == gettext("Restore")
    ui_user.find(marker="archive").click()
    await ui_user.should_see(gettext("Institution restored."))
    await ui_user.should_not_see(marker="archived-badge")
    assert _text(ui_user, "archive") == gettext("Archive")

    with unit_of_work() as session:  # another person, in another session
        institutions.update_institution(
            session, other, institution_id, {"city": "Trélazé", "assigned_user_id": other.id}, expected_version=3
        )
    await ui_user.should_see("49000 Trélazé")  # the overview
    await _eventually(
        lambda: _text(ui_user, "assigned-to") == gettext("Assigned to: {name}", name="Sophie Martin"),
        "the header did not follow",
    )

    ui_user.find(marker="tab-contacts").click()
    await _table_rows(ui_user, "contacts-table", expected=0)
    with unit_of_work() as session:
        contact_id = contacts.create_contact(session, other, institution_id, {"last_name": "Leclerc"}).id
    rows = await _table_rows(ui_user, "contacts-table", expected=1)
    assert rows[0]["name"] == "Leclerc"
    await _eventually(lambda: _text(ui_user, "contact-count") == "1 contact", "the contact count did not follow")

    table = next(iter(ui_user.find(marker="contacts-table").elements))
    for listener in table._event_listeners.values():  # what the row's archive button does in the browser
        if listener.type == "archive":
            table._handle_event({"listener_id": listener.id, "args": str(contact_id)})
    await ui_user.should_see(gettext("Contact {name} archived.", name="Leclerc"))
    await _table_rows(ui_user, "contacts-table", expected=0)
    await _eventually(lambda: _text(ui_user, "contact-count") == "0 contact", "the count did not drop")


async def test_an_open_edit_form_says_who_saved_meanwhile_and_keeps_the_typing(
    ui_user: User, account: Callable[..., str]
) -> None:
    institution_id = _create(name="Clinique des Lilas", city="Vannes", postal_code="56000")
    with unit_of_work() as session:
        other = actor_of(make_user(session, role=Role.MANAGER, name="Sophie Martin", email="sophie@example.org"))
    await log_in(ui_user, account(role=Role.MANAGER), path=f"/login?redirect_to=/institutions/{institution_id}/edit")
    await ui_user.should_see(marker="field-city")
    ui_user.find(marker="field-city").clear().type("Séné")
    with unit_of_work() as session:  # saved by someone else while the form is open
        institutions.update_institution(
            session, other, institution_id, {"street": "2 rue des Lilas"}, expected_version=1
        )
    await ui_user.should_see(marker="stale-message")
    assert "Sophie Martin" in _text(ui_user, "stale-message")
    assert _field_values(ui_user, "field-city") == ["Séné"]  # the typing is kept
    ui_user.find(marker="stale-reload").click()
    await _eventually(lambda: _field_values(ui_user, "field-street") == ["2 rue des Lilas"], "their version not loaded")
    assert _field_values(ui_user, "field-city") == ["Vannes"]
    await ui_user.should_not_see(marker="stale-message")


async def test_an_open_contact_form_says_who_saved_meanwhile_and_saves_after_loading_their_version(
    ui_user: User, account: Callable[..., str]
) -> None:
    institution_id = _create(name="Clinique du Lac", city="Annecy", postal_code="74000")
    with unit_of_work() as session:
        other = actor_of(make_user(session, role=Role.ADMIN, name="Sophie Martin", email="sophie@example.org"))
        contact_id = contacts.create_contact(session, other, institution_id, {"last_name": "Roux"}).id
    await log_in(
        ui_user, account(role=Role.ADMIN), path=f"/login?redirect_to=/institutions/{institution_id}?tab=contacts"
    )
    await _table_rows(ui_user, "contacts-table", expected=1)
    table: Any = next(iter(ui_user.find(marker="contacts-table").elements))
    for listener in table._event_listeners.values():  # the row's edit button, as the browser sends it
        if listener.type == "edit":
            table._handle_event({"listener_id": listener.id, "args": str(contact_id)})
    await ui_user.should_see(marker="contact-dialog")
    ui_user.find(marker="contact-title").type("Cadre de bloc")
    with unit_of_work() as session:  # saved by someone else while the dialog is open
        contacts.update_contact(session, other, contact_id, {"first_name": "Léa"}, expected_version=1)
    await ui_user.should_see(marker="stale-message")
    assert "Sophie Martin" in _text(ui_user, "stale-message")
    assert _field_values(ui_user, "contact-title") == ["Cadre de bloc"]
    ui_user.find(marker="stale-reload").click()
    await _eventually(lambda: _field_values(ui_user, "contact-first_name") == ["Léa"], "their version not loaded")
    ui_user.find(marker="contact-title").type("Cadre de bloc")
    ui_user.find(marker="contact-save").click()
    await ui_user.should_see(gettext("Contact saved."))
    await _eventually(lambda: table.rows[0]["title"] == "Cadre de bloc", "the saved contact is not listed")
    assert table.rows[0]["name"] == "Léa Roux"


async def test_the_contact_page_shows_its_saved_edit_with_a_confirmation_and_follows_others(
    ui_user: User, account: Callable[..., str]
) -> None:
    """Saving the contact from its page navigated to the page's own address, which redraws nothing:
    the page kept the old values."""
    institution_id = _create(name="Clinique du Lac", city="Annecy", postal_code="74000")
    with unit_of_work() as session:
        other = actor_of(make_user(session, role=Role.ADMIN, name="Sophie Martin", email="sophie@example.org"))
        contact_id = contacts.create_contact(session, other, institution_id, {"last_name": "Roux"}).id
    await log_in(ui_user, account(role=Role.ADMIN), path=f"/login?redirect_to=/contacts/{contact_id}")
    await ui_user.should_see(marker="edit-contact")
    ui_user.find(marker="edit-contact").click()
    await ui_user.should_see(marker="contact-dialog")
    ui_user.find(marker="contact-title").type("Cadre de bloc")
    ui_user.find(marker="contact-save").click()
    await ui_user.should_see(gettext("Contact saved."))
    await ui_user.should_see("Cadre de bloc")
    await ui_user.should_not_see(marker="contact-dialog")

    with unit_of_work() as session:  # another person, in another session
        contacts.update_contact(session, other, contact_id, {"first_name": "Léa"}, expected_version=2)
    await _eventually(lambda: _text(ui_user, "contact-name") == "Léa Roux", "another's change is not shown")
