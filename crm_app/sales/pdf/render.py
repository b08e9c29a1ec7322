"""Draw a `PdfDocument` (quote, order, invoice, credit note) as an A4 PDF with ReportLab's platypus.

Every label goes through gettext in the document's language and every amount, rate and date is
formatted by Babel for that locale ("1 234,50 €" in French). Nothing is computed here: the totals are
printed exactly as `services.money.compute_totals` gave them.

Deterministic output: the same `PdfDocument` (and the same logo file) gives byte-identical PDFs.
ReportLab's `invariant` mode fixes the creation date and derives the file identifier from the content
instead of the clock, and the fonts are subset in a fixed order; so a stored PDF's SHA-256 can be
checked against a re-render. Fonts are TrueType, embedded (subset) in every PDF, as PDF/A-3 (Factur-X)
requires: DejaVu Sans (Debian's fonts-dejavu-core) when installed, for any Unicode text a client name
may hold; otherwise Bitstream Vera, which ReportLab's own wheel ships (DejaVu's ancestor: €, French,
Spanish and German accents; a character it lacks is replaced by "?"). Helvetica, one of the PDF's
standard fonts, is never used: it would not be embedded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from crm_app.platform.i18n import N_, gettext, use_locale
from crm_app.platform.storage import path_of
from crm_app.sales.models.quotes import DocumentKind
from crm_app.sales.pdf.document import PdfDocument
from crm_app.sales.units import unit_for

log = logging.getLogger(__name__)

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
FOOTER_HEIGHT = 18 * mm  # at least: from the page's bottom edge to the footer's rule
FOOTER_BOTTOM = 8 * mm  # the footer's text never goes below this
FOOTER_GAP = 2 * mm  # between the rule and the footer's first line
PAGE_LABEL_WIDTH = 24 * mm  # the column of "Page X / Y", right of the footer's text
FOOTER_FONT_SIZE, FOOTER_LEADING = 7, 8.5
FOOTER_MAX_LINES = 5  # of the admin's footer text
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
DEFAULT_ACCENT = "#1565c0"
LOGO_MAX = (50 * mm, 22 * mm)
FRAME_PADDING = 6  # points: the padding of platypus' default frame, inside the page margins
#: Lines of text that a page break in the document's end (totals, payment, mentions, terms) leaves on
#: either side of it at least: no page starts or ends the document with a line or two alone.
MIN_LINES = 3

TITLES: dict[DocumentKind, str] = {
    DocumentKind.QUOTE: N_("Quote"),
    DocumentKind.ORDER: N_("Order confirmation"),
    DocumentKind.INVOICE: N_("Invoice"),
    DocumentKind.CREDIT_NOTE: N_("Credit note"),
}
#: Labels of `PdfDocument.references`, marked for extraction.
REFERENCE_LABELS = (
    N_("Quote"),
    N_("Order"),
    N_("Purchase order"),
    N_("Invoice"),
    N_("Service code"),
    N_("Engagement number"),
)
#: An RCS the admin typed with its prefix ("RCS Paris B 123…", "R.C.S. Lyon …") is printed as it is.
RCS_PREFIX = re.compile(r"r\.?\s*c\.?\s*s", re.IGNORECASE)


# --- fonts ---------------------------------------------------------------------------------------

_fonts: tuple[str, str] | None = None
_glyphs: frozenset[int] | None = None  # the fallback font's characters; None: DejaVu prints anything


def fonts() -> tuple[str, str]:
    """(regular, bold) font names, registered once per process."""
    global _fonts, _glyphs
    if _fonts is None:
        regular, bold = DEJAVU_DIR / "DejaVuSans.ttf", DEJAVU_DIR / "DejaVuSans-Bold.ttf"
        if not (regular.exists() and bold.exists()):
            bundled = resources.files("reportlab") / "fonts"
            regular, bold = Path(str(bundled / "Vera.ttf")), Path(str(bundled / "VeraBd.ttf"))
            face = TTFont("OpexSans", str(regular))
            _glyphs = frozenset(face.face.charToGlyph)
            pdfmetrics.registerFont(face)
        else:
            pdfmetrics.registerFont(TTFont("OpexSans", str(regular)))
        pdfmetrics.registerFont(TTFont("OpexSans-Bold", str(bold)))
        _fonts = ("OpexSans", "OpexSans-Bold")
    return _fonts


def _printable(text: str) -> str:
    """Keep what the font can print: anything with DejaVu, Vera's characters otherwise."""
    fonts()
    if _glyphs is None:
        return text
    text = text.replace("\u202f", "\u00a0")  # Babel's narrow no-break space (French thousands)
    return "".join(char if ord(char) in _glyphs or char in "\n\r\t" else "?" for char in text)


# --- formatting ----------------------------------------------------------------------------------


class _Formats:
    """Amounts, quantities, rates and dates in one locale."""

    def __init__(self, language: str, currency: str = "EUR") -> None:
        self.language = language
        self.currency = currency

    def money(self, value: Decimal) -> str:
        return _printable(babel_numbers.format_currency(value, self.currency, locale=self.language))

    def quantity(self, value: Decimal) -> str:
        return _printable(babel_numbers.format_decimal(value, format="#,##0.###", locale=self.language))

    def rate(self, value: Decimal) -> str:
        return _printable(
            babel_numbers.format_percent(value / 100, format=_percent_pattern(self.language), locale=self.language)
        )

    def day(self, value: date | None) -> str:
        return _printable(babel_dates.format_date(value, format="long", locale=self.language)) if value else ""


@cache
def _percent_pattern(language: str) -> str:
    """The locale's percent pattern ("#,##0 %" in French) with up to two decimals (5,5 %)."""
    pattern = Locale.parse(language).percent_formats[None].pattern
    return pattern.replace("0", "0.##", 1) if "0." not in pattern else pattern


def _(message: str, **params: Any) -> str:
    return _printable(gettext(message, **params))


def _para(text: str) -> str:
    """Plain text as Paragraph markup: escaped, line breaks kept."""
    return "<br/>".join(escape(_printable(line)) for line in text.strip().splitlines())


# --- page furniture: footer with "page X / Y", draft watermark ----------------------------------


class _Footer:
    """The footer of every page: the seller's legal identity and the admin's footer text as one wrapped
    paragraph within the margins, and "Page X / Y" in a column of its own on the right."""

    def __init__(self, paragraph: Paragraph, font: str) -> None:
        self.paragraph = paragraph
        self.font = font
        self.text_width = CONTENT_WIDTH - PAGE_LABEL_WIDTH - 2 * mm
        _width, self.text_height = paragraph.wrap(self.text_width, PAGE_HEIGHT)
        #: height of the rule above the footer, from the page's bottom edge
        self.rule = max(FOOTER_HEIGHT, FOOTER_BOTTOM + self.text_height + FOOTER_GAP)

    def draw(self, canvas: Canvas, label: str) -> None:
        canvas.saveState()
        canvas.setStrokeColor(colors.HexColor("#bbbbbb"))
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, self.rule, PAGE_WIDTH - MARGIN, self.rule)
        top = self.rule - FOOTER_GAP
        self.paragraph.drawOn(canvas, MARGIN, top - self.text_height)
        canvas.setFont(self.font, FOOTER_FONT_SIZE)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawRightString(PAGE_WIDTH - MARGIN, top - FOOTER_FONT_SIZE, label)
        canvas.restoreState()


def _numbered_canvas(footer: _Footer, page_label: Callable[[int, int], str]) -> type[Canvas]:
    class NumberedCanvas(Canvas):
        """Holds each page until the end so that every footer can say "page X / Y"."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - ReportLab's API
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                footer.draw(self, page_label(self._pageNumber, total))
                super().showPage()
            super().save()

    return NumberedCanvas


def _watermark(text: str, font: str) -> Callable[[Canvas, Any], None]:
    def draw(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 90)
        canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.12))
        canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, -30, text)
        canvas.restoreState()

    return draw


def _nothing(_canvas: Canvas, _doc: Any) -> None:
    return None


# --- the document's end: one flow that breaks only where both pages keep some text ----------------


def _text_lines(part: Flowable) -> int:
    """Lines of text a wrapped part shows: a paragraph's lines, a table's rows, nothing for a spacer."""
    if isinstance(part, Paragraph):
        return len(part.blPara.lines)
    if isinstance(part, Table):
        return len(part._cellvalues)
    return 0


class _Flow(Flowable):
    """Flowables drawn one under the other (the totals, payment, mentions and terms), that split across
    pages only where each side keeps at least `MIN_LINES` lines of text: between two parts or inside a
    paragraph, never after a heading and never inside a table.

    Platypus alone would break after any line of a paragraph or between any two flowables, so that a
    document a line too long ended on a page holding that one line; and a page break forced before the
    terms gave a one-line quote a second page for two lines of terms."""

    def __init__(self, parts: list[Flowable]) -> None:
        super().__init__()
        self.parts = parts
        self._placed: list[tuple[float, float, float]] = []  # per part: space above, its width and height

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803 - ReportLab's API
        self._placed = []
        for index, part in enumerate(self.parts):
            width, height = part.wrap(availWidth, availHeight)
            self._placed.append((part.getSpaceBefore() if index else 0.0, width, height))
        self.width = availWidth
        self.height = sum(above + height for above, _width, height in self._placed)
        return self.width, self.height

    def draw(self) -> None:
        y = self.height
        for part, (above, width, height) in zip(self.parts, self._placed, strict=True):
            y -= above + height
            align = getattr(part, "hAlign", "LEFT")
            x = {"RIGHT": self.width - width, "CENTER": (self.width - width) / 2}.get(align, 0.0)
            part.drawOn(self.canv, x, y)

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803 - ReportLab's API
        self.wrap(availWidth, availHeight)
        frame = getattr(self, "_frame", None)
        at_top = bool(getattr(frame, "_atTop", False))
        total = sum(_text_lines(part) for part in self.parts)
        # Break points, the latest first: (parts kept whole on this page, lines of the next part kept here).
        points: list[tuple[int, int, float, int]] = []  # (index, lines of part index here, height here, lines here)
        top = lines = 0.0
        for index, (part, (above, _width, height)) in enumerate(zip(self.parts, self._placed, strict=True)):
            if index and not self.parts[index - 1].getKeepWithNext():
                points.append((index, 0, top, int(lines)))
            if isinstance(part, Paragraph):
                leading = part.style.leading
                for kept in range(1, _text_lines(part)):
                    points.append((index, kept, top + above + kept * leading, int(lines) + kept))
            top += above + height
            lines += _text_lines(part)
        fitting = [point for point in points if point[2] <= availHeight + 1e-6 and point[3] > 0]
        fitting.sort(key=lambda point: point[2], reverse=True)
        chosen = next(
            (point for point in fitting if point[3] >= MIN_LINES and total - point[3] >= MIN_LINES),
            # on an empty page, a break that keeps fewer lines together rather than none at all
            fitting[0] if at_top and fitting else None,
        )
        if chosen is None:
            return []  # the whole flow goes to the next page
        index, kept, _height, _lines = chosen
        head, tail = self.parts[:index], self.parts[index:]
        if kept:
            paragraph = tail[0]
            paragraph.allowOrphans = paragraph.allowWidows = 1  # the lines are counted here
            first, rest = paragraph.split(availWidth, (kept + 0.5) * paragraph.style.leading)
            head, tail = [*head, first], [rest, *tail[1:]]
        while tail and isinstance(tail[0], Spacer):  # the next page starts with text
            tail = tail[1:]
        return [_Flow(head), _Flow(tail)] if tail else [_Flow(head)]


# --- the document --------------------------------------------------------------------------------


class _Builder:
    def __init__(self, doc: PdfDocument) -> None:
        self.doc = doc
        self.fmt = _Formats(doc.language)
        self.font, self.bold = fonts()
        try:
            self.accent = colors.HexColor(doc.seller.accent_color or DEFAULT_ACCENT)
        except ValueError:
            self.accent = colors.HexColor(DEFAULT_ACCENT)
        # no space shrinkage: a left-aligned line that "fits" by shrinking its spaces is drawn unshrunk,
        # past the margin
        base = ParagraphStyle("base", fontName=self.font, fontSize=9, leading=11.5, spaceShrinkage=0)
        self.styles = {
            "base": base,
            "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
            "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
            "terms": ParagraphStyle("terms", parent=base, fontSize=8, leading=10, spaceBefore=3),
            "seller": ParagraphStyle("seller", parent=base, fontName=self.bold, fontSize=11, leading=14),
            "title": ParagraphStyle(
                "title",
                parent=base,
                fontName=self.bold,
                fontSize=18,
                leading=22,
                textColor=self.accent,
                alignment=TA_RIGHT,
            ),
            "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
            "heading": ParagraphStyle(
                "heading",
                parent=base,
                fontName=self.bold,
                fontSize=10,
                leading=13,
                textColor=self.accent,
                spaceBefore=6,
                spaceAfter=3,
                keepWithNext=1,
            ),
            "buyer_name": ParagraphStyle("buyer_name", parent=base, fontName=self.bold, fontSize=10, leading=13),
            "footer": ParagraphStyle(
                "footer",
                parent=base,
                fontSize=FOOTER_FONT_SIZE,
                leading=FOOTER_LEADING,
                textColor=colors.HexColor("#555555"),
                alignment=TA_LEFT,
            ),
        }

    @property
    def is_invoice(self) -> bool:
        return self.doc.kind in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE)

    def p(self, text: str, style: str = "base") -> Paragraph:
        return Paragraph(text, self.styles[style])

    # header: logo + seller on the left, title, number and dates on the right
    def header(self) -> list[Flowable]:
        seller = self.doc.seller
        left: list[Flowable] = []
        logo = self.logo()
        if logo is not None:
            left += [logo, Spacer(1, 2 * mm)]
        if seller.legal_name:
            left.append(self.p(escape(_printable(seller.legal_name)), "seller"))
        details = [line for line in seller.address.splitlines() if line.strip()]
        details += [value for value in (seller.phone, seller.email, seller.website) if value]
        if details:
            left.append(self.p("<br/>".join(escape(_printable(v)) for v in details), "small"))

        doc, fmt = self.doc, self.fmt
        number = doc.number or _("Draft")  # a draft invoice has no number yet
        facts: list[tuple[str, str]] = [(_("Number"), _printable(number)), (_("Date"), fmt.day(doc.issue_date))]
        if doc.kind is DocumentKind.QUOTE and doc.valid_until:
            facts.append((_("Valid until"), fmt.day(doc.valid_until)))
        if doc.kind is DocumentKind.INVOICE:
            if doc.due_date:
                facts.append((_("Due date"), fmt.day(doc.due_date)))
            if doc.payment_terms_days is not None:
                facts.append((_("Payment terms"), _("{days} days", days=doc.payment_terms_days)))
        for label, value in doc.references:
            facts.append((_(label), _printable(value)))
        if doc.salesperson:
            facts.append((_("Your contact"), _printable(doc.salesperson)))
        right: list[Flowable] = [self.p(escape(_(TITLES[doc.kind])), "title"), Spacer(1, 2 * mm)]
        rows = [[self.p(escape(label), "small"), self.p(f"<b>{escape(value)}</b>", "small")] for label, value in facts]
        facts_table = Table(rows, colWidths=[32 * mm, 50 * mm])
        facts_table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ]
            )
        )
        right.append(facts_table)
        table = Table([[left, right]], colWidths=[CONTENT_WIDTH - 85 * mm, 85 * mm])
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ]
            )
        )
        return [table, Spacer(1, 6 * mm)]

    def logo(self) -> Flowable | None:
        path = self.doc.seller.logo_path
        if not path:
            return None

        try:
            file = path_of(path)
            reader = ImageReader(str(file))
            width, height = reader.getSize()
        except (OSError, ValueError) as exc:
            log.warning("logo not drawn", extra={"logo_path": path, "error": str(exc)})
            return None
        scale = min(LOGO_MAX[0] / width, LOGO_MAX[1] / height)
        image = Image(str(file), width=width * scale, height=height * scale)
        image.hAlign = "LEFT"
        return image

    def parties(self) -> list[Flowable]:
        buyer = self.doc.buyer
        lines = [f"<b>{escape(_printable(buyer.name))}</b>"]
        if buyer.contact_name:
            lines.append(escape(_("Attn: {name}", name=buyer.contact_name)))
        lines += [escape(_printable(line)) for line in buyer.address_lines if line]
        if buyer.siret:
            lines.append(escape(_("SIRET: {siret}", siret=buyer.siret)))
        if buyer.siren:
            lines.append(escape(_("SIREN: {siren}", siren=buyer.siren)))
        if buyer.vat_number:
            lines.append(escape(_("VAT number: {number}", number=buyer.vat_number)))
        if buyer.accounting_number:
            lines.append(escape(_("Client number: {number}", number=buyer.accounting_number)))
        label = _("Bill to") if self.is_invoice else _("Client")
        box = Table([[self.p(escape(label), "heading")], [self.p("<br/>".join(lines))]], colWidths=[85 * mm])
        box.setStyle(
            TableStyle(
                [
                    ("BOX", (0, 0), (-1, -1), 0.6, self.accent),
                    ("LEFTPADDING", (0, 0), (-1, -1), 6),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
                ]
            )
        )
        box.hAlign = "RIGHT"
        flow: list[Flowable] = [box, Spacer(1, 5 * mm)]
        if self.doc.delivery is not None:
            place = self.doc.delivery
            shown = [f"<b>{escape(_printable(place.name))}</b>"] if place.name else []
            shown += [escape(_printable(line)) for line in place.address_lines if line]
            deliver = Table(
                [[self.p(escape(_("Deliver to")), "heading")], [self.p("<br/>".join(shown))]], colWidths=[85 * mm]
            )
            deliver.setStyle(
                TableStyle(
                    [
                        ("BOX", (0, 0), (-1, -1), 0.6, self.accent),
                        ("LEFTPADDING", (0, 0), (-1, -1), 6),
                        ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
                    ]
                )
            )
            deliver.hAlign = "RIGHT"
            flow += [deliver, Spacer(1, 5 * mm)]
        if self.doc.title:
            subject = escape(_("Subject:"))  # not inside the f-string: the message extractor would miss it
            flow += [self.p(f"<b>{subject}</b> {escape(_printable(self.doc.title))}"), Spacer(1, 3 * mm)]
        return flow

    def lines_table(self) -> list[Flowable]:
        fmt = self.fmt
        head = [
            _("Reference"),
            _("Description"),
            _("Qty"),
            _("Unit"),
            _("Unit price"),
            _("Discount"),
            _("VAT"),
            _("Net amount"),
        ]
        rows: list[list[Any]] = [head]
        cell = self.styles["cell"]
        for line in self.doc.lines:
            rows.append(
                [
                    _printable(line.reference or ""),
                    Paragraph(_para(line.description), cell),
                    fmt.quantity(line.quantity),
                    _printable(unit_for(line.unit, line.quantity)),
                    fmt.money(line.unit_price),
                    _printable(line.discount_label or ""),
                    fmt.rate(line.vat_rate),
                    fmt.money(line.net_amount),
                ]
            )
        widths = [22 * mm, 0.0, 13 * mm, 12 * mm, 22 * mm, 17 * mm, 13 * mm, 24 * mm]
        widths[1] = CONTENT_WIDTH - sum(widths)
        table = Table(rows, colWidths=widths, repeatRows=1)
        style: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("FONTNAME", (0, 0), (-1, 0), self.bold),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
            ("BACKGROUND", (0, 0), (-1, 0), self.accent),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#dddddd")),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        table.setStyle(TableStyle(style))
        return [table, Spacer(1, 4 * mm)]

    def totals(self) -> list[Flowable]:
        fmt, totals = self.fmt, self.doc.totals
        rows: list[tuple[str, str, bool]] = [(_("Subtotal"), fmt.money(totals.subtotal), False)]
        if totals.global_discount:
            rows.append((_("Global discount"), fmt.money(-totals.global_discount), False))
        rows.append((_("Total excl. VAT"), fmt.money(totals.total_excl_vat), True))
        for row in totals.vat_rows:
            rows.append(
                (
                    _("VAT {rate} on {base}", rate=fmt.rate(row.rate), base=fmt.money(row.base)),
                    fmt.money(row.vat),
                    False,
                )
            )
        rows.append((_("Total VAT"), fmt.money(totals.total_vat), False))
        rows.append((_("Total incl. VAT"), fmt.money(totals.total_incl_vat), True))
        if self.doc.refunded:
            rows.append((_("Refunded"), fmt.money(self.doc.refunded), False))
        # No "amount paid / amount due": the PDF of an issued invoice is stored at its first download
        # and served unchanged for ever, so it holds nothing a later payment or credit note changes.
        data = [[label, value] for label, value, _strong in rows]
        table = Table(data, colWidths=[62 * mm, 30 * mm])
        style: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
        for index, (_label, _value, strong) in enumerate(rows):
            if strong:
                style += [
                    ("FONTNAME", (0, index), (-1, index), self.bold),
                    ("LINEABOVE", (0, index), (-1, index), 0.6, self.accent),
                ]
        table.setStyle(TableStyle(style))
        table.hAlign = "RIGHT"
        return [table, Spacer(1, 5 * mm)]

    def payment(self) -> list[Flowable]:
        seller = self.doc.seller
        if self.doc.kind is not DocumentKind.INVOICE:
            return []
        lines = []
        if seller.payment_instructions:
            lines.append(_para(seller.payment_instructions))
        if seller.iban:
            lines.append(escape(_("IBAN: {iban}", iban=format_iban(seller.iban))))
        if seller.bic:
            lines.append(escape(_("BIC: {bic}", bic=seller.bic)))
        if not lines:
            return []
        return [self.p(escape(_("Payment")), "heading"), self.p("<br/>".join(lines))]

    def mentions(self) -> list[Flowable]:
        doc, fmt = self.doc, self.fmt
        texts: list[str] = []
        if doc.notes:
            texts.append(_para(doc.notes))
        if doc.kind is DocumentKind.INVOICE:
            if doc.late_penalty_rate is not None:
                texts.append(
                    escape(
                        _(
                            "Late payment penalties: {rate} per year, due from the day after the due date.",
                            rate=fmt.rate(doc.late_penalty_rate),
                        )
                    )
                )
            indemnity = doc.recovery_indemnity if doc.recovery_indemnity is not None else Decimal(40)
            texts.append(
                escape(
                    _(
                        "Fixed indemnity for recovery costs in case of late payment: {amount} "
                        "(French Commercial Code, art. L441-10 and D441-5).",
                        amount=fmt.money(indemnity),
                    )
                )
            )
            texts.append(escape(_("No discount for early payment.")))
        # The seller's legal identity is the footer's first line, on every page: not printed here again.
        texts += [escape(_printable(mention)) for mention in doc.extra_mentions]
        if doc.kind is DocumentKind.QUOTE:
            texts.append(
                escape(
                    _(
                        "Quote valid until {date}. Good for agreement: date, signature and stamp.",
                        date=fmt.day(doc.valid_until),
                    )
                )
            )
        if not texts:
            return []
        return [Spacer(1, 3 * mm), *[self.p(text, "small") for text in texts]]

    def legal_parts(self, *, keep_whole: bool = False) -> list[str]:
        """Legal name, address, share capital, SIRET, RCS and VAT number, printable. With `keep_whole`,
        the identifiers' spaces are no-break so that a wrapped paragraph never splits one of them."""
        seller = self.doc.seller
        address = " ".join(line.strip() for line in seller.address.splitlines() if line.strip())
        identifiers = []
        if seller.share_capital:
            identifiers.append(_("Share capital: {capital}", capital=seller.share_capital))
        if seller.siret:
            identifiers.append(_("SIRET: {siret}", siret=seller.siret))
        if rcs := seller.rcs.strip():
            identifiers.append(_printable(rcs) if RCS_PREFIX.match(rcs) else _("RCS: {rcs}", rcs=rcs))
        if seller.vat_number:
            identifiers.append(_("VAT number: {number}", number=seller.vat_number))
        if keep_whole:
            identifiers = [part.replace(" ", "\u00a0") for part in identifiers]
        return [part for part in (_printable(seller.legal_name), _printable(address), *identifiers) if part]

    def terms(self) -> list[Flowable]:
        if self.doc.kind is not DocumentKind.QUOTE or not self.doc.seller.terms.strip():
            return []
        return [
            Spacer(1, 3 * mm),
            self.p(escape(_("Terms and conditions of sale")), "heading"),
            *[self.p(_para(block), "terms") for block in self.doc.seller.terms.split("\n\n") if block.strip()],
        ]

    def footer(self) -> _Footer:
        """Legal identity then the first lines of the admin's footer text, wrapped within the margins."""
        lines = [" · ".join(escape(part) for part in self.legal_parts(keep_whole=True))]
        extra = [line.strip() for line in self.doc.seller.footer.splitlines() if line.strip()]
        lines += [escape(_printable(line)) for line in extra[:FOOTER_MAX_LINES]]
        return _Footer(self.p("<br/>".join(line for line in lines if line), "footer"), self.font)

    def story(self) -> list[Flowable]:
        return [
            *self.header(),
            *self.parties(),
            *self.lines_table(),
            # the terms follow the totals on the same page when they fit (a one-line quote is one page)
            _Flow([*self.totals(), *self.payment(), *self.mentions(), *self.terms()]),
        ]


def format_iban(iban: str) -> str:
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def render(doc: PdfDocument) -> bytes:
    """The PDF of one document, A4, in `doc.language`; byte-identical for the same input."""
    with use_locale(doc.language):
        builder = _Builder(doc)
        story = builder.story()
        title = f"{_(TITLES[doc.kind])} {doc.number}".strip()
        watermark = _watermark(_("DRAFT"), builder.bold) if doc.draft else _nothing
        footer = builder.footer()

        def page_label(page: int, total: int) -> str:
            return _("Page {page} / {total}", page=page, total=total)

        buffer = BytesIO()
        template = SimpleDocTemplate(
            # the frame's padding inside the margins: its content is exactly CONTENT_WIDTH wide, so that
            # the full-width tables and the paragraphs line up with the footer
            buffer,
            pagesize=A4,
            leftMargin=MARGIN - FRAME_PADDING,
            rightMargin=MARGIN - FRAME_PADDING,
            topMargin=MARGIN,
            bottomMargin=footer.rule + 6 * mm,
            title=title,
            author=doc.seller.legal_name or "",
            subject=title,
            creator="OPEx CRM",
            producer="OPEx CRM",
            invariant=1,
            lang=doc.language,
        )
        template.build(
            story, onFirstPage=watermark, onLaterPages=watermark, canvasmaker=_numbered_canvas(footer, page_label)
        )
        return buffer.getvalue()
