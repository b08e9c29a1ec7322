"""Opportunities: their folded name for the search, the list's sort indexes; comments on opportunities

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 19:00:00.000000
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "target_kind IN ('task', 'meeting', 'note', 'quote')"
NEW_KINDS = "target_kind IN ('task', 'meeting', 'note', 'quote', 'opportunity')"


def _fold(text: str) -> str:
    """crm_app.platform.text.fold as of this revision (a migration does not import the application)."""
    stripped = ''.join(c for c in unicodedata.normalize('NFKD', text) if not unicodedata.combining(c))
    return ' '.join(stripped.lower().replace('œ', 'oe').replace('æ', 'ae').split())


def upgrade() -> None:
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=200), nullable=False, server_default=''))
    opportunities = sa.table('opportunities', sa.column('id', sa.Uuid()), sa.column('name', sa.String()),
                             sa.column('name_key', sa.String()))
    connection = op.get_bind()
    for id_, name in connection.execute(sa.select(opportunities.c.id, opportunities.c.name)).all():
        connection.execute(sa.update(opportunities).where(opportunities.c.id == id_).values(name_key=_fold(name)))
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=200), server_default=None)
    op.create_index('ix_opportunities_close_date', 'opportunities', ['expected_close_date', 'id'], unique=False)
    op.create_index('ix_opportunities_amount', 'opportunities', ['amount', 'id'], unique=False)
    if connection.dialect.name == 'postgresql':
        op.create_index('ix_opportunities_name_key_trgm', 'opportunities', ['name_key'], unique=False,
                        postgresql_using='gin', postgresql_ops={'name_key': 'gin_trgm_ops'})
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_comments_target_kind'), type_='check')
        batch_op.alter_column('target_kind', existing_type=sa.String(length=10), type_=sa.String(length=20),
                              existing_nullable=False)
        batch_op.create_check_constraint(op.f('ck_comments_target_kind'), NEW_KINDS)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM comments WHERE target_kind = 'opportunity'"))
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_comments_target_kind'), type_='check')
        batch_op.alter_column('target_kind', existing_type=sa.String(length=20), type_=sa.String(length=10),
                              existing_nullable=False)
        batch_op.create_check_constraint(op.f('ck_comments_target_kind'), OLD_KINDS)
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_opportunities_name_key_trgm', table_name='opportunities')
    op.drop_index('ix_opportunities_amount', table_name='opportunities')
    op.drop_index('ix_opportunities_close_date', table_name='opportunities')
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_column('name_key')
