"""In Chromium: a sale dragged to "Won" on the opportunities board (a real drag and drop), the
columns' counts and sums follow, the database says it is won, and the dashboard's "won this period"
figure counts it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, use_locale
from crm_app.platform.models.people import Role
from crm_app.sales import opportunities
from crm_app.sales.models.opportunities import Opportunity, OpportunityStage
from tests.factories import PASSWORD, actor_of, make_user
from tests.institution_factories import make_institution

pytestmark = pytest.mark.e2e


def _euros(value: str) -> str:
    with use_locale("en"):
        return format_currency(Decimal(value))


def test_a_sale_dragged_to_won_changes_the_column_totals(browser: Browser, server_url: str, clean_after: None) -> None:
    with unit_of_work() as session:
        seller = actor_of(make_user(session, role=Role.USER, email="sophie.martin@example.org", name="Sophie Martin"))
        clinic = make_institution(session, name="Clinique des Cèdres")
        values = {"institution_id": clinic.id, "stage": "negotiation"}
        sale = opportunities.create_opportunity(
            session, seller, {**values, "name": "Colonne d'endoscopie", "amount": "12500.00"}
        ).id
        opportunities.create_opportunity(session, seller, {**values, "name": "Lits médicalisés", "amount": "4000.00"})
    context = browser.new_context(locale="en-US", timezone_id="Europe/Paris", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{server_url}/opportunities")
        page.get_by_label("Email").fill("sophie.martin@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"^[^?]*/opportunities$"))  # logged in, not the login page
        won_figure = page.locator('[data-kpi="won_amount"]')
        page.goto(f"{server_url}/?period=month")
        expect(won_figure).to_have_text(_euros("0.00"))
        page.goto(f"{server_url}/opportunities")
        won, negotiation = page.locator('[data-count="won"]'), page.locator('[data-count="negotiation"]')
        expect(negotiation).to_have_text("2")
        expect(won).to_have_text("0")
        expect(page.locator('[data-summary="negotiation"]')).to_have_text(
            f"{_euros('16500.00')} · weighted {_euros('12375.00')}"
        )

        card = page.locator(".q-card[draggable]", has_text="Colonne d'endoscopie")
        target = page.locator('[data-column="won"]')
        target.scroll_into_view_if_needed()
        card.drag_to(target)

        expect(won).to_have_text("1")
        expect(negotiation).to_have_text("1")
        expect(page.locator('[data-summary="won"]')).to_have_text(
            f"{_euros('12500.00')} · weighted {_euros('12500.00')}"
        )
        expect(page.locator('[data-summary="negotiation"]')).to_have_text(
            f"{_euros('4000.00')} · weighted {_euros('3000.00')}"
        )
        expect(target.locator(".q-card", has_text="Colonne d'endoscopie")).to_be_visible()
        with unit_of_work() as session:
            stored = session.get(Opportunity, sale)
            assert stored is not None and stored.stage == OpportunityStage.WON

        # The dashboard, reached through the drawer (in-app navigation), counts the sale won this month.
        page.locator('.opex-drawer nav a[href="/"]').first.click()
        expect(won_figure).to_have_text(_euros("12500.00"))
        expect(page.locator('[data-kpi="win_rate"]')).to_have_text("100.0 %")
    finally:
        context.close()
