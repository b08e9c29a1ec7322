"""Quotes (and later invoices) for the sales tests, built through the services (never raw SQL).

Other helpers may ADD functions at the end of this file; do not change the existing ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from crm_app.institutions.models import Institution
from crm_app.platform.permissions import Actor
from crm_app.sales import opportunities, quotes
from crm_app.sales.models import opportunities as opportunities_model
from crm_app.sales.models.quotes import Quote


def quote_line(
    description: str = "Formation", quantity: str = "1", unit_price: str = "100.00", vat_rate: str = "20", **values: Any
) -> dict[str, Any]:
    """One raw quote line as the services and the API take it (amounts as text: never a float)."""
    return {"description": description, "quantity": quantity, "unit_price": unit_price, "vat_rate": vat_rate, **values}


def make_quote(
    session: Session,
    actor: Actor,
    institution: Institution,
    lines: Sequence[dict[str, Any]] | None = None,
    **values: Any,
) -> Quote:
    """A draft quote of `actor` (or `owner_id=`) for `institution`; one 100 € line at 20 % by default."""
    raw = {"institution_id": institution.id, "lines": list(lines) if lines is not None else [quote_line()], **values}
    return quotes.create_quote(session, actor, raw)


def make_sent_quote(
    session: Session,
    actor: Actor,
    institution: Institution,
    lines: Sequence[dict[str, Any]] | None = None,
    **values: Any,
) -> Quote:
    quote = make_quote(session, actor, institution, lines, **values)
    return quotes.send_quote(session, actor, quote.id)


def make_accepted_quote(
    session: Session,
    actor: Actor,
    institution: Institution,
    lines: Sequence[dict[str, Any]] | None = None,
    **values: Any,
) -> Quote:
    quote = make_sent_quote(session, actor, institution, lines, **values)
    return quotes.accept_quote(session, actor, quote.id, client_comment="OK")


def make_ordered_quote(
    session: Session,
    actor: Actor,
    institution: Institution,
    lines: Sequence[dict[str, Any]] | None = None,
    **values: Any,
) -> Quote:
    quote = make_accepted_quote(session, actor, institution, lines, **values)
    return quotes.record_order(session, actor, quote.id, purchase_order_ref="PO-1")


def total_of(quote: Quote) -> Decimal:
    """The total incl. VAT as stored."""
    return Decimal(quote.total_incl_vat)


def make_catalog_item(
    session: Session,
    actor: Actor | None = None,
    *,
    reference: str | None = None,
    name: str = "Endoscope flexible",
    unit_price: Decimal | str = "1250.00",
    default_vat_rate: Decimal | str = "20",
    unit: str = "unit",
    **values: Any,
) -> Any:
    """An active catalog item (a CatalogItem), created by the system actor unless told otherwise."""
    import uuid

    from crm_app.platform.permissions import SYSTEM_ACTOR
    from crm_app.sales import catalog

    return catalog.create_item(
        session,
        actor or SYSTEM_ACTOR,
        {
            "reference": reference or f"REF-{uuid.uuid4().hex[:8].upper()}",
            "name": name,
            "unit_price": str(unit_price),
            "default_vat_rate": str(default_vat_rate),
            "unit": unit,
            **values,
        },
    )


def make_opportunity(
    session: Session, actor: Actor, institution: Institution, **values: Any
) -> opportunities_model.Opportunity:
    """An opportunity of `actor` (or `owner_id=`) for `institution`, through the service; 1000 € by default."""
    raw = {"name": values.pop("name", "Équipement bloc"), "institution_id": institution.id, "amount": "1000", **values}
    return opportunities.create_opportunity(session, actor, raw)
