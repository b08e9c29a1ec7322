"""Chorus Pro for public buyers: an institution may be a public entity with its service codes and
whether it requires an engagement number; an invoice carries the service code (BT-10) and the
engagement number (BT-13).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUBLIC = sa.text("is_public_entity")


def upgrade() -> None:
    with op.batch_alter_table("institutions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_public_entity", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("service_codes", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("requires_engagement_number", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_institutions_public_entity", "institutions", ["id"], unique=False,
        postgresql_where=_PUBLIC, sqlite_where=_PUBLIC,
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buyer_reference", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("buyer_order_reference", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("buyer_order_reference")
        batch_op.drop_column("buyer_reference")
    op.drop_index("ix_institutions_public_entity", table_name="institutions",
                  postgresql_where=_PUBLIC, sqlite_where=_PUBLIC)
    with op.batch_alter_table("institutions", schema=None) as batch_op:
        batch_op.drop_column("requires_engagement_number")
        batch_op.drop_column("service_codes")
        batch_op.drop_column("is_public_entity")
