"""The dashboard's figures read through covering partial indexes (index-only scans, no heap): open
opportunities and open invoices for the states of today, opportunities by closing, quotes by the
moment sent and accepted, issued invoices by issue date, payments by payment date, and each
institution's issued invoices by date for the new clients. PostgreSQL keeps the INCLUDE columns;
SQLite gets the same keys and predicates without them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN_OPPORTUNITY = sa.text("stage IN ('prospecting', 'qualification', 'proposal', 'negotiation')")
_CLOSED = sa.text("closed_at IS NOT NULL")
_CURRENT_QUOTE = sa.text("superseded_by_id IS NULL")
_ACCEPTED_QUOTE = sa.text("superseded_by_id IS NULL AND status IN ('accepted', 'ordered')")
_ISSUED = sa.text("status <> 'draft'")
_ISSUED_INVOICE = sa.text("kind = 'invoice' AND status <> 'draft'")
_RECEIVABLE = sa.text("kind = 'invoice' AND status IN ('issued', 'partially_paid', 'overdue')")

# (name, table, key columns, included columns, predicate)
INDEXES: list[tuple[str, str, list[str], list[str], sa.TextClause | None]] = [
    ('ix_opportunities_open_figures', 'opportunities', ['expected_close_date'],
     ['stage', 'amount', 'probability', 'owner_id', 'team_id'], _OPEN_OPPORTUNITY),
    ('ix_opportunities_closed_figures', 'opportunities', ['closed_at'],
     ['stage', 'amount', 'owner_id', 'team_id'], _CLOSED),
    ('ix_quotes_sent_figures', 'quotes', ['sent_at'], ['status', 'owner_id', 'team_id'], _CURRENT_QUOTE),
    ('ix_quotes_accepted_figures', 'quotes', ['decided_at'], ['owner_id', 'team_id'], _ACCEPTED_QUOTE),
    ('ix_invoices_issued_figures', 'invoices', ['issue_date'],
     ['kind', 'total_excl_vat', 'institution_id', 'owner_id', 'team_id'], _ISSUED),
    ('ix_invoices_first_issued', 'invoices', ['institution_id', 'issue_date'], [], _ISSUED_INVOICE),
    ('ix_invoices_receivable', 'invoices', ['due_date'],
     ['total_incl_vat', 'amount_paid', 'amount_credited', 'owner_id', 'team_id'], _RECEIVABLE),
    ('ix_payments_paid_figures', 'payments', ['paid_on'], ['amount', 'invoice_id'], None),
]


def upgrade() -> None:
    for name, table, columns, included, where in INDEXES:
        op.create_index(name, table, columns, unique=False, postgresql_include=included,
                        postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, table, _columns, _included, where in reversed(INDEXES):
        op.drop_index(name, table_name=table, postgresql_where=where, sqlite_where=where)
