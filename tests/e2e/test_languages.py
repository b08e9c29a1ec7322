"""In Chromium: every screen read in English holds no French word, and in French no English one.

The words that betray a language come from the catalogs themselves: a word of the French
translations that no English message uses is French (« Enregistrer », « devis », « aucune »), and
a word of the English messages that no French translation uses is English ("Save", "quote").
The test data is written with made-up words that belong to neither language, so whatever is
flagged is the user interface speaking the wrong language: a string left untranslated, a text
built in code, or Quasar's own words ("Rows per page", "No data")."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache

import pytest
from babel.messages.catalog import Catalog
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import delete

from crm_app.accounts import users
from crm_app.activities import calls
from crm_app.platform import settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n.catalogs import read_catalog
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import invoices, payments
from tests.activity_factories import make_meeting, make_note, make_task
from tests.factories import PASSWORD, actor_of, make_team, make_user
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_accepted_quote, make_catalog_item, make_quote, make_sent_quote, quote_line

pytestmark = pytest.mark.e2e

_WORD = re.compile(r"[^\W\d_]{4,}")
_PLACEHOLDER = re.compile(r"\{[^}]*\}|%\([^)]*\)[sd]|<[^>]+>")

#: Words of Quasar's own language packs that the application catalogs do not hold.
_QUASAR = {
    "en": {"rows", "records", "selected", "loading"},
    "fr": {"lignes", "enregistrements", "sélectionné", "chargement", "donnée"},
}


def _texts(catalog: Catalog, *, ids: bool) -> Iterator[str]:
    for message in catalog:
        if not message.id:
            continue
        values = message.id if ids else message.string
        for text in values if isinstance(values, tuple | list) else (values,):
            if text:
                yield _PLACEHOLDER.sub(" ", str(text))


def _words(texts: Iterator[str]) -> set[str]:
    return {word.lower() for text in texts for word in _WORD.findall(text)}


@cache
def _foreign_words() -> dict[str, set[str]]:
    """For each screen language, the words that belong only to the other one."""
    english = read_catalog("en")
    french_words = _words(_texts(read_catalog("fr"), ids=False)) | _QUASAR["fr"]
    english_words = _words(_texts(english, ids=True)) | _words(_texts(english, ids=False)) | _QUASAR["en"]
    return {"en": french_words - english_words, "fr": english_words - french_words}


_DATA = re.compile(r"zorv\w*|qimb\w*|xylt\w*|vardo\w*|kepp\w*", re.IGNORECASE)


def _screen_words(page: Page, *, record: bool = False) -> tuple[str, set[str]]:
    """The page's text as a reader and a screen reader meet it: the visible text, placeholders,
    labels, titles and the values of fields; waits until it stops changing (the data arrives after the first paint)."""
    script = """() => {
        // Material icons are ligatures: their text ("search", "arrow_drop_down") is a glyph's name.
        const icons = new Set([...document.querySelectorAll('.q-icon, .material-icons')].map(e => e.innerText));
        const lines = document.body.innerText.split('\\n').filter(line => !icons.has(line.trim()));
        for (const el of document.querySelectorAll('[placeholder],[aria-label],[title]')) {
            for (const name of ['placeholder', 'aria-label', 'title']) {
                const value = el.getAttribute(name);
                if (value) lines.push(value);
            }
        }
        for (const el of document.querySelectorAll('input, textarea')) {
            if (el.value) lines.push(el.value);
        }
        return lines.join('\\n');
    }"""
    page.wait_for_load_state("networkidle")
    if record:  # a record's page shows the record (its fields' values count), not an error
        page.wait_for_function("() => /Zorvex|Qimbo|Vardo/.test(document.body.textContent)", timeout=10_000)

    text, steady, deadline = "", 0, time.monotonic() + 10
    while steady < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        current = page.evaluate(script)
        steady = steady + 1 if current == text else 0
        text = current
    return text, {word.lower() for word in _WORD.findall(_PLACEHOLDER.sub(" ", _DATA.sub(" ", text)))}


def _where(text: str, words: set[str]) -> list[str]:
    """The lines that hold the foreign words, for the failure message."""
    return [line.strip() for line in text.splitlines() if {w.lower() for w in _WORD.findall(line)} & words]


@dataclass(frozen=True)
class Records:
    institution: uuid.UUID
    contact: uuid.UUID
    quote: uuid.UUID
    draft_quote: uuid.UUID
    invoice: uuid.UUID
    task: uuid.UUID
    meeting: uuid.UUID
    call: uuid.UUID
    note: uuid.UUID
    team: uuid.UUID


def _seed(language_of: dict[str, str]) -> Records:
    """Records of every kind, named with made-up words (see _DATA), and one admin per language."""
    with unit_of_work() as session:
        # the company's identity (the settings screen shows it) in made-up words too, still a valid seller
        settings.update_section(
            session,
            SYSTEM_ACTOR,
            "branding",
            {"legal_name": "Zorvex Qimbal SAS", "address": "12 Xyltan\n75013 Xyltown"},
        )
        session.execute(delete(SecurityEvent))  # set-up, not an admin's change (as tests/conftest.py seeds)
        team = make_team(session, "Zorvex Kappteam")
        other = make_user(session, role=Role.MANAGER, team=team, email="kepp@zorvex.test", name="Kepp Vardon")
        other_actor = actor_of(other)
        admins = {}
        for language, email in language_of.items():
            admin = make_user(session, role=Role.ADMIN, team=team, email=email, name="Qimbo Xyltan")
            users.update_preferences(session, actor_of(admin), language=language)
            admins[language] = admin
        admin_actor = actor_of(admins["en"])
        institution = make_buyer(session, name="Zorvex Qimbara", city="Xyltown", assigned_to=admins["en"])
        contact = make_contact(session, institution, first_name="Vardo", last_name="Qimbolt")
        make_catalog_item(session, reference="ZRV-1", name="Zorvex kit", unit="box")
        line = quote_line(description="Zorvex kit", quantity="4", unit_price="125.50", unit="box")
        sent = make_sent_quote(session, admin_actor, institution, [line], title="Qimbo xylplan")
        draft = make_quote(session, admin_actor, institution, [line], title="Qimbo xyldraft")
        accepted = make_accepted_quote(session, admin_actor, institution, [line], title="Qimbo xyldone")
        invoice = invoices.create_invoice_from_quote(session, admin_actor, accepted.id)
        invoices.issue_invoice(session, admin_actor, invoice.id)
        payments.record_payment(session, admin_actor, invoice.id, {"amount": Decimal("100.00"), "method": "transfer"})
        task = make_task(
            session, other_actor, title="Zorvex xylfollow", assignee_id=admins["en"].id, institution_id=institution.id
        )
        for admin in admins.values():  # a notification for each reader
            make_task(session, other_actor, title="Zorvex xylping", assignee_id=admin.id)
        meeting = make_meeting(
            session,
            admin_actor,
            title="Zorvex xylreview",
            institution_id=institution.id,
            starts_at=utcnow().replace(microsecond=0) + timedelta(days=1),
        )
        call = calls.log_call(
            session, admin_actor, {"direction": "out", "institution_id": institution.id, "summary": "Qimbo xylt"}
        )
        # shared: the other language's admin reads it too (a private note is the English admin's alone)
        note = make_note(
            session, admin_actor, body="**Zorvex** qimbo", institution_id=institution.id, visibility="shared"
        )
        return Records(
            institution=institution.id,
            contact=contact.id,
            quote=sent.id,
            draft_quote=draft.id,
            invoice=invoice.id,
            task=task.id,
            meeting=meeting.id,
            call=call.id,
            note=note.id,
            team=team.id,
        )


def _screens(records: Records) -> list[str]:
    institution = f"/institutions/{records.institution}"
    return [
        "/",
        "/institutions",
        institution,
        *(f"{institution}?tab={tab}" for tab in ("contacts", "activity", "quotes", "invoices", "timeline", "history")),
        f"{institution}/edit",
        "/institutions/new",
        "/institutions/import",
        "/contacts",
        f"/contacts/{records.contact}",
        "/tasks",
        f"/tasks/{records.task}",
        "/meetings",
        f"/meetings/{records.meeting}",
        "/calls",
        f"/calls/{records.call}",
        "/notes",
        f"/notes/{records.note}",
        "/quotes",
        f"/quotes/{records.quote}",
        f"/quotes/{records.draft_quote}/edit",
        "/quotes/new",
        "/invoices",
        f"/invoices/{records.invoice}",
        "/catalog",
        "/notifications",
        "/profile",
        "/admin/users",
        "/admin/teams",
        f"/admin/teams/{records.team}",
        "/admin/settings",
        "/admin/security-log",
    ]


def _sign_in(page: Page, server_url: str, email: str, *, language: str) -> None:
    page.goto(f"{server_url}/login")
    page.get_by_label("Email" if language == "en" else "E-mail").fill(email)
    page.get_by_label("Password" if language == "en" else "Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Log in" if language == "en" else "Se connecter").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_screen_speaks_one_language(browser: Browser, server_url: str, clean_after: None, language: str) -> None:
    emails = {"en": "qimbo.en@zorvex.test", "fr": "qimbo.fr@zorvex.test"}
    records = _seed(emails)
    foreign = _foreign_words()[language]
    locale = {"en": "en-US", "fr": "fr-FR"}[language]
    context = browser.new_context(locale=locale, timezone_id="Europe/Paris", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for path in ("/login", "/forgot-password"):  # before signing in: the browser's language
            page.goto(f"{server_url}{path}")
            text, words = _screen_words(page)
            if words & foreign:
                found[path] = _where(text, words & foreign)
        _sign_in(page, server_url, emails[language], language=language)
        for path in _screens(records):
            page.goto(f"{server_url}{path}")
            text, words = _screen_words(page, record=bool(re.search(r"[0-9a-f-]{36}", path)))
            if words & foreign:
                found[path] = _where(text, words & foreign)
    finally:
        context.close()
    assert not found, f"{language} screens with words of the other language: {found}"
