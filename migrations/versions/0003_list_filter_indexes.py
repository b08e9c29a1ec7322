"""Index each list filter with the default order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 02:25:33.965352
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_institutions_assigned'))
        batch_op.create_index('ix_institutions_assigned', ['assigned_user_id', 'is_archived', 'name_key', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_institutions_region'))
        batch_op.create_index('ix_institutions_region', ['region', 'is_archived', 'name_key', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_institutions_status'))
        batch_op.create_index('ix_institutions_status', ['commercial_status', 'is_archived', 'name_key', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_institutions_team'))
        batch_op.create_index('ix_institutions_team', ['team_id', 'is_archived', 'name_key', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_institutions_type'))
        batch_op.create_index('ix_institutions_type', ['type', 'is_archived', 'name_key', 'id'], unique=False)
        batch_op.create_index('ix_institutions_all_name', ['name_key', 'id'], unique=False)
        batch_op.create_index('ix_institutions_city', ['city_key', 'is_archived', 'name_key', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_index('ix_institutions_city')
        batch_op.drop_index('ix_institutions_all_name')
        batch_op.drop_index('ix_institutions_type')
        batch_op.create_index(batch_op.f('ix_institutions_type'), ['type', 'is_archived'], unique=False)
        batch_op.drop_index('ix_institutions_team')
        batch_op.create_index(batch_op.f('ix_institutions_team'), ['team_id', 'is_archived'], unique=False)
        batch_op.drop_index('ix_institutions_status')
        batch_op.create_index(batch_op.f('ix_institutions_status'), ['commercial_status', 'is_archived'], unique=False)
        batch_op.drop_index('ix_institutions_region')
        batch_op.create_index(batch_op.f('ix_institutions_region'), ['region', 'is_archived'], unique=False)
        batch_op.drop_index('ix_institutions_assigned')
        batch_op.create_index(batch_op.f('ix_institutions_assigned'), ['assigned_user_id', 'is_archived'], unique=False)

