"""Handing issued invoices and credit notes to an e-invoicing platform (Chorus Pro for public buyers, or
a certified platform), behind one small interface: `EInvoicingPlatform.deposit`.

Its only implementation for now is the file deposit (`ZipFileDeposit`): a zip of the documents' stored
files, named by document number, that the user uploads to the platform. Sending to a platform's API
would be a second implementation of the same interface. What is deposited is always the stored file
of the issued document (`documents.document_pdf`, the very bytes downloaded and emailed), never a new
rendering.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.institutions.models import Institution
from crm_app.platform import security_log
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import SecurityAction, Severity
from crm_app.platform.models.base import table_of
from crm_app.platform.permissions import Actor, authorize
from crm_app.sales import documents, invoices
from crm_app.sales.invoices import InvoiceQuery
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus
from crm_app.sales.models.quotes import DocumentKind

#: How many documents one deposit holds at most (the archive is built in memory).
DEPOSIT_LIMIT = 500

TOO_MANY = N_("At most 500 documents at once: narrow the selection.")
NOTHING_ISSUED = N_("No issued invoice or credit note in the selection: a draft has no e-invoice yet.")


@dataclass(frozen=True, slots=True)
class EInvoice:
    """One issued document as a platform receives it: its number and its stored file."""

    number: str
    kind: DocumentKind
    issue_date: date
    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class DepositReceipt:
    """What a deposit did: the numbers deposited and, for a file deposit, the file to upload."""

    deposited: tuple[str, ...]
    archive: bytes | None = None
    archive_name: str | None = None


class EInvoicingPlatform(Protocol):
    """Where issued documents are deposited."""

    def deposit(self, documents: Sequence[EInvoice]) -> DepositReceipt: ...


class ZipFileDeposit:
    """The file deposit: one zip archive holding each document's stored file under its number."""

    def __init__(self, archive_name: str = "einvoices.zip") -> None:
        self.archive_name = archive_name

    def deposit(self, documents: Sequence[EInvoice]) -> DepositReceipt:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for document in documents:
                day = document.issue_date
                entry = zipfile.ZipInfo(document.filename, date_time=(day.year, day.month, day.day, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, document.content)
        return DepositReceipt(
            deposited=tuple(document.number for document in documents),
            archive=buffer.getvalue(),
            archive_name=self.archive_name,
        )


@dataclass(frozen=True, slots=True)
class Deposit:
    """A deposit's receipt, and the drafts of the selection that were left out (they have no number)."""

    receipt: DepositReceipt
    skipped_drafts: int


_I = table_of(Invoice).c


def _selected(session: Session, actor: Actor, ids: Sequence[uuid.UUID]) -> list[Invoice]:
    """The invoices of `ids`, each one the actor may see (Forbidden otherwise, NotFound for an unknown id)."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > DEPOSIT_LIMIT:
        raise ValidationFailed({"ids": TOO_MANY})
    rows = session.exec(select(Invoice).where(col(Invoice.id).in_(wanted))).all() if wanted else []
    found = {row.id: row for row in rows}
    for invoice_id in wanted:
        invoice = found.get(invoice_id)
        if invoice is None:
            raise NotFound(N_("This invoice does not exist."))
        authorize(actor, "record.view", invoices.placement(invoice))
    return [found[invoice_id] for invoice_id in wanted]


def _filtered(session: Session, actor: Actor, query: InvoiceQuery) -> list[Invoice]:
    """The documents of the list's filter that the actor may see."""
    statement = (
        sa.select(_I.id)
        .select_from(table_of(Invoice))
        .join(table_of(Institution), table_of(Institution).c.id == _I.institution_id)
        .where(*invoices.filter_conditions(session, actor, query))
        .limit(DEPOSIT_LIMIT + 1)
    )
    ids = [row[0] for row in fetch_all(session, statement)]
    if len(ids) > DEPOSIT_LIMIT:
        raise ValidationFailed({"ids": TOO_MANY})
    return _selected(session, actor, ids)


def deposit_einvoices(
    session: Session,
    actor: Actor,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    query: InvoiceQuery | None = None,
    platform: EInvoicingPlatform | None = None,
) -> Deposit:
    """Deposit the issued invoices and credit notes of a selection (`ids`) or of the list's filter
    (`query`) on `platform` (default: a zip file of their stored PDFs, named by number).

    Each document must be one the actor may see; drafts are left out and counted. Nothing issued in
    the selection, or more than DEPOSIT_LIMIT documents, is refused (ValidationFailed on `ids`). The
    export is written to the security log."""
    selected = _selected(session, actor, ids) if ids is not None else _filtered(session, actor, query or InvoiceQuery())
    issued = sorted(
        (invoice for invoice in selected if invoice.status != InvoiceStatus.DRAFT and invoice.number),
        key=lambda invoice: (invoice.kind, invoice.number or ""),
    )
    if not issued:
        raise ValidationFailed({"ids": NOTHING_ISSUED})
    files = []
    for invoice in issued:
        kind = DocumentKind.CREDIT_NOTE if invoice.kind == InvoiceKind.CREDIT_NOTE else DocumentKind.INVOICE
        content, filename = documents.document_pdf(session, actor, kind, invoice.id)
        assert invoice.number is not None and invoice.issue_date is not None  # issued
        files.append(EInvoice(invoice.number, kind, invoice.issue_date, filename, content))
    receipt = (platform or ZipFileDeposit(f"einvoices-{invoices.today(session).isoformat()}.zip")).deposit(files)
    security_log.record(
        session,
        SecurityAction.EXPORT,
        severity=Severity.MEDIUM,
        user_id=actor.id if actor.id.int else None,
        email=actor.email,
        list="einvoices",
        rows=len(files),
        numbers=list(receipt.deposited),
    )
    return Deposit(receipt=receipt, skipped_drafts=len(selected) - len(issued))
