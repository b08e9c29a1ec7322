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

from crm_app.platform.i18n import gettext, use_locale
from crm_app.sales.document_settings import BRANDING_DEFAULTS, Branding
from crm_app.sales.models.quotes import DiscountType, DocumentKind
from crm_app.sales.money import LineAmounts, compute_totals
from crm_app.sales.pdf.document import Party, PdfDocument, PdfLine
from crm_app.sales.pdf.render import render

SELLER = Branding(
    **{
        **BRANDING_DEFAULTS,
        "legal_name": "OPEx Médical SAS",
        "address": "12 rue de la Paix\n75002 Paris",
        "siret": "73282932000074",
        "vat_number": "FR44732829320",
        "rcs": "RCS Paris B 732 829 320",
        "share_capital": "10 000 €",
        "iban": "FR7630006000011234567890189",
        "bic": "AGRIFRPP",
        "footer": "Merci de votre confiance",
        "terms": "Article 1 – Objet.\n\nArticle 2 – Prix.",
    }
)
BUYER = Party(
    name="CHU de Lyon – Hôpital Édouard Herriot",
    address_lines=("5 place d'Arsonval", "69003 Lyon"),
    contact_name="Dr Zoé Martin",
    siret="26690002700012",
)


def document(
    kind: DocumentKind = DocumentKind.INVOICE,
    *,
    lines: int = 3,
    language: str = "fr",
    discount: str = "5",
    draft: bool = False,
) -> PdfDocument:
    amounts = [
        LineAmounts(
            quantity=Decimal("2.5") if i % 2 else Decimal(3),
            unit_price=Decimal("1234.50"),
            vat_rate=(Decimal(20), Decimal("5.5"), Decimal(10))[i % 3],
            discount_kind=DiscountType.PERCENT if i == 0 else None,
            discount_value=Decimal(10) if i == 0 else Decimal(0),
        )
        for i in range(lines)
    ]
    totals = compute_totals(amounts, Decimal(discount))
    pdf_lines = tuple(
        PdfLine(
            reference=f"REF-{i:03d}",
            description=f"Ligne {i:03d} : maintenance préventive",
            quantity=a.quantity,
            unit="day" if i % 2 else "unit",
            unit_price=a.unit_price,
            discount_label="10 %" if i == 0 else None,
            vat_rate=a.vat_rate,
            net_amount=t.net,
        )
        for i, (a, t) in enumerate(zip(amounts, totals.lines, strict=True))
    )
    number = {
        DocumentKind.QUOTE: "DEV-2026-00042",
        DocumentKind.ORDER: "BC-2026-00007",
        DocumentKind.INVOICE: "FAC-2026-00001",
        DocumentKind.CREDIT_NOTE: "AV-2026-00001",
    }[kind]
    is_invoice = kind is DocumentKind.INVOICE
    return PdfDocument(
        kind=kind,
        number="" if draft and is_invoice else number,
        language=language,
        issue_date=date(2026, 3, 15),
        seller=SELLER,
        buyer=BUYER,
        lines=pdf_lines,
        totals=totals,
        title="Contrat de maintenance",
        valid_until=date(2026, 4, 14) if kind is DocumentKind.QUOTE else None,
        due_date=date(2026, 4, 14) if is_invoice else None,
        payment_terms_days=30 if is_invoice else None,
        late_penalty_rate=Decimal(10) if is_invoice else None,
        recovery_indemnity=Decimal(40) if is_invoice else None,
        references=(("Quote", "DEV-2026-00042"),) if is_invoice else (),
        salesperson="Camille Vendeur",
        draft=draft,
    )


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
    for amount in (
        totals.subtotal,
        -totals.global_discount,
        totals.total_excl_vat,
        totals.total_vat,
        totals.total_incl_vat,
    ):
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
    # Units agree with their quantity: 3 units, 2.5 days ("2,5 jours"; French reads 1.5 as singular).
    assert "3\nunités\n" in french and "2,5\njours\n" in french  # quantity and unit, in their columns
    assert "3\nunits\n" in english and "2.5\ndays\n" in english


def test_an_invoice_carries_the_french_legal_mentions() -> None:
    [text] = pages_text(render(document()))
    flat = " ".join(text.split())
    for value in (
        "OPEx Médical SAS",
        "73282932000074",
        "FR44732829320",
        "RCS Paris B 732 829 320",
        "10 000 €",
        "FR76 3000 6000 0112 3456 7890 189",
        "AGRIFRPP",
        "Merci de votre confiance",
    ):
        assert value in flat, value
    assert " ".join(label("No discount for early payment.", "fr").split()) in flat
    penalty = label("Late payment penalties: {rate} per year, due from the day after the due date.", "fr", rate="10 %")
    assert " ".join(penalty.split()) in flat
    assert "40,00 €" in flat  # the fixed recovery indemnity
    assert "CHU de Lyon – Hôpital Édouard Herriot" in flat and "69003 Lyon" in flat and "Dr Zoé Martin" in flat
    assert label("{days} days", "fr", days=30) in flat


def test_a_one_line_quote_with_its_terms_is_one_page() -> None:
    """The terms follow the totals when they fit: no second page for two lines of terms."""
    doc = document(DocumentKind.QUOTE, lines=1)
    [text] = pages_text(render(doc))
    assert "DEV-2026-00042" in text and "14 avril 2026" in text
    assert label("Amount due", "fr") not in text  # payments are for invoices
    assert label("Terms and conditions of sale", "fr") in text
    assert "Article 1 – Objet." in text and "Article 2 – Prix." in text
    assert text.index(money(doc.totals.total_incl_vat, "fr")) < text.index("Article 1 – Objet.")
    assert label("Page {page} / {total}", "fr", page=1, total=1) in text


def body_lines(content: bytes) -> list[list[str]]:
    """Per page, the lines of text above the footer (a table row's cells make one line), top to bottom."""
    from crm_app.sales.pdf.render import FOOTER_HEIGHT

    pages = []
    for boxes in text_boxes(content):
        rows: dict[int, list[tuple[float, str]]] = {}
        for text, x0, y0, _x1, _y1 in boxes:
            if y0 > FOOTER_HEIGHT:
                rows.setdefault(round(y0), []).append((x0, text.strip()))
        pages.append([" ".join(t for _x, t in sorted(rows[y])) for y in sorted(rows, reverse=True)])
    return pages


TERMS_ARTICLE = (
    "Article {n} – Les prix s'entendent hors taxes, départ usine, et sont révisables chaque année au 1er janvier "
    "selon l'indice publié ; toute commande vaut acceptation des présentes conditions."
)


@pytest.mark.parametrize("kind", [DocumentKind.QUOTE, DocumentKind.INVOICE])
def test_a_document_that_spills_over_leaves_no_page_with_a_line_or_two(kind: DocumentKind) -> None:
    """Terms (quotes) or lines (both) of every length around a page's end: each page holds at least
    MIN_LINES lines of text besides its footer, and every article and every line is printed."""
    from crm_app.sales.pdf.render import MIN_LINES

    spilled = 0
    for lines, articles in [(1, n) for n in range(20, 44, 2)] + [(n, 4) for n in range(14, 30)]:
        terms = "\n\n".join(TERMS_ARTICLE.format(n=n) for n in range(1, articles + 1))
        doc = replace(document(kind, lines=lines), seller=replace(SELLER, terms=terms))
        content = render(doc)
        pages = body_lines(content)
        spilled += len(pages) > 1
        for number, page in enumerate(pages, start=1):
            assert len(page) >= MIN_LINES, (kind, lines, articles, number, page)
        everything = " ".join(" ".join(" ".join(page) for page in pages).split())
        assert all(f"REF-{i:03d}" in everything for i in range(lines))
        assert money(doc.totals.total_incl_vat, "fr") in everything
        if kind is DocumentKind.QUOTE:
            for n in range(1, articles + 1):
                assert " ".join(TERMS_ARTICLE.format(n=n).split()) in everything, (lines, articles, n)
    assert spilled > 10  # the cases do cross a page's end


@pytest.mark.parametrize("kind", list(DocumentKind))
@pytest.mark.parametrize("lines", [3, 120])
def test_the_legal_line_is_printed_once_per_page_in_the_footer(kind: DocumentKind, lines: int) -> None:
    """The seller's capital, SIRET, RCS and VAT number: once on each page, in its footer (its name also
    heads the first page)."""
    from crm_app.sales.pdf.render import FOOTER_HEIGHT

    content = render(document(kind, lines=lines))
    texts = pages_text(content)
    assert (len(texts) == 1) == (lines == 3)
    for number, (text, boxes) in enumerate(zip(texts, text_boxes(content), strict=True), start=1):
        flat = " ".join(text.split())
        for value in ("10 000 €", "73282932000074", "RCS Paris B 732 829 320", "FR44732829320"):
            assert flat.count(value) == 1, (kind, number, value)
        footer = " ".join(" ".join(t for t, _x0, y0, _x1, _y1 in boxes if y0 <= FOOTER_HEIGHT).split())
        assert "73282932000074" in footer and "FR44732829320" in footer, (kind, number)


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

    from crm_app.platform.storage import write_file

    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), "#1565c0").save(buffer, format="PNG")
    path = "branding/test-logo.png"
    write_file(path, buffer.getvalue())
    with_logo = render(replace(document(), seller=replace(SELLER, logo_path=path)))
    reader = pypdf.PdfReader(io.BytesIO(with_logo))
    assert any(reader.pages[0].images)
    without = render(replace(document(), seller=replace(SELLER, logo_path="branding/none.png")))
    assert not list(pypdf.PdfReader(io.BytesIO(without)).pages[0].images)


# --- what an issued document's stored PDF may hold, the footer, the labels ------------------------


@pytest.mark.parametrize("kind", [DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE])
@pytest.mark.parametrize("language", ["fr", "en", "es", "de"])
def test_an_invoice_pdf_holds_no_payment_status(kind: DocumentKind, language: str) -> None:
    """The stored PDF is served for ever: what was paid or remains due at the first download must not be on it."""
    [text] = pages_text(render(document(kind, language=language)))
    for message in ("Amount paid", "Amount due", "Credited"):
        assert label(message, language) not in text, (language, message)


LONG_SELLER = replace(
    SELLER,
    legal_name="Société Européenne d'Équipements Médicaux et de Maintenance Hospitalière OPEx SAS",
    address="Parc d'activités des Berges du Rhône, bâtiment C, troisième étage\n"
    "214 avenue Jean-Jaurès\n69007 Lyon Cedex 07",
    share_capital="1 250 000,00 €",
    rcs="Lyon B 732 829 320",
    vat_number="FR44732829320",
    footer="Merci de votre confiance. Association agréée, le règlement par chèque est accepté.",
)


Box = tuple[str, float, float, float, float]


def page_boxes(page: pypdf.PageObject) -> list[Box]:
    """Every piece of text drawn on a page with its box (text, x0, y0, x1, y1) in points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from crm_app.sales.pdf.render import fonts

    regular, bold = fonts()
    boxes: list[Box] = []

    def visit(text: str, cm: list[float], tm: list[float], font: dict | None, size: float) -> None:
        text = text.rstrip()  # a line's trailing space is not drawn
        if not text.strip() or font is None:
            return
        matrix = pypdf.mult(tm, cm)
        x, y, scale = matrix[4], matrix[5], matrix[0]
        name = bold if "Bold" in str(font.get("/BaseFont", "")) else regular
        width = stringWidth(text, name, size) * scale
        boxes.append((text, x, y - 0.25 * size * scale, x + width, y + 0.8 * size * scale))

    page.extract_text(visitor_text=visit)
    return boxes


def text_boxes(content: bytes) -> list[list[Box]]:
    return [page_boxes(page) for page in pypdf.PdfReader(io.BytesIO(content)).pages]


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_a_long_legal_footer_wraps_within_the_margins_and_keeps_the_page_number_apart(kind: DocumentKind) -> None:
    from crm_app.sales.pdf.render import MARGIN, PAGE_WIDTH

    content = render(replace(document(kind), seller=LONG_SELLER))
    texts = pages_text(content)
    for number, (text, boxes) in enumerate(zip(texts, text_boxes(content), strict=True), start=1):
        flat = " ".join(text.split())
        page_label = label("Page {page} / {total}", "fr", page=number, total=len(texts))
        assert page_label in text
        assert " ".join(label("VAT number: {number}", "fr", number="FR44732829320").split()) in flat
        assert "1 250 000,00 €" in flat and "Lyon Cedex 07" in flat and "Lyon B 732 829 320" in flat
        assert "le règlement par chèque est accepté." in flat
        for piece, x0, _y0, x1, _y1 in boxes:
            assert x0 >= MARGIN - 1 and x1 <= PAGE_WIDTH - MARGIN + 1, (kind, number, piece, x0, x1)
        [(_label, *page_box)] = [box for box in boxes if box[0].strip() == page_label]
        for piece, x0, y0, x1, y1 in boxes:
            if piece.strip() != page_label:
                overlaps = x0 < page_box[2] and page_box[0] < x1 and y0 < page_box[3] and page_box[1] < y1
                assert not overlaps, (kind, number, piece)


@pytest.mark.parametrize("value", ["RCS Paris B 732 829 320", "rcs Lyon B 732 829 320", "R.C.S. Lyon 732 829 320"])
def test_the_rcs_prefix_is_not_doubled(value: str) -> None:
    for language in ("fr", "en"):
        [text] = pages_text(render(replace(document(), language=language, seller=replace(SELLER, rcs=value))))
        flat = " ".join(text.split())
        assert value in flat
        assert not re.search(r"RCS\s*:\s*R\.?C\.?S", flat, re.IGNORECASE), flat
    [text] = pages_text(render(replace(document(), seller=replace(SELLER, rcs="Paris B 732 829 320"))))
    assert label("RCS: {rcs}", "fr", rcs="Paris B 732 829 320") in " ".join(text.split())


def _translations() -> dict[str, dict[str, str]]:
    """The catalogs' translations (fr, es, de), with those waiting in var/i18n_*.json to be merged."""
    import json
    from pathlib import Path

    from crm_app.platform.i18n import _messages

    found = {
        language: {k: v for k, v in _messages(language).items() if isinstance(v, str)}
        for language in ("fr", "es", "de")
    }
    for pending in sorted((Path(__file__).resolve().parents[2] / "var").glob("i18n_*.json")):
        for message, values in json.loads(pending.read_text(encoding="utf-8")).items():
            if isinstance(values, list) and len(values) == 3 and all(isinstance(v, str) for v in values):
                for language, value in zip(("fr", "es", "de"), values, strict=True):
                    found[language].setdefault(message, value)
    return found


def test_every_label_of_a_pdf_is_extracted_and_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A label the extractor cannot see (e.g. a call inside an f-string) never reaches the catalogs."""
    from babel.messages.extract import extract_from_file

    import crm_app.sales.pdf.render as render_module
    from crm_app.platform.i18n.catalogs import KEYWORDS

    used: set[str] = set()
    real = render_module.gettext

    def recording(message: str, /, **params: object) -> str:
        used.add(message)
        return real(message, **params)

    monkeypatch.setattr(render_module, "gettext", recording)
    for kind in DocumentKind:
        render(document(kind))
    render(document(draft=True))
    assert "Subject:" in used
    extracted = {
        message if isinstance(message, str) else message[0]
        for _line, message, _comments, _context in extract_from_file(
            "python", render_module.__file__, keywords=KEYWORDS
        )
        if message
    }
    assert used - extracted == set()
    translations = _translations()
    for language in ("fr", "es", "de"):
        missing = {message for message in used if message not in translations[language]}
        assert missing == set(), language


@pytest.mark.parametrize("language", ["fr", "es", "de"])
def test_the_subject_label_is_translated(language: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_app.platform import i18n

    translations = _translations()
    real = i18n._messages
    monkeypatch.setattr(i18n, "_messages", lambda locale: {**translations.get(locale, {}), **real(locale)})
    [text] = pages_text(render(document(language=language)))
    assert "Subject:" not in text
    assert f"{label('Subject:', language)} Contrat de maintenance" in " ".join(text.split())
