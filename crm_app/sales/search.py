"""What the header's search finds of this area (`SEARCH_SOURCES`): opportunities by name, quotes,
invoices and credit notes by number, whole or in part ("DEV-2026-00042", "2026-0004", "fac 2026"),
among those the reader may open.

A number holds digits: a text without any ("clinique") asks nothing of these tables. The latest numbers
come first (a quote's current revision before the revised one): read backwards off the number's index
when the text is common ("2026"), off its trigram index when it is rare ("2026-00042", PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm_app.institutions.models import Institution
from crm_app.platform.db import fetch_all
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of
from crm_app.platform.permissions import Actor
from crm_app.platform.search import Found, SearchSource
from crm_app.platform.text import contains_pattern
from crm_app.sales import invoices, opportunities, quotes
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus
from crm_app.sales.models.opportunities import Opportunity, OpportunityStage
from crm_app.sales.models.quotes import Quote, QuoteStatus

_Q = table_of(Quote).c
_V = table_of(Invoice).c
_INST = table_of(Institution).c
_O = table_of(Opportunity).c


def _number_contains(number: Any, term: str) -> Any:
    """The number contains the term, separators alike. Numbers are upper case (their prefixes are, see
    `document_settings`), so a plain LIKE of the upper-cased term finds them, cheaper than ILIKE."""
    return number.like(contains_pattern(term.upper()), escape="\\")


def _subtitle(*parts: str | None) -> str:
    return " · ".join(part for part in parts if part)


def _find_opportunities(session: Session, actor: Actor, term: str, limit: int) -> list[Found]:
    """Opportunities whose folded name holds the text (accents and case aside; the trigram index of the
    folded name on PostgreSQL), the open ones and the nearest expected close first."""
    rows = fetch_all(
        session,
        sa.select(_O.id, _O.name, _O.stage, _INST.name.label("institution_name"))
        .join(table_of(Institution), _INST.id == _O.institution_id)
        .where(_O.name_key.like(contains_pattern(term), escape="\\"), opportunities.visible_condition(actor))
        .order_by(_O.stage.in_(("won", "lost")), _O.expected_close_date.asc().nulls_last(), _O.id)
        .limit(limit),
    )
    return [
        Found(row.id, row.name, row.institution_name, opportunities.STAGE_LABELS[OpportunityStage(row.stage)])
        for row in rows
    ]


def _find_quotes(session: Session, actor: Actor, term: str, limit: int) -> list[Found]:
    if not any(char.isdigit() for char in term):
        return []
    rows = fetch_all(
        session,
        sa.select(_Q.id, _Q.number, _Q.title, _Q.status, _INST.name)
        .join(table_of(Institution), _INST.id == _Q.institution_id)
        .where(_number_contains(_Q.number, term), quotes.visible_condition(actor))
        .order_by(_Q.number.desc())
        .limit(limit),
    )
    return [
        Found(row.id, row.number, _subtitle(row.name, row.title), quotes.QUOTE_STATUS_LABELS[QuoteStatus(row.status)])
        for row in rows
    ]


def _invoice_finder(kind: InvoiceKind) -> Any:
    def find(session: Session, actor: Actor, term: str, limit: int) -> list[Found]:
        if not any(char.isdigit() for char in term):
            return []
        rows = fetch_all(
            session,
            sa.select(_V.id, _V.number, _V.title, _V.status, _INST.name)
            .join(table_of(Institution), _INST.id == _V.institution_id)
            .where(_number_contains(_V.number, term), _V.kind == kind.value, invoices.visible_condition(actor))
            .order_by(_V.number.desc())
            .limit(limit),
        )
        return [
            Found(
                row.id,
                row.number,
                _subtitle(row.name, row.title),
                invoices.status_label(kind, InvoiceStatus(row.status)),
            )
            for row in rows
        ]

    return find


SEARCH_SOURCES: tuple[SearchSource, ...] = (
    SearchSource(
        "opportunity",
        N_("Opportunities"),
        "trending_up",
        _find_opportunities,
        link=opportunities.RECORD_LINKS[opportunities.ENTITY],
        see_all="/opportunities?view=list&q={q}",
        action="opportunity.view",
    ),
    SearchSource(
        "quote", N_("Quotes"), "request_quote", _find_quotes, link=quotes.RECORD_LINKS["quote"], see_all="/quotes?q={q}"
    ),
    SearchSource(
        "invoice",
        N_("Invoices"),
        "receipt_long",
        _invoice_finder(InvoiceKind.INVOICE),
        link=invoices.RECORD_LINKS["invoice"],
        see_all="/invoices?kind=invoice&q={q}",
    ),
    SearchSource(
        "credit_note",
        N_("Credit notes"),
        "undo",
        _invoice_finder(InvoiceKind.CREDIT_NOTE),
        link=invoices.RECORD_LINKS["invoice"],
        see_all="/invoices?kind=credit_note&q={q}",
    ),
)
