"""The PDF renderer: the text read back (pypdf) shows the numbers, every total, the VAT rows, the legal
mentions, the buyer and the dates in the document's language; long documents are paged; the same
input gives the same bytes."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pypdf
import pytest
from babel.numbers import format_currency

from crm_app.i18n import gettext, use_locale
from crm_app.models import DocumentKind
from crm_app.pdf.document import Party, PdfDocument, PdfLine
from crm_app.pdf.render import render
from crm_app.services.document_settings import BRANDING_DEFAULTS, Branding
from crm_app.services.money import DiscountKind, LineAmounts, compute_totals

SELLER = Branding(**{**BRANDING_DEFAULTS, "legal_name": "OPEx Médical SAS", "address": "12 rue de la Paix\n75002 Paris",
                     "siret": "73282932000074", "vat_number": "FR44732829320", "rcs": "RCS Paris B 732 829 320",
                     "share_capital": "10 000 €", "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP",
                     "footer": "Merci de votre confiance", "terms": "Article 1 – Objet.\n\nArticle 2 – Prix."})
BUYER = Party(name="CHU de Lyon – Hôpital Édouard Herriot", address_lines=("5 place d'Arsonval", "69003 Lyon"),
              contact_name="Dr Zoé Martin", siret="26690002700012")


def document(kind: DocumentKind = DocumentKind.INVOICE, *, lines: int = 3, language: str = "fr",
             discount: str = "5", draft: bool = False, paid: str = "100.00") -> PdfDocument:
    amounts = [LineAmounts(quantity=Decimal("2.5") if i % 2 else Decimal(3), unit_price=Decimal("1234.50"),
                           vat_rate=(Decimal(20), Decimal("5.5"), Decimal(10))[i % 3],
                           discount_kind=DiscountKind.PERCENT if i == 0 else None,
                           discount_value=Decimal(10) if i == 0 else Decimal(0)) for i in range(lines)]
    totals = compute_totals(amounts, Decimal(discount))
    pdf_lines = tuple(PdfLine(reference=f"REF-{i:03d}", description=f"Ligne {i:03d} : maintenance préventive",
                              quantity=a.quantity, unit="day" if i % 2 else "unit", unit_price=a.unit_price,
                              discount_label="10 %" if i == 0 else None, vat_rate=a.vat_rate, net_amount=t.net)
                      for i, (a, t) in enumerate(zip(amounts, totals.lines, strict=True)))
    number = {DocumentKind.QUOTE: "DEV-2026-00042", DocumentKind.ORDER: "BC-2026-00007",
              DocumentKind.INVOICE: "FAC-2026-00001", DocumentKind.CREDIT_NOTE: "AV-2026-00001"}[kind]
    is_invoice = kind is DocumentKind.INVOICE
    return PdfDocument(
        kind=kind, number="" if draft and is_invoice else number, language=language, issue_date=date(2026, 3, 15),
        seller=SELLER, buyer=BUYER, lines=pdf_lines, totals=totals, title="Contrat de maintenance",
        valid_until=date(2026, 4, 14) if kind is DocumentKind.QUOTE else None,
        due_date=date(2026, 4, 14) if is_invoice else None, payment_terms_days=30 if is_invoice else None,
        late_penalty_rate=Decimal(10) if is_invoice else None, recovery_indemnity=Decimal(40) if is_invoice else None,
        amount_paid=Decimal(paid) if is_invoice else Decimal(0),
        amount_due=totals.total_incl_vat - Decimal(paid) if is_invoice else None,
        references=(("Quote", "DEV-2026-00042"),) if is_invoice else (), salesperson="Camille Vendeur", draft=draft)


def pages_text(content: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    # Babel separates French thousands with a narrow no-break space: compare with plain spaces
    return [re.sub(r"[\u202f\u00a0]", " ", page.extract_text()) for page in reader.pages]


def money(value: Decimal, language: str) -> str:
    return re.sub(r"[\u202f\u00a0]", " ", format_currency(value, "EUR", locale=language))


def label(message: str, language: str, **params: object) -> str:
    with use_locale(language):
        return re.sub(r"[\u202f\u00a0]", " ", gettext(message, **params))


@pytest.mark.parametrize("language", ["fr", "en", "es", "de"])
def test_an_invoice_shows_every_total_and_vat_row_in_its_language(language: str) -> None:
    doc = document(language=language)
    [text] = pages_text(render(doc))
    assert "FAC-2026-00001" in text and "DEV-2026-00042" in text
    totals = doc.totals
    for amount in (totals.subtotal, -totals.global_discount, totals.total_excl_vat, totals.total_vat,
                   totals.total_incl_vat, doc.amount_paid, doc.amount_due):
        assert amount is not None
        assert money(amount, language) in text, (language, amount)
    assert len(totals.vat_rows) == 3
    for row in totals.vat_rows:
        assert money(row.base, language) in text and money(row.vat, language) in text
    assert label("Invoice", language) in text and label("Total incl. VAT", language) in text
    for i in range(3):
        assert f"REF-{i:03d}" in text
    assert money(Decimal("1234.50"), language) in text


def test_dates_and_amounts_follow_the_locale() -> None:
    [french] = pages_text(render(document(language="fr")))
    [english] = pages_text(render(document(language="en")))
    assert "15 mars 2026" in french and "14 avril 2026" in french
    assert "1 234,50 €" in french
    assert "March 15, 2026" in english and "April 14, 2026" in english
    assert "€1,234.50" in english
    assert "5,5 %" in french and "5.5%" in english


def test_an_invoice_carries_the_french_legal_mentions() -> None:
    [text] = pages_text(render(document()))
    flat = " ".join(text.split())
    for value in ("OPEx Médical SAS", "73282932000074", "FR44732829320", "RCS Paris B 732 829 320", "10 000 €",
                  "FR76 3000 6000 0112 3456 7890 189", "AGRIFRPP", "Merci de votre confiance"):
        assert value in flat, value
    assert " ".join(label("No discount for early payment.", "fr").split()) in flat
    penalty = label("Late payment penalties: {rate} per year, due from the day after the due date.", "fr",
                    rate="10 %")
    assert " ".join(penalty.split()) in flat
    assert "40,00 €" in flat  # the fixed recovery indemnity
    assert "CHU de Lyon – Hôpital Édouard Herriot" in flat and "69003 Lyon" in flat and "Dr Zoé Martin" in flat
    assert label("{days} days", "fr", days=30) in flat


def test_a_quote_shows_its_validity_and_its_terms_on_a_page_of_their_own() -> None:
    first, terms = pages_text(render(document(DocumentKind.QUOTE)))
    assert "DEV-2026-00042" in first and "14 avril 2026" in first
    assert label("Amount due", "fr") not in first  # payments are for invoices
    assert "Article 1 – Objet." in terms and "Article 2 – Prix." in terms
    assert "Article 1" not in first
    assert label("Page {page} / {total}", "fr", page=2, total=2) in terms


def test_a_credit_note_and_an_order_render() -> None:
    [credit] = pages_text(render(document(DocumentKind.CREDIT_NOTE)))
    assert "AV-2026-00001" in credit and label("Credit note", "fr") in credit
    assert "73282932000074" in credit
    [order] = pages_text(render(document(DocumentKind.ORDER)))
    assert "BC-2026-00007" in order and label("Order confirmation", "fr") in order


def test_a_300_line_document_spans_several_numbered_pages() -> None:
    doc = document(lines=300)
    texts = pages_text(render(doc))
    assert len(texts) >= 5
    for number, text in enumerate(texts, start=1):
        assert label("Page {page} / {total}", "fr", page=number, total=len(texts)) in text
    everything = "\n".join(texts)
    assert all(f"REF-{i:03d}" in everything for i in range(300))
    assert money(doc.totals.total_incl_vat, "fr") in texts[-1]
    assert label("Description", "fr") in texts[1]  # the header row is repeated


def test_a_draft_is_watermarked_and_has_no_number() -> None:
    [text] = pages_text(render(document(draft=True)))
    assert label("DRAFT", "fr") in text
    assert "FAC-2026-00001" not in text
    [issued] = pages_text(render(document()))
    assert label("DRAFT", "fr") not in issued


def test_the_same_document_renders_to_the_same_bytes() -> None:
    doc = document(DocumentKind.QUOTE, lines=20)
    assert render(doc) == render(replace(doc))
    assert render(doc) != render(replace(doc, number="DEV-2026-00043"))


def test_a_logo_is_drawn_and_a_missing_one_is_skipped() -> None:
    from PIL import Image

    from crm_app.storage import write_file

    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), "#1565c0").save(buffer, format="PNG")
    path = "branding/test-logo.png"
    write_file(path, buffer.getvalue())
    with_logo = render(replace(document(), seller=replace(SELLER, logo_path=path)))
    reader = pypdf.PdfReader(io.BytesIO(with_logo))
    assert any(reader.pages[0].images)
    without = render(replace(document(), seller=replace(SELLER, logo_path="branding/none.png")))
    assert not list(pypdf.PdfReader(io.BytesIO(without)).pages[0].images)
