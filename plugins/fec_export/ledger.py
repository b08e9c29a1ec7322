"""The accounting entries of a period and the FEC file that holds them.

The FEC ("fichier des écritures comptables", article A47 A-1 of the Livre des procédures fiscales):
one line per entry line, 18 columns in this order, a header line with their names, tab- or
pipe-separated, dates as YYYYMMDD, amounts with a comma as the decimal separator. Each document is
one balanced entry:

- an issued invoice (sales journal): the client account (411, with the institution as auxiliary
  account) debited with the total incl. VAT; per VAT rate, the sales account (706/707) credited with
  the base and the collected VAT account (44571) with the VAT;
- a credit note: the same, reversed;
- a payment (bank journal): the bank account (512) debited, the client account credited.

Reading goes through `read_period` (a read-only query, run by `crm.read`); everything else is plain
functions of the values read, checked line by line in tests/unit/test_fec_export.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from crm_app.institutions.models import Institution
from crm_app.integrations.plugin_settings import Words, words
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.permissions import Actor
from crm_app.sales import document_settings
from crm_app.sales import invoices as invoice_service
from crm_app.sales.lines import stored_totals
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, Payment

COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
SEPARATORS = {"tab": "\t", "pipe": "|"}
ZERO = Decimal("0.00")
#: The rates that have their own accounts in the settings (DOMAIN.md's default list); any other
#: rate an administrator adds uses the "other" accounts.
RATE_KEYS: dict[Decimal, str] = {
    Decimal("20"): "20",
    Decimal("10"): "10",
    Decimal("5.5"): "5_5",
    Decimal("2.1"): "2_1",
    Decimal("0"): "0",
}
METHOD_WORDS = {
    "transfer": "virement",
    "check": "chèque",
    "card": "carte",
    "cash": "espèces",
    "direct_debit": "prélèvement",
    "other": "autre",
}


@dataclass(frozen=True, slots=True)
class Accounts:
    """The plugin's settings, as the entries use them."""

    sales_journal: str = "VE"
    sales_journal_label: str = "Ventes"
    bank_journal: str = "BQ"
    bank_journal_label: str = "Banque"
    client_account: str = "411000"
    auxiliary_prefix: str = "C"
    bank_account: str = "512000"
    sales_accounts: Mapping[str, str] | None = None  # rate key ("20", "5_5", "other") → account
    vat_accounts: Mapping[str, str] | None = None

    def sales_account(self, rate: Decimal) -> str:
        return (self.sales_accounts or {}).get(_rate_key(rate)) or (self.sales_accounts or {}).get("other") or "706000"

    def vat_account(self, rate: Decimal) -> str:
        return (self.vat_accounts or {}).get(_rate_key(rate)) or (self.vat_accounts or {}).get("other") or "445710"

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> Accounts:
        keys = [*RATE_KEYS.values(), "other"]
        return cls(
            sales_journal=str(values["sales_journal"]),
            sales_journal_label=str(values["sales_journal_label"]),
            bank_journal=str(values["bank_journal"]),
            bank_journal_label=str(values["bank_journal_label"]),
            client_account=str(values["client_account"]),
            auxiliary_prefix=str(values["auxiliary_prefix"]),
            bank_account=str(values["bank_account"]),
            sales_accounts={key: str(values[f"sales_account_{key}"]) for key in keys},
            vat_accounts={key: str(values[f"vat_account_{key}"]) for key in keys if key != "0"},
        )


def _rate_key(rate: Decimal) -> str:
    return RATE_KEYS.get(rate.normalize() + 0, "other")


def rate_words(rate: Decimal) -> str:
    """20 → "20 %", 5.5 → "5,5 %" (French, as the whole file)."""
    text = format(rate.normalize() + 0, "f")
    return f"{text.replace('.', ',')} %"


@dataclass(frozen=True, slots=True)
class VatPart:
    rate: Decimal
    base: Decimal
    vat: Decimal


@dataclass(frozen=True, slots=True)
class SalesDocument:
    """An issued invoice or credit note, as the sales journal needs it."""

    kind: InvoiceKind
    number: str
    issue_date: date
    client_code: str  # the institution's accounting number, else a code from its id
    client_name: str
    parts: tuple[VatPart, ...]
    total_incl_vat: Decimal
    recorded_at: datetime  # when it was issued: the order of the entries of one day
    credited_number: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedPayment:
    invoice_number: str
    paid_on: date
    amount: Decimal
    method: str
    reference: str | None
    client_code: str
    client_name: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One line of the file: the 18 columns, as text."""

    journal_code: str
    journal_label: str
    entry_number: str
    entry_date: date
    account: str
    account_label: str
    auxiliary: str
    auxiliary_label: str
    piece_ref: str
    piece_date: date
    label: str
    debit: Decimal
    credit: Decimal

    def columns(self) -> tuple[str, ...]:
        return (
            self.journal_code,
            self.journal_label,
            self.entry_number,
            fec_date(self.entry_date),
            self.account,
            self.account_label,
            self.auxiliary,
            self.auxiliary_label,
            self.piece_ref,
            fec_date(self.piece_date),
            self.label,
            fec_amount(self.debit),
            fec_amount(self.credit),
            "",  # EcritureLet: lettering is left to the accounting software
            "",  # DateLet
            fec_date(self.entry_date),  # ValidDate: an issued document is final when issued
            "",  # Montantdevise: every amount is in euros, the currency of the books
            "",  # Idevise
        )


def fec_date(day: date) -> str:
    return day.strftime("%Y%m%d")


def fec_amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f}".replace(".", ",")


def _client_code(institution_id: uuid.UUID, accounting_number: str | None) -> str:
    return (accounting_number or "").strip() or institution_id.hex[:8].upper()


# --------------------------------------------------------------------------------------------
# Building the entries


def _sales_entry(document: SalesDocument, accounts: Accounts, number: str) -> list[EntryLine]:
    is_credit_note = document.kind == InvoiceKind.CREDIT_NOTE
    if is_credit_note:
        label = f"Avoir {document.number}" + (f" sur {document.credited_number}" if document.credited_number else "")
    else:
        label = f"Facture {document.number}"

    def line(account: str, account_label: str, amount: Decimal, *, client_side: bool, auxiliary: bool) -> EntryLine:
        # An invoice debits the client and credits sales and VAT; a credit note the other way round.
        debit_side = client_side != is_credit_note
        return EntryLine(
            journal_code=accounts.sales_journal,
            journal_label=accounts.sales_journal_label,
            entry_number=number,
            entry_date=document.issue_date,
            account=account,
            account_label=account_label,
            auxiliary=accounts.auxiliary_prefix + document.client_code if auxiliary else "",
            auxiliary_label=document.client_name if auxiliary else "",
            piece_ref=document.number,
            piece_date=document.issue_date,
            label=label,
            debit=amount if debit_side else ZERO,
            credit=ZERO if debit_side else amount,
        )

    lines = [line(accounts.client_account, "Clients", document.total_incl_vat, client_side=True, auxiliary=True)]
    for part in document.parts:
        if part.base:
            words = rate_words(part.rate)
            lines.append(
                line(
                    accounts.sales_account(part.rate),
                    f"Ventes TVA {words}",
                    part.base,
                    client_side=False,
                    auxiliary=False,
                )
            )
        if part.vat:
            lines.append(
                line(
                    accounts.vat_account(part.rate),
                    f"TVA collectée {rate_words(part.rate)}",
                    part.vat,
                    client_side=False,
                    auxiliary=False,
                )
            )
    return lines


def _payment_entry(payment: ReceivedPayment, accounts: Accounts, number: str) -> list[EntryLine]:
    label = f"Règlement {payment.invoice_number} {METHOD_WORDS.get(payment.method, payment.method)}"
    if payment.reference:
        label += f" réf. {payment.reference}"
    common: dict[str, Any] = {
        "journal_code": accounts.bank_journal,
        "journal_label": accounts.bank_journal_label,
        "entry_number": number,
        "entry_date": payment.paid_on,
        "piece_ref": payment.invoice_number,
        "piece_date": payment.paid_on,
        "label": label,
    }
    return [
        EntryLine(
            **common,
            account=accounts.bank_account,
            account_label="Banque",
            auxiliary="",
            auxiliary_label="",
            debit=payment.amount,
            credit=ZERO,
        ),
        EntryLine(
            **common,
            account=accounts.client_account,
            account_label="Clients",
            auxiliary=accounts.auxiliary_prefix + payment.client_code,
            auxiliary_label=payment.client_name,
            debit=ZERO,
            credit=payment.amount,
        ),
    ]


def build_entries(
    documents: Iterable[SalesDocument], payments: Iterable[ReceivedPayment], accounts: Accounts
) -> list[EntryLine]:
    """Every entry of the period, in the order it was recorded, numbered in each journal (VE000001,
    BQ000001...). A document of no amount (fully discounted) has nothing to record."""
    pieces: list[tuple[date, int, datetime, str, Any]] = [
        (d.issue_date, 0, d.recorded_at, d.number, d) for d in documents if d.total_incl_vat
    ] + [(p.paid_on, 1, p.recorded_at, p.invoice_number, p) for p in payments]
    pieces.sort(key=lambda piece: piece[:4])
    counters: dict[str, int] = {}
    lines: list[EntryLine] = []
    for _day, order, _at, _ref, piece in pieces:
        journal = accounts.sales_journal if order == 0 else accounts.bank_journal
        counters[journal] = counters.get(journal, 0) + 1
        number = f"{journal}{counters[journal]:06d}"
        entry = _sales_entry(piece, accounts, number) if order == 0 else _payment_entry(piece, accounts, number)
        if sum(line.debit for line in entry) != sum(line.credit for line in entry):
            raise AssertionError(f"unbalanced entry {number} ({entry[0].piece_ref})")
        lines.extend(entry)
    return lines


def _clean(text: str, separator: str) -> str:
    """No separator, tab or line break inside a field (they would shift the columns)."""
    for character in (separator, "\t", "\r", "\n", "|"):
        text = text.replace(character, " ")
    return " ".join(text.split())


def render(lines: Sequence[EntryLine], *, separator: str = "\t", encoding: str = "iso-8859-15") -> bytes:
    """The FEC file: the header line, then one line per entry line, CRLF-terminated."""
    rows = [separator.join(COLUMNS)]
    rows += [separator.join(_clean(value, separator) for value in line.columns()) for line in lines]
    return ("\r\n".join(rows) + "\r\n").encode(encoding, errors="replace")


def file_name(siren: str, closing: date) -> str:
    """`<SIREN>FEC<YYYYMMDD>.txt`, the date being the end of the period exported."""
    return f"{siren}FEC{fec_date(closing)}.txt"


# --------------------------------------------------------------------------------------------
# Reading (a read-only query, through `crm.read`)


_ISSUED = col(Invoice.status) != InvoiceStatus.DRAFT.value


def _documents(session: Session, actor: Actor, date_from: date, date_to: date) -> list[SalesDocument]:
    credited = aliased(Invoice)
    rows = session.exec(
        select(Invoice, Institution.name, Institution.accounting_number, credited.number)
        .join(Institution, col(Institution.id) == col(Invoice.institution_id))
        .outerjoin(credited, col(credited.id) == col(Invoice.credited_invoice_id))
        .where(
            _ISSUED,
            col(Invoice.issue_date) >= date_from,
            col(Invoice.issue_date) <= date_to,
            invoice_service.visible_condition(actor),
        )
        .order_by(col(Invoice.issue_date), col(Invoice.number))
    ).all()
    ids = [invoice.id for invoice, *_ in rows]
    lines_of: dict[uuid.UUID, list[InvoiceLine]] = {}
    if ids:
        for stored in session.exec(
            select(InvoiceLine).where(col(InvoiceLine.invoice_id).in_(ids)).order_by(col(InvoiceLine.position))
        ).all():
            lines_of.setdefault(stored.invoice_id, []).append(stored)
    documents = []
    for invoice, name, accounting_number, credited_number in rows:
        buyer = invoice.buyer or {}  # frozen at issue: the file says what the document says
        totals = stored_totals(lines_of.get(invoice.id, []), invoice.global_discount_percent)
        assert invoice.number is not None and invoice.issue_date is not None  # issued
        documents.append(
            SalesDocument(
                kind=InvoiceKind(invoice.kind),
                number=invoice.number,
                issue_date=invoice.issue_date,
                client_code=_client_code(invoice.institution_id, buyer.get("accounting_number") or accounting_number),
                client_name=str(buyer.get("name") or name),
                parts=tuple(VatPart(rate=r.rate, base=r.base, vat=r.vat) for r in totals.vat_rows),
                total_incl_vat=totals.total_incl_vat,
                recorded_at=invoice.issued_at or invoice.created_at,
                credited_number=credited_number,
            )
        )
    return documents


def _payments(session: Session, actor: Actor, date_from: date, date_to: date) -> list[ReceivedPayment]:
    rows = session.exec(
        select(
            Payment,
            Invoice.number,
            Invoice.institution_id,
            Invoice.buyer,
            Institution.name,
            Institution.accounting_number,
        )  # type: ignore[call-overload]
        .join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
        .join(Institution, col(Institution.id) == col(Invoice.institution_id))
        .where(
            _ISSUED,
            col(Payment.paid_on) >= date_from,
            col(Payment.paid_on) <= date_to,
            invoice_service.visible_condition(actor),
        )
        .order_by(col(Payment.paid_on), col(Payment.created_at))
    ).all()
    payments = []
    for payment, number, institution_id, frozen, name, accounting_number in rows:
        buyer = frozen or {}  # frozen at issue
        payments.append(
            ReceivedPayment(
                invoice_number=number,
                paid_on=payment.paid_on,
                amount=payment.amount,
                method=str(payment.method),
                reference=payment.reference,
                client_code=_client_code(institution_id, buyer.get("accounting_number") or accounting_number),
                client_name=str(buyer.get("name") or name),
                recorded_at=payment.created_at,
            )
        )
    return payments


@dataclass(frozen=True, slots=True)
class Period:
    documents: list[SalesDocument]
    payments: list[ReceivedPayment]
    siren: str


MAX_DAYS = 3 * 366


#: The plugin's messages, in the CRM's languages (a plugin brings its own words: docs/plugins.md).
MESSAGES: dict[str, Words] = {
    "required": {
        "en": "This field is required.",
        "fr": "Ce champ est obligatoire.",
        "es": "Este campo es obligatorio.",
        "de": "Dieses Feld ist erforderlich.",
    },
    "order": {
        "en": "The end date cannot be before the start date.",
        "fr": "La date de fin ne peut pas précéder la date de début.",
        "es": "La fecha de fin no puede ser anterior a la fecha de inicio.",
        "de": "Das Enddatum darf nicht vor dem Startdatum liegen.",
    },
    "too_long": {
        "en": "A period is at most three years long.",
        "fr": "Une période dure au plus trois ans.",
        "es": "Un período dura como máximo tres años.",
        "de": "Ein Zeitraum ist höchstens drei Jahre lang.",
    },
    "siren": {
        "en": "Set the company's SIRET in the document settings first.",
        "fr": "Renseignez d'abord le SIRET de l'entreprise dans les paramètres des documents.",
        "es": "Indique primero el SIRET de la empresa en los ajustes de documentos.",
        "de": "Tragen Sie zuerst die SIRET des Unternehmens in den Dokumenteinstellungen ein.",
    },
}


def check_period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """Both dates given, in order, at most three years apart; ValidationFailed naming the field."""
    errors = {}
    if date_from is None:
        errors["date_from"] = words(MESSAGES["required"])
    if date_to is None:
        errors["date_to"] = words(MESSAGES["required"])
    if date_from and date_to and date_to < date_from:
        errors["date_to"] = words(MESSAGES["order"])
    elif date_from and date_to and (date_to - date_from).days > MAX_DAYS:
        errors["date_to"] = words(MESSAGES["too_long"])
    if errors:
        raise ValidationFailed(errors)
    assert date_from is not None and date_to is not None
    return date_from, date_to


def read_period(session: Session, actor: Actor, date_from: date, date_to: date) -> Period:
    """The issued documents and payments of [date_from, date_to] the actor may see, and the company's
    SIREN (the first 9 digits of its SIRET in the document settings); ValidationFailed without one."""
    siret = "".join(ch for ch in document_settings.branding(session).siret if ch.isdigit())
    if len(siret) < 9:
        raise ValidationFailed({"siren": words(MESSAGES["siren"])})
    return Period(
        documents=_documents(session, actor, date_from, date_to),
        payments=_payments(session, actor, date_from, date_to),
        siren=siret[:9],
    )
