"""In Chromium: create an institution with a contact, find it with the global search, edit it,
and see the change in its History."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.e2e.conftest import sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def test_create_find_edit_and_see_history(page: Page, server_url: str, clean_after: None) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, email="marc.dumas@example.org", name="Marc Dumas")
    page.goto(f"{server_url}/institutions")
    sign_in(page, "marc.dumas@example.org")
    expect(page).to_have_url(f"{server_url}/institutions")

    page.get_by_role("button", name="Nouvel établissement").click()
    expect(page).to_have_url(f"{server_url}/institutions/new")
    page.get_by_label("Nom *").fill("Clinique des Tilleuls")
    page.get_by_label("Code postal").fill("87000")
    page.get_by_label("Ville").fill("Limoges")
    page.get_by_role("button", name="Créer").click()
    expect(page).to_have_url(re.compile(r"/institutions/[0-9a-f-]{36}$"))
    institution_url = page.url
    expect(page.get_by_text("Clinique des Tilleuls").first).to_be_visible()

    page.get_by_role("tab", name="Contacts").click()
    page.get_by_role("button", name="Ajouter un contact").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Prénom").fill("Anaïs")
    dialog.get_by_label("Nom *").fill("Chevalier")
    dialog.get_by_label("E-mail").fill("anais.chevalier@tilleuls.fr")
    dialog.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("cell", name="anais.chevalier@tilleuls.fr")).to_be_visible()

    page.goto(f"{server_url}/")
    search = page.get_by_role("combobox", name="Rechercher partout")
    search.fill("anais cheva")
    result = page.get_by_role("option").filter(has_text="Clinique des Tilleuls").first
    expect(result).to_be_visible()
    result.click()
    expect(page).to_have_url(institution_url)

    page.get_by_role("button", name="Modifier").click()
    expect(page).to_have_url(f"{institution_url}/edit")
    page.get_by_label("Ville").fill("Limoges Cedex")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page).to_have_url(institution_url)

    page.get_by_role("tab", name="Historique").click()
    change = page.get_by_role("row").filter(has_text="Limoges Cedex")
    expect(change).to_be_visible()
    expect(change).to_contain_text("Ville")
    expect(change).to_contain_text("Limoges")
    expect(change).to_contain_text("Marc Dumas")

    # A full load carries the list in the page itself, not in a round of updates after the websocket.
    response = page.goto(f"{server_url}/institutions")
    assert response is not None
    assert "Limoges Cedex" in response.text()
    expect(page.get_by_role("cell", name="Clinique des Tilleuls")).to_be_visible()
