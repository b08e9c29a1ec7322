"""Add each user's choice of visible columns per list

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('list_columns',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('list_key', sa.String(length=40), nullable=False),
    sa.Column('visible', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_list_columns_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'list_key', name=op.f('pk_list_columns'))
    )


def downgrade() -> None:
    op.drop_table('list_columns')
