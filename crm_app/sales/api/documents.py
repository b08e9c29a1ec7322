"""PDFs and emails of sales documents: GET /api/quotes/{id}/pdf (?kind=order for the order
confirmation), POST /api/quotes/{id}/email, GET /api/invoices/{id}/pdf (invoices and credit notes:
once issued, their Factur-X PDF), GET /api/invoices/{id}/facturx.xml (the e-invoice's XML alone),
POST /api/invoices/{id}/email. Sync routes: FastAPI runs them in its thread pool, off the event loop
(rendering a PDF and reading files block)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm_app.platform.api.deps import ActorDep, SessionDep, query_params
from crm_app.platform.api.routes import area_router
from crm_app.sales import documents, einvoicing
from crm_app.sales.invoices import InvoiceQuery
from crm_app.sales.models.quotes import DocumentKind

router = area_router(tags=["documents"])

_PDF = {200: {"content": {"application/pdf": {}}, "description": "The PDF, as a download"}}
_XML = {200: {"content": {"application/xml": {}}, "description": "The Factur-X XML (CII, EN 16931), as a download"}}


class QuotePdfKind(StrEnum):
    QUOTE = "quote"
    ORDER = "order"


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[uuid.UUID] = Field(default_factory=list, description="Contacts of the document's institution")
    extra_emails: list[str] = Field(default_factory=list, max_length=20)
    subject: str | None = Field(default=None, max_length=250, description="Default: the kind's template")
    body: str | None = Field(default=None, max_length=20000, description="Default: the kind's template")


class EmailOut(BaseModel):
    message_ids: list[uuid.UUID] = Field(description="One outbox message per recipient")


def _pdf_response(content: bytes, filename: str) -> Response:
    return Response(
        content, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/quotes/{quote_id}/pdf", responses=_PDF)  # type: ignore[arg-type]
def quote_pdf(
    quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, kind: QuotePdfKind = QuotePdfKind.QUOTE
) -> Response:
    """The quote's PDF (or its order confirmation with `kind=order`); the stored file once sent."""
    return _pdf_response(*documents.document_pdf(session, actor, DocumentKind(kind.value), quote_id))


@router.post("/quotes/{quote_id}/email", response_model=EmailOut)
def email_quote(
    quote_id: uuid.UUID,
    body: EmailIn,
    session: SessionDep,
    actor: ActorDep,
    *,
    kind: QuotePdfKind = QuotePdfKind.QUOTE,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> EmailOut:
    """Email the quote (or order confirmation) with its PDF; the same Idempotency-Key queues nothing more."""
    ids = documents.email_document(
        session,
        actor,
        DocumentKind(kind.value),
        quote_id,
        contact_ids=body.contact_ids,
        extra_emails=body.extra_emails,
        subject=body.subject,
        body=body.body,
        request_key=idempotency_key,
    )
    return EmailOut(message_ids=ids)


@router.get("/invoices/{invoice_id}/pdf", responses=_PDF)  # type: ignore[arg-type]
def invoice_pdf(invoice_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    """The invoice's or credit note's PDF; once issued, always the same stored file."""
    kind = documents.invoice_document_kind(session, invoice_id)
    return _pdf_response(*documents.document_pdf(session, actor, kind, invoice_id))


@router.get("/invoices/{invoice_id}/facturx.xml", responses=_XML)  # type: ignore[arg-type]
def invoice_facturx_xml(invoice_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    """The XML inside the issued invoice's or credit note's stored Factur-X PDF (same right as the PDF;
    409 for a draft)."""
    kind = documents.invoice_document_kind(session, invoice_id)
    content, filename = documents.document_xml(session, actor, kind, invoice_id)
    return Response(
        content,
        media_type=documents.XML_CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/invoices/{invoice_id}/email", response_model=EmailOut)
def email_invoice(
    invoice_id: uuid.UUID,
    body: EmailIn,
    session: SessionDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> EmailOut:
    """Email the issued invoice or credit note with its PDF."""
    kind = documents.invoice_document_kind(session, invoice_id)
    ids = documents.email_document(
        session,
        actor,
        kind,
        invoice_id,
        contact_ids=body.contact_ids,
        extra_emails=body.extra_emails,
        subject=body.subject,
        body=body.body,
        request_key=idempotency_key,
    )
    return EmailOut(message_ids=ids)


class EInvoicesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=einvoicing.DEPOSIT_LIMIT,
        description="The invoices and credit notes; without ids: every document of the filter in the query "
        "string (the filters of GET /api/invoices)",
    )


_ZIP = {
    200: {
        "content": {"application/zip": {}},
        "description": "A zip of the stored PDFs of the issued documents, each named by its number. "
        "`X-Deposited-Count`: how many; `X-Skipped-Drafts`: drafts of the selection left out.",
    }
}


@router.post("/invoices/export/einvoices.zip", responses=_ZIP)  # type: ignore[arg-type]
def einvoices_zip(request: Request, session: SessionDep, actor: ActorDep, body: EInvoicesIn | None = None) -> Response:
    """The e-invoices of a selection or of a filter, for deposit on Chorus Pro or a certified platform:
    the stored file of each issued invoice and credit note you may see (never rendered again). Drafts are
    left out (counted in `X-Skipped-Drafts`); at most 500 documents; none issued: 422."""
    ids = body.ids if body is not None else None
    query = None if ids is not None else InvoiceQuery.from_params(query_params(request))
    deposit = einvoicing.deposit_einvoices(session, actor, ids=ids, query=query)
    receipt = deposit.receipt
    assert receipt.archive is not None  # the file deposit
    return Response(
        receipt.archive,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{receipt.archive_name}"',
            "X-Deposited-Count": str(len(receipt.deposited)),
            "X-Skipped-Drafts": str(deposit.skipped_drafts),
        },
    )
