"""In Chromium: a quote with two catalog lines and a global discount, its totals as typed, sent, its
PDF downloaded and read back, then accepted with the client's comment."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, use_locale
from crm_app.platform.models.people import Role
from crm_app.sales import money
from crm_app.sales.models.quotes import Quote, QuoteStatus
from tests.factories import PASSWORD, make_user
from tests.institution_factories import make_institution
from tests.sales_factories import make_catalog_item

pytestmark = pytest.mark.e2e


def _euros(value: Decimal) -> str:
    with use_locale("en"):
        return format_currency(value)


def test_quote_from_the_catalog_sent_downloaded_and_accepted(
    browser: Browser, server_url: str, clean_after: None
) -> None:
    with unit_of_work() as session:
        make_user(session, role=Role.USER, email="sophie.martin@example.org", name="Sophie Martin")
        clinic = make_institution(session, name="Clinique des Cèdres").id
        make_catalog_item(session, reference="END-100", name="Colonne d'endoscopie", unit_price="1250.00")
        make_catalog_item(
            session, reference="GAN-200", name="Gants stériles", unit_price="89.90", default_vat_rate="5.5", unit="box"
        )
    # English: the journey reads the English message ids, whatever the catalogs hold.
    context = browser.new_context(locale="en-US", timezone_id="Europe/Paris", accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{server_url}/quotes/new?institution_id={clinic}")
        page.get_by_label("Email").fill("sophie.martin@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/quotes/new"))
        # The choice is shown as the select's text (whole, wrapping), not written into its search input.
        institution = page.locator(".q-select", has=page.get_by_role("combobox", name="Institution"))
        expect(institution.locator(".q-field__native > span")).to_have_text(re.compile("Clinique des Cèdres"))

        page.get_by_label("Title").fill("Bloc opératoire 2")
        page.get_by_label("Catalog").first.fill("endo")
        page.get_by_role("option", name=re.compile("END-100")).click()
        chosen_item = page.locator(".opex-line-catalog .q-field__native > span").first
        expect(chosen_item).to_have_text("END-100 · Colonne d'endoscopie")
        expect(page.get_by_label("Unit price excl. VAT").first).to_have_value("1250.00")
        page.get_by_role("button", name="Add a line").click()
        page.get_by_label("Catalog").nth(1).fill("gants")
        page.get_by_role("option", name=re.compile("GAN-200")).click()
        expect(page.get_by_label("Unit price excl. VAT").nth(1)).to_have_value("89.90")
        page.get_by_label("Quantity").nth(1).fill("4")
        page.get_by_label("Global discount (%)").fill("10")
        totals = money.compute_totals(
            [
                money.LineAmounts(Decimal("1"), Decimal("1250.00"), Decimal("20")),
                money.LineAmounts(Decimal("4"), Decimal("89.90"), Decimal("5.5")),
            ],
            Decimal("10"),
        )
        expect(page.get_by_text(_euros(totals.total_incl_vat), exact=True)).to_be_visible()
        expect(page.get_by_text(_euros(totals.total_excl_vat), exact=True)).to_be_visible()

        page.get_by_role("button", name="Save").click()
        expect(page).to_have_url(re.compile(r"/quotes/[0-9a-f-]{36}$"))
        quote_id = page.url.rsplit("/", 1)[1]
        expect(page.get_by_text(_euros(totals.total_incl_vat), exact=True)).to_be_visible()

        page.get_by_role("button", name="Mark as sent").click()
        expect(page.get_by_text("The quote is marked as sent.")).to_be_visible()  # each step says it was done
        expect(page.get_by_role("button", name="Accept", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Mark as sent")).to_have_count(0)
        with unit_of_work() as session:
            quote = session.get(Quote, quote_id)
            assert quote is not None and quote.status == QuoteStatus.SENT
            number, total = quote.number, quote.total_incl_vat
        assert total == totals.total_incl_vat

        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download PDF").click()
        download = download_info.value
        path = download.path()
        data = open(path, "rb").read()  # noqa: SIM115 - read once
        assert data.startswith(b"%PDF")
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
        assert number in text
        assert "Colonne d'endoscopie" in text and "GAN-200" in text

        page.get_by_role("button", name="Accept", exact=True).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Client's comment").fill("Bon pour accord, livraison en mars")
        dialog.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("Quote accepted.")).to_be_visible()
        expect(page.get_by_text("Bon pour accord, livraison en mars")).to_be_visible()
        with unit_of_work() as session:
            quote = session.get(Quote, quote_id)
            assert quote is not None and quote.status == QuoteStatus.ACCEPTED

        # ... and invoiced: the draft invoice is created and its page opens, confirmed on screen.
        page.get_by_role("button", name="Create an invoice").click()
        page.get_by_role("dialog").get_by_role("button", name="Create").click()
        expect(page.get_by_text("Draft invoice created.")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/invoices/[0-9a-f-]{36}$"))
        expect(page.get_by_text(_euros(totals.total_incl_vat), exact=True).first).to_be_visible()
    finally:
        context.close()
