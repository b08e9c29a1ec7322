"""Catalogs complete in fr, en, es, de; locale negotiation; formatting."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from crm_app.platform.i18n import (
    NP_,
    SUPPORTED_LOCALES,
    catalogs,
    format_currency,
    format_datetime,
    gettext,
    negotiate,
    pgettext,
    use_locale,
)
from crm_app.sales.invoices import STATUS_LABELS as INVOICE_STATUS_LABELS
from crm_app.sales.models.invoices import InvoiceStatus
from crm_app.sales.models.quotes import QuoteStatus
from crm_app.sales.quotes import QUOTE_STATUS_LABELS
from crm_app.sales.units import unit_for


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_has_every_message_translated_and_none_fuzzy(locale: str) -> None:
    assert catalogs.problems(locale) == []


def test_extraction_finds_messages_in_every_layer() -> None:
    messages = {message for _context, message in catalogs.extract_messages()}
    assert "Log in" in messages  # pages
    assert "Dark mode" in messages  # components
    assert "Invalid email or password." in messages  # services
    assert "Not found." in messages  # domain errors


def test_french_is_the_default_and_placeholders_are_filled() -> None:
    assert gettext("Log in") == "Se connecter"
    with use_locale("de"):
        assert gettext("Welcome, {name}", name="Anna") == "Willkommen, Anna"
    with use_locale("xx"):
        assert gettext("Log in") == "Se connecter"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9,fr;q=0.8", "en"),
        ("de-CH", "de"),
        ("pt-BR,es;q=0.5", "es"),
        ("it, nl;q=0.8", None),
        ("fr;q=0.2, es;q=0.9", "es"),
        ("", None),
        (None, None),
        ("en;q=bad", "en"),
    ],
)
def test_browser_language_negotiation(header: str | None, expected: str | None) -> None:
    assert negotiate(header) == expected


def test_dates_and_money_follow_the_locale() -> None:
    moment = datetime(2026, 3, 5, 13, 30, tzinfo=UTC)
    with use_locale("fr"):
        assert format_datetime(moment, "Europe/Paris", style="short") == "05/03/2026 14:30"
        assert format_currency(Decimal("1234.5")) == "1\u202f234,50\xa0€"
    with use_locale("en"):
        assert format_currency(Decimal("1234.5")) == "€1,234.50"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr", ["0 réunion", "1 réunion", "2 réunions"]),
        ("en", ["0 meetings", "1 meeting", "2 meetings"]),
        ("es", ["0 reuniones", "1 reunión", "2 reuniones"]),
        ("de", ["0 Termine", "1 Termin", "2 Termine"]),
    ],
)
def test_counts_take_the_plural_form_of_the_language(locale: str, expected: list[str]) -> None:
    from crm_app.platform.i18n import ngettext

    with use_locale(locale):
        assert [ngettext("{count} meeting", "{count} meetings", n, count=n) for n in (0, 1, 2)] == expected


def test_plural_messages_are_extracted_with_both_forms() -> None:
    from crm_app.platform.i18n.catalogs import extract_messages

    assert (None, ("{count} task", "{count} tasks")) in extract_messages()


def test_a_message_translates_by_where_it_is_used() -> None:
    from crm_app.platform.i18n import pgettext
    from crm_app.platform.i18n.catalogs import extract_messages

    assert ("filter", "Active") in extract_messages() and (None, "Active") in extract_messages()
    assert (gettext("Active"), pgettext("filter", "Active")) == ("Actif", "Actifs")  # an account; the list filter
    assert (gettext("Archived"), pgettext("filter", "Archived")) == ("Archivé", "Archivés")
    with use_locale("en"):
        assert pgettext("filter", "Active") == "Active"


def test_messages_inside_f_strings_are_extracted() -> None:
    """Babel's tokenizer does not look inside f-strings before Python 3.12."""
    source = 'x = f\'aria-label="{_("Move up")}" {gettext("Other")} {count}\'\ny = _("plain")\n'
    assert catalogs._in_f_strings(source) == [(1, "Move up"), (1, "Other")]
    messages = catalogs.extract_messages()
    assert (None, "Move up") in messages and (None, "Navigation") in messages
    with use_locale("de"):
        assert gettext("Move up") == "Nach oben"


_FIXED_LABEL = re.compile(r"""aria-label=(?:["']|&quot;)?[A-Za-z]""")


def _fixed_labels(source: str) -> list[tuple[int, str]]:
    """Accessible names written as fixed text in a string of the source (props, templates): a screen
    reader would read them in English whatever the user's language."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _FIXED_LABEL.search(node.value):
            found.append((node.lineno, node.value))
    return sorted(found)


def test_accessible_names_are_translated() -> None:
    root = Path(__file__).resolve().parents[2]
    fixed = [
        f"{path.relative_to(root)}:{line}: {text}"
        for folder in ("components", "pages")
        for path in sorted((root / folder).rglob("*.py"))
        for line, text in _fixed_labels(path.read_text(encoding="utf-8"))
    ]
    assert not fixed, "aria-label written in English only; use _():\n" + "\n".join(fixed)


def test_the_accessible_name_scan_tells_fixed_from_translated() -> None:
    source = (
        'a.props(\'flat aria-label="Close"\')\nb.props(f\'aria-label="{_("Close")}"\')\n'
        "c.props('aria-label=breadcrumb')\nd = '<q-btn aria-label=\"{add}\">'\n"
    )
    assert [line for line, _text in _fixed_labels(source)] == [1, 3]


def test_a_status_agrees_with_its_noun_and_an_action_is_a_verb() -> None:
    """French agrees an adjective with its noun: un devis "Annulé", une facture "Annulée"; the import
    report counts rows, "Rejetées". One English word, a context per use (`NP_`, `pgettext`)."""
    with use_locale("fr"):
        assert gettext(QUOTE_STATUS_LABELS[QuoteStatus.CANCELLED]) == "Annulé"
        assert gettext(INVOICE_STATUS_LABELS[InvoiceStatus.CANCELLED]) == "Annulée"
        assert gettext(QUOTE_STATUS_LABELS[QuoteStatus.REJECTED]) == "Refusé"
        assert pgettext("import report", "Rejected") == "Rejetées"
        assert gettext("Accept") == "Accepter" and gettext("Reject") == "Refuser"
    with use_locale("de"):
        assert gettext(QUOTE_STATUS_LABELS[QuoteStatus.ACCEPTED]) == "Angenommen"  # not a meeting's "Zugesagt"
    with use_locale("en"):
        assert gettext(QUOTE_STATUS_LABELS[QuoteStatus.CANCELLED]) == "Cancelled"
    assert gettext(NP_("nowhere", "Untranslated")) == "Untranslated"  # a missing entry falls back to the id


def test_a_unit_agrees_with_its_quantity() -> None:
    with use_locale("fr"):
        assert [unit_for("unit", Decimal(n)) for n in ("1", "1.5", "4")] == ["unité", "unité", "unités"]
        assert unit_for("day", Decimal("2")) == "jours" and unit_for("kg", Decimal("3")) == "kg"
    with use_locale("en"):
        assert [unit_for("day", Decimal(n)) for n in ("1", "1.000", "1.5", "2")] == ["day", "day", "days", "days"]
    with use_locale("de"):
        assert unit_for("box", 3) == "Schachteln"
