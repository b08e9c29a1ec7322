"""The shell: language and theme saved per user, navigation, breadcrumb, profile, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from crm_app.accounts import auth
from crm_app.institutions import service as institution_service
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext, use_locale
from crm_app.platform.models.people import Role, Theme
from crm_app.platform.models.people import User as UserRow
from crm_app.platform.permissions import actor_from
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import make_contact, make_institution
from tests.sales_factories import make_quote
from tests.ui.conftest import breadcrumb, click_nav, log_in, nav_entries
from tests.ui.search_box import options, search_option


async def _eventually(condition: Callable[[], bool], attempts: int = 40) -> bool:
    """Wait for what a click started in the background (a save in a worker thread)."""
    for _ in range(attempts):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def _stored(email: str) -> UserRow:
    with unit_of_work() as session:
        return session.exec(select(UserRow).where(UserRow.email == email)).one()


async def test_language_switch_is_saved_for_the_user(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    await log_in(ui_user, email)
    await ui_user.should_see("Tableau de bord")
    ui_user.find(marker="language").click()
    ui_user.find("English").click()
    await ui_user.should_see("Welcome, Claire Dupont")
    assert _stored(email).language == "en"
    # A new browser (no stored choice) gets the user's saved language after login.
    ui_user.http_client.cookies.clear()
    await log_in(ui_user, email)
    await ui_user.should_see("Welcome, Claire Dupont")


async def test_first_visit_uses_the_browser_language(ui_user: User) -> None:
    ui_user.http_client.headers["Accept-Language"] = "de-DE,de;q=0.9,en;q=0.5"
    await ui_user.open("/login")
    await ui_user.should_see("Anmelden")


async def test_quasars_own_texts_follow_the_users_language(ui_user: User, account: Callable[..., str]) -> None:
    """A table's "Rows per page", "1-25 of 300" and "No data" come from Quasar's language pack: the
    page loads the user's, not the French one every page had."""
    email = account()
    await log_in(ui_user, email)
    await ui_user.should_see("Tableau de bord")
    french = (await ui_user.http_client.get("/institutions")).text
    assert "/static/lang/fr.umd.prod.js" in french and 'lang="fr"' in french
    ui_user.find(marker="language").click()
    ui_user.find("English").click()
    await ui_user.should_see("Welcome, Claire Dupont")
    english = (await ui_user.http_client.get("/institutions")).text
    assert "/static/lang/en-US.umd.prod.js" in english and 'lang="en-US"' in english
    ui_user.http_client.cookies.clear()
    ui_user.http_client.headers["Accept-Language"] = "es-ES,es;q=0.9"
    assert "/static/lang/es.umd.prod.js" in (await ui_user.http_client.get("/login")).text


async def test_dark_mode_toggle_is_saved_for_the_user(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    await log_in(ui_user, email)
    await ui_user.should_see("Tableau de bord")
    ui_user.find(marker="dark-mode").click()
    assert await _eventually(lambda: Theme(_stored(email).theme) is Theme.DARK)
    assert ui_user.find(ui.dark_mode).elements.pop().value is True
    ui_user.find(marker="dark-mode").click()
    assert await _eventually(lambda: Theme(_stored(email).theme) is Theme.LIGHT)
    assert ui_user.find(ui.dark_mode).elements.pop().value is False


def _current_entries(user: User) -> list[str]:
    """The menu entries marked as the screen being shown."""
    return [entry.href for entry in nav_entries(user) if entry.current]


async def test_navigation_and_breadcrumb(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account())
    await ui_user.should_see("Bienvenue, Claire Dupont")
    assert {entry.text: entry.href for entry in nav_entries(ui_user)}["Établissements"] == "/institutions"
    assert _current_entries(ui_user) == ["/"]
    ui_user.find(marker="user-menu").click()  # builds its menu
    ui_user.find(marker="profile").click()
    await ui_user.should_see("Enregistrer")
    assert breadcrumb(ui_user) == ["Tableau de bord", "Profil"]
    assert _current_entries(ui_user) == []  # the profile is no section of the menu
    click_nav(ui_user, "/institutions")
    await ui_user.should_see("Nouvel établissement")
    assert _current_entries(ui_user) == ["/institutions"]
    click_nav(ui_user, "/contacts")
    for _ in range(40):
        if _current_entries(ui_user) == ["/contacts"]:
            break
        await asyncio.sleep(0.05)
    assert _current_entries(ui_user) == ["/contacts"]


async def test_profile_edits_name_and_refuses_a_stale_save(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    await log_in(ui_user, email, path="/login?redirect_to=/profile")
    await ui_user.should_see("Enregistrer")
    # Someone else (another tab) saves first.
    with unit_of_work() as session:
        row = session.exec(select(UserRow).where(UserRow.email == email)).one()
        from crm_app.accounts import users

        users.update_preferences(session, actor_from(row), full_name="Claire Martin")
    name = ui_user.find(marker="full-name")
    name.clear().type("Claire D.")
    ui_user.find("Enregistrer").click()
    await ui_user.should_see(
        "Claire Martin a modifié cet enregistrement entre-temps. Rechargez pour voir ses modifications."
    )
    assert _stored(email).full_name == "Claire Martin"


async def test_profile_rejects_an_empty_name_next_to_the_field(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(), path="/login?redirect_to=/profile")
    await ui_user.should_see("Enregistrer")
    ui_user.find(marker="full-name").clear()
    ui_user.find("Enregistrer").click()
    await ui_user.should_see("Certains champs ne sont pas valides.")
    field = ui_user.find(marker="full-name").elements.pop()
    assert isinstance(field, ui.input)
    assert field.error == "Saisissez un nom."


async def test_revoked_session_is_sent_to_login_at_next_screen(ui_user: User, account: Callable[..., str]) -> None:
    email = account(role=Role.MANAGER)
    await log_in(ui_user, email)
    await ui_user.should_see("Bienvenue, Claire Dupont")
    with unit_of_work() as session:
        auth.revoke_all_sessions(session, _stored(email).id)
    ui_user.find(marker="user-menu").click()  # builds its menu
    ui_user.find(marker="profile").click()
    await ui_user.should_see("Se connecter")


# --------------------------------------------------------------------------------------------
# The header's search


def _quote_of_a_team() -> tuple[str, str, str]:
    """A rep's quote (its number) for an institution with a contact; the rep's and another team's rep's emails."""
    with unit_of_work() as session:
        team_a, team_b = make_team(session, "Nord"), make_team(session, "Sud")
        owner = make_user(session, team=team_a, email="anne@example.org", name="Anne Aubert")
        make_user(session, team=team_b, email="bruno@example.org", name="Bruno Blanc")
        institution = make_institution(session, name="Clinique des Tilleuls", city="Limoges")
        make_contact(session, institution, first_name="Gaëlle", last_name="Moine")
        quote = make_quote(session, actor_of(owner), institution, title="Endoscopes")
        return quote.number, owner.email, "bruno@example.org"


async def test_the_header_search_groups_results_by_kind_and_opens_the_chosen_one(ui_user: User) -> None:
    number, owner, _other = _quote_of_a_team()
    await log_in(ui_user, owner)
    await ui_user.should_see(marker="global-search")
    box = ui_user.find(marker="global-search")
    box.trigger("inputValue", number.split("-", 1)[1])  # "2026-00001": a part of the number
    option = await search_option(box, number)
    shown = options(box)
    assert [o["label"] for o in shown if o.get("header")] == ["Devis"]  # the kind's heading, translated
    assert option["caption"] == "Clinique des Tilleuls · Endoscopes" and option["status"] == "Brouillon"
    assert option["aria"] == f"Devis, {number}, Clinique des Tilleuls · Endoscopes, Brouillon"
    box.trigger("update:modelValue", option)  # Enter on the highlighted result, or a click
    await ui_user.should_see(marker="quote-number")
    assert options(box) == []  # the results are closed

    box.trigger("inputValue", "moine gaelle")  # a contact, last name first, without the accent
    option = await search_option(box, "Gaëlle Moine")
    assert [o["label"] for o in options(box) if o.get("header")] == ["Contacts"]
    box.trigger("update:modelValue", option)
    await ui_user.should_see(marker="contact-name")


async def test_the_header_search_hides_what_the_reader_may_not_open(ui_user: User) -> None:
    number, _owner, other = _quote_of_a_team()
    await log_in(ui_user, other)
    await ui_user.should_see(marker="global-search")
    box = ui_user.find(marker="global-search")
    box.trigger("inputValue", number)
    no_results = await search_option(box, "Aucun résultat")
    assert no_results["disable"] is True and len(options(box)) == 1


async def test_a_forged_choice_opens_nothing(ui_user: User) -> None:
    """The page opened is the one the server found for the option, never a link sent by the browser."""
    _number, owner, _other = _quote_of_a_team()
    await log_in(ui_user, owner)
    await ui_user.should_see("Bienvenue, Anne Aubert")
    box = ui_user.find(marker="global-search")
    box.trigger("update:modelValue", {"value": "quote:not-found", "link": "/admin/users"})
    await asyncio.sleep(0.2)
    await ui_user.should_see("Bienvenue, Anne Aubert")


async def test_an_unknown_path_is_told_in_the_users_language(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account())
    await ui_user.should_see(marker="user-menu", retries=50)
    # answered 404, with the screen in the page (the simulated user opens only pages answered 200)
    response = await ui_user.http_client.get("/nowhere/at/all")
    assert response.status_code == 404
    assert gettext("Back to the dashboard") in response.text
    assert "sub page" not in response.text


async def test_a_screen_that_fails_says_so_instead_of_staying_blank(
    ui_user: User, account: Callable[..., str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def database_gone(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the database went away")

    await log_in(ui_user, account())
    await ui_user.should_see("Bienvenue, Claire Dupont")
    monkeypatch.setattr(institution_service, "list_institutions", database_gone)
    click_nav(ui_user, "/institutions")
    await ui_user.should_see(marker="screen-failed")
    with use_locale("fr"):
        await ui_user.should_see(
            gettext(
                "This screen could not be shown. Try again in a moment; if it keeps failing, tell your administrator."
            )
        )
    await ui_user.should_not_see(marker="new-institution")  # what the screen drew before failing is gone
    assert breadcrumb(ui_user) == ["Tableau de bord", "Établissements"]  # the frame stays, to go elsewhere
    assert any("the screen /institutions failed" in r.getMessage() and r.exc_info for r in caplog.records)
    caplog.clear()  # logged with its traceback, as it must be: not an unexpected error of this test
    monkeypatch.undo()
    click_nav(ui_user, "/contacts")
    await ui_user.should_not_see(marker="screen-failed")
