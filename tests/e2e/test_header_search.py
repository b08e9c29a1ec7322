"""In Chromium: the header's search driven from the keyboard (Quasar's combobox: the arrows move the
highlight, Enter opens it, Escape closes the results and leaves the box), and the bell's tooltip,
which stays clear of its button and of the menu it opens, at 1440 and 390 px wide."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import FloatRect, Page, expect

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.e2e.conftest import sign_in
from tests.factories import actor_of, make_user
from tests.institution_factories import make_contact, make_institution
from tests.sales_factories import make_quote

pytestmark = pytest.mark.e2e


def _two_quotes() -> tuple[str, str]:
    with unit_of_work() as session:
        manager = make_user(session, role=Role.MANAGER, email="lea.moreau@example.org", name="Léa Moreau")
        institution = make_institution(session, name="Clinique des Tilleuls", city="Limoges")
        make_contact(session, institution, first_name="Anaïs", last_name="Chevalier")
        first = make_quote(session, actor_of(manager), institution, title="Endoscopes")
        second = make_quote(session, actor_of(manager), institution, title="Colonnes")
        return first.number, second.number


def test_the_header_search_is_driven_from_the_keyboard(page: Page, server_url: str, clean_after: None) -> None:
    first, second = _two_quotes()  # DEV-2026-00001, DEV-2026-00002: the latest first
    page.goto(f"{server_url}/login")
    sign_in(page, "lea.moreau@example.org")
    expect(page.get_by_text("Bienvenue, Léa Moreau")).to_be_visible()
    search = page.get_by_role("combobox", name="Rechercher partout")

    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.type(first.split("-", 1)[0].lower() + " " + first.split("-")[1])  # "dev 2026"
    listbox = page.get_by_role("listbox")
    expect(listbox.get_by_role("option", name=re.compile(second))).to_be_visible()
    expect(listbox).to_contain_text("Devis")  # the kind's heading
    expect(search).to_have_attribute("aria-expanded", "true")
    expect(search).not_to_have_attribute("aria-activedescendant", re.compile("."))

    page.keyboard.press("ArrowDown")  # the heading is skipped: the latest quote
    highlighted = page.locator(f"#{search.get_attribute('aria-activedescendant')}")
    expect(highlighted).to_have_attribute("role", "option")
    expect(highlighted).to_contain_text(second)
    page.keyboard.press("ArrowDown")
    highlighted = page.locator(f"#{search.get_attribute('aria-activedescendant')}")
    expect(highlighted).to_contain_text(first)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/quotes/[0-9a-f-]{36}$"))
    expect(page.get_by_text(first, exact=True).first).to_be_visible()
    expect(search).not_to_be_focused()  # the page has it, not the box

    page.keyboard.press("Control+k")
    expect(search).to_be_focused()
    page.keyboard.type("chevalier ana")
    expect(page.get_by_role("option", name=re.compile("Anaïs Chevalier"))).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("listbox")).to_have_count(0)
    expect(search).to_have_attribute("aria-expanded", "false")
    expect(search).not_to_be_focused()
    expect(page).to_have_url(re.compile(r"/quotes/"))  # Escape opened nothing


def _overlap(a: FloatRect | None, b: FloatRect | None) -> bool:
    assert a is not None and b is not None
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_bells_tooltip_never_covers_its_button_or_its_menu(page: Page, server_url: str, clean_after: None) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, email="lea.moreau@example.org", name="Léa Moreau")
    page.goto(f"{server_url}/login")
    sign_in(page, "lea.moreau@example.org")
    expect(page.get_by_text("Bienvenue, Léa Moreau")).to_be_visible()
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 800})
        bell = page.get_by_role("button", name=re.compile(r"^Notifications \("))
        page.mouse.move(0, 400)
        bell.hover()
        tooltip = page.get_by_role("tooltip").filter(has_text="Notifications")
        expect(tooltip).to_be_visible()
        assert not _overlap(tooltip.bounding_box(), bell.bounding_box()), width
        bell.click()  # the menu opens under the pointer that still hovers the bell
        mark_all = page.get_by_role("button", name="Tout marquer comme lu")
        expect(mark_all).to_be_visible()
        expect(tooltip).to_be_hidden()
        mark_all.hover()
        mark_all.click()  # not covered: Playwright would refuse to click a covered button
        page.keyboard.press("Escape")
        expect(mark_all).to_be_hidden()
