"""In Chromium, two people, two server processes on one database: a team admin on the first instance
gives an institution to a sales rep whose tab is connected to the second instance; the rep's bell
and a toast show it without a reload (PostgreSQL LISTEN/NOTIFY between the processes), and the
notification leads to the institution."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.e2e.conftest import sign_in
from tests.factories import make_team, make_user
from tests.institution_factories import make_institution

pytestmark = pytest.mark.e2e


def _log_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    sign_in(page, email)
    expect(page.get_by_role("button", name=re.compile(r"^Notifications \(\d+\)$"))).to_be_visible()


def test_an_assignment_on_one_instance_rings_the_bell_on_the_other(
    browser: Browser, server_url: str, second_server_url: str, clean_after: None
) -> None:
    with unit_of_work() as session:
        team = make_team(session, "Nouvelle-Aquitaine")
        make_user(session, role=Role.TEAM_ADMIN, team=team, email="marc.dumas@example.org", name="Marc Dumas")
        make_user(session, team=team, email="lea.moreau@example.org", name="Léa Moreau")
        institution_id = make_institution(session, name="Clinique des Tilleuls", city="Limoges").id
    manager, rep = (browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page() for _ in range(2))

    _log_in(rep, second_server_url, "lea.moreau@example.org")
    bell = rep.get_by_role("button", name=re.compile(r"^Notifications \(\d+\)$"))
    expect(bell).to_have_accessible_name("Notifications (0)")

    _log_in(manager, server_url, "marc.dumas@example.org")
    manager.goto(f"{server_url}/institutions/{institution_id}/edit")
    manager.get_by_label("Attribué à").click()
    manager.get_by_role("option").filter(has_text="Léa Moreau").click()
    manager.get_by_role("button", name="Enregistrer").click()
    expect(manager).to_have_url(f"{server_url}/institutions/{institution_id}")

    expect(bell).to_have_accessible_name("Notifications (1)", timeout=5000)  # no reload of the rep's tab
    message = "Marc Dumas vous a attribué l'établissement Clinique des Tilleuls"
    expect(rep.get_by_text(message).first).to_be_visible()
    bell.click()
    rep.get_by_role("listitem").filter(has_text=message).first.click()
    expect(rep).to_have_url(f"{second_server_url}/institutions/{institution_id}")
    expect(bell).to_have_accessible_name("Notifications (0)")
