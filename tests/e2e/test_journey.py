"""A person's first minutes in Chromium: log in, English and back, dark mode, log out."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.e2e.conftest import sign_in
from tests.factories import make_user

pytestmark = pytest.mark.e2e


def _choose_language(page: Page, name: str) -> None:
    page.get_by_role("combobox", name=re.compile(r"^(Langue|Language)$")).click()
    page.get_by_role("option", name=name).click()


def test_login_language_dark_mode_logout(page: Page, server_url: str, clean_after: None) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, email="lea.moreau@example.org", name="Léa Moreau")

    page.goto(f"{server_url}/profile")
    expect(page).to_have_url(re.compile(r"/login\?redirect_to=/profile$"))
    expect(page.get_by_text("Le CRM des équipes commerciales du secteur médical")).to_be_visible()
    sign_in(page, "lea.moreau@example.org")
    expect(page).to_have_url(f"{server_url}/profile")
    expect(page.get_by_text("lea.moreau@example.org", exact=True)).to_be_visible()

    page.get_by_text("Tableau de bord").first.click()
    expect(page.get_by_text("Bienvenue, Léa Moreau")).to_be_visible()
    expect(page).to_have_url(f"{server_url}/")

    _choose_language(page, "English")
    expect(page.get_by_text("Welcome, Léa Moreau")).to_be_visible()
    expect(page.get_by_text("This is your first login.")).to_be_visible()
    _choose_language(page, "Français")
    expect(page.get_by_text("Bienvenue, Léa Moreau")).to_be_visible()

    body = page.locator("body")
    dark_button = page.get_by_role("button", name="Mode sombre")
    was_dark = "body--dark" in (body.get_attribute("class") or "")
    dark_button.click()
    expected = re.compile(r"body--light") if was_dark else re.compile(r"body--dark")
    expect(body).to_have_class(expected)
    page.reload()
    expect(page.get_by_text("Bienvenue, Léa Moreau")).to_be_visible()
    expect(body).to_have_class(expected)  # saved for the user, not only in this page

    page.get_by_role("button", name="Menu de l'utilisateur").click()
    page.get_by_text("Se déconnecter").click()
    expect(page).to_have_url(f"{server_url}/login")
    page.goto(f"{server_url}/")
    expect(page).to_have_url(f"{server_url}/login")


def test_drawer_beside_the_content_when_wide_over_it_when_narrow(
    page: Page, server_url: str, clean_after: None
) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, email="lea.moreau@example.org", name="Léa Moreau")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{server_url}/login")
    sign_in(page, "lea.moreau@example.org")
    expect(page.get_by_text("Bienvenue, Léa Moreau")).to_be_visible()
    drawer = page.locator("#opex-drawer")
    menu = page.get_by_role("button", name="Menu", exact=True)
    breadcrumb = page.get_by_label("Fil d'Ariane")

    # Wide: open beside the content, which starts after it; the button closes and reopens it.
    expect(drawer).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    # A short screen (a new user's notifications) fits the window: the header's height adds nothing.
    drawer.get_by_role("link", name="Notifications").click()
    expect(page).to_have_url(f"{server_url}/notifications")
    page.wait_for_function("() => document.scrollingElement.scrollHeight === window.innerHeight", timeout=5_000)
    drawer.get_by_role("link", name="Tableau de bord").click()
    expect(page.get_by_text("Bienvenue, Léa Moreau")).to_be_visible()
    drawer_box, content_box = drawer.bounding_box(), breadcrumb.bounding_box()
    assert drawer_box is not None and content_box is not None
    assert content_box["x"] >= drawer_box["x"] + drawer_box["width"]
    menu.click()
    expect(drawer).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    # The content takes the width back (it waits for the end of the transition).
    page.wait_for_function(
        "(crumbs) => crumbs.getBoundingClientRect().x === 32", arg=breadcrumb.element_handle(), timeout=5_000
    )
    menu.click()
    expect(drawer).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")

    # Narrow: closed, opened over the content, closed by Escape, by the backdrop and by following a link.
    page.set_viewport_size({"width": 800, "height": 800})
    expect(drawer).to_be_hidden()
    menu.click()
    expect(drawer).to_be_visible()
    drawer.locator("a").first.focus()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    expect(menu).to_be_focused()  # the focus goes back to the button, not to the page's body
    menu.click()
    expect(drawer).to_be_visible()
    page.mouse.click(700, 400)  # on the backdrop, not on what lies under it
    expect(drawer).to_be_hidden()
    expect(page).to_have_url(f"{server_url}/")
    menu.click()
    drawer.get_by_role("link", name="Établissements").click()
    expect(page).to_have_url(f"{server_url}/institutions")
    expect(drawer).to_be_hidden()
    expect(drawer.locator('a[href="/institutions"]')).to_have_attribute("aria-current", "page")

    # A page loaded on a narrow screen starts with the drawer closed.
    page.reload()
    expect(page.get_by_role("button", name="Nouvel établissement")).to_be_visible()
    expect(drawer).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")

    # On a phone the header wraps to more lines; the content still starts below it.
    page.set_viewport_size({"width": 390, "height": 800})
    header = page.locator(".opex-header")
    page.wait_for_function("(header) => header.offsetHeight > 100", arg=header.element_handle(), timeout=5_000)
    page.wait_for_function(
        "([header, crumbs]) => crumbs.getBoundingClientRect().y >= header.offsetHeight",
        arg=[header.element_handle(), breadcrumb.element_handle()],
        timeout=5_000,
    )


def test_slash_and_ctrl_k_take_the_focus_to_the_global_search(page: Page, server_url: str, clean_after: None) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.MANAGER, email="lea.moreau@example.org", name="Léa Moreau")
    page.goto(f"{server_url}/login?redirect_to=/institutions")
    sign_in(page, "lea.moreau@example.org")
    search = page.get_by_role("combobox", name="Rechercher partout")
    list_search = page.get_by_role("textbox", name="Rechercher", exact=True)
    expect(list_search).to_be_visible()
    # What the page left to the browser: its own use of the key (Ctrl+K: the address bar) follows unless prevented.
    page.evaluate("() => window.addEventListener('keydown', (e) => { window.lastKey = [e.key, e.defaultPrevented]; })")

    page.evaluate("() => document.activeElement?.blur()")  # nothing focused
    page.keyboard.press("/")
    expect(search).to_be_focused()
    expect(search).to_have_value("")  # the key focused the box, it is not typed into it
    assert page.evaluate("window.lastKey") == ["/", True]

    list_search.click()
    page.keyboard.type("a/b")  # in a field, `/` is a character like any other
    expect(list_search).to_have_value("a/b")
    expect(list_search).to_be_focused()
    assert page.evaluate("window.lastKey") == ["b", False]

    page.keyboard.press("Control+k")  # from a field too
    expect(search).to_be_focused()
    assert page.evaluate("window.lastKey") == ["k", True]


def test_health_check_command_against_the_running_server(server_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crm_app.cli", "health-check", "--url", server_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("healthy: database ok in ")
    assert "scheduler running" in result.stdout
