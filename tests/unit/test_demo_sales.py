"""The demo data's sales part: a catalog, quotes and invoices in every status with payments and
credit notes, consistent numbers, the demo company's branding; a second run adds nothing."""

from __future__ import annotations

import re
from collections import Counter

from sqlmodel import Session, col, func, select

from crm_app.demo import sales as demo_sales
from crm_app.demo import seed as demo
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import invoices as invoice_service
from crm_app.sales.document_settings import branding
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus, Payment
from crm_app.sales.models.quotes import CatalogItem, Quote, QuoteStatus


def test_the_demo_holds_quotes_and_invoices_in_every_status_with_consistent_numbers(db: Session) -> None:
    assert demo.seed_demo(db).created

    assert db.exec(select(func.count()).select_from(CatalogItem)).one() == len(demo_sales.CATALOG) >= 25
    quote_statuses = Counter(QuoteStatus(q.status) for q in db.exec(select(Quote)).all())
    assert set(quote_statuses) == set(QuoteStatus)
    assert db.exec(select(Quote).where(col(Quote.revision) > 1)).first() is not None  # a revision
    ordered = db.exec(select(Quote).where(Quote.status == QuoteStatus.ORDERED)).all()
    assert all(q.order_number for q in ordered)

    invoices = db.exec(select(Invoice)).all()
    invoice_statuses = {InvoiceStatus(i.status) for i in invoices if i.kind == InvoiceKind.INVOICE}
    assert invoice_statuses == set(InvoiceStatus)
    assert any(i.kind == InvoiceKind.CREDIT_NOTE for i in invoices)
    cancelled = [i for i in invoices if i.status == InvoiceStatus.CANCELLED]
    assert all(i.amount_credited == i.total_incl_vat for i in cancelled)
    assert db.exec(select(func.count()).select_from(Payment)).one() > 0
    assert all(i.amount_paid + i.amount_credited <= i.total_incl_vat for i in invoices)

    # French numbering: per series and year, 1..n without a gap, chronological with the issue dates
    for kind, prefix in ((InvoiceKind.INVOICE, "FAC"), (InvoiceKind.CREDIT_NOTE, "AV")):
        issued = sorted((i for i in invoices if i.kind == kind and i.number), key=lambda i: i.number or "")
        by_year: dict[str, list[Invoice]] = {}
        for invoice in issued:
            match = re.fullmatch(rf"{prefix}-(\d{{4}})-(\d{{5}})", invoice.number or "")
            assert match, invoice.number
            by_year.setdefault(match[1], []).append(invoice)
        for year, series in by_year.items():
            assert [int((i.number or "")[-5:]) for i in series] == list(range(1, len(series) + 1)), year
            dates = [i.issue_date for i in series]
            assert dates == sorted(dates)  # type: ignore[type-var]

    # stored totals are the money arithmetic of the stored lines (what the PDF shows)
    for invoice in invoices:
        detail = invoice_service.get_invoice(db, SYSTEM_ACTOR, invoice.id)
        assert detail.totals.total_incl_vat == invoice.total_incl_vat

    assert branding(db).legal_name == "OPEx Médical SAS" and branding(db).iban.startswith("FR76")

    assert demo_sales.seed_sales(db) is False  # once only
    assert not demo.seed_demo(db).created
    assert db.exec(select(func.count()).select_from(Quote)).one() == sum(quote_statuses.values())
