"""Add the user's phone, the new address of email-change tokens and their purpose

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_PURPOSES = "purpose IN ('invitation', 'password_reset')"
NEW_PURPOSES = "purpose IN ('invitation', 'password_reset', 'email_change')"


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('new_email', sa.String(length=254), nullable=True))
        batch_op.drop_constraint(op.f('ck_account_tokens_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_account_tokens_purpose'), NEW_PURPOSES)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM account_tokens WHERE purpose = 'email_change'"))
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_account_tokens_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_account_tokens_purpose'), OLD_PURPOSES)
        batch_op.drop_column('new_email')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone')
