"""Indexes for the header's search of quotes, invoices and credit notes by number

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 16:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The latest number of a kind first: read backwards off (kind, number), on both databases.
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_kind_number', ['kind', 'number'], unique=False)
    if op.get_bind().dialect.name != 'postgresql':
        return
    # A part of a number ("2026-0004"): trigrams, as the institutions' search text has.
    op.create_index('ix_quotes_number_trgm', 'quotes', ['number'], unique=False,
                    postgresql_using='gin', postgresql_ops={'number': 'gin_trgm_ops'})
    op.create_index('ix_invoices_number_trgm', 'invoices', ['number'], unique=False,
                    postgresql_using='gin', postgresql_ops={'number': 'gin_trgm_ops'})


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_invoices_number_trgm', table_name='invoices', postgresql_using='gin',
                      postgresql_ops={'number': 'gin_trgm_ops'})
        op.drop_index('ix_quotes_number_trgm', table_name='quotes', postgresql_using='gin',
                      postgresql_ops={'number': 'gin_trgm_ops'})
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_kind_number')
