"""Factur-X: each line and catalog item says why a 0 % rate carries no VAT (`vat_exemption`) and
whether it sells goods or services (`supply_kind`: lines counted in days, hours, months or years are
services); an invoice may name a delivery address that differs from the buyer's.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXEMPTIONS = "'training', 'medical_care', 'franchise', 'reverse_charge', 'outside_scope', 'zero_rated'"
TABLES = (("catalog_items", "default_vat_rate"), ("quote_lines", "vat_rate"), ("invoice_lines", "vat_rate"))


def upgrade() -> None:
    for table, rate in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("vat_exemption", sa.String(length=20), nullable=True))
            batch_op.add_column(sa.Column("supply_kind", sa.String(length=10), nullable=False, server_default="goods"))
        op.execute(sa.text(f"UPDATE {table} SET supply_kind = 'services' WHERE unit IN ('day', 'hour', 'month', 'year')"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("supply_kind", server_default=None)
            batch_op.create_check_constraint(
                op.f(f"ck_{table}_vat_exemption"),
                f"vat_exemption IS NULL OR ({rate} = 0 AND vat_exemption IN ({EXEMPTIONS}))",
            )
            batch_op.create_check_constraint(op.f(f"ck_{table}_supply_kind"), "supply_kind IN ('goods', 'services')")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_address", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("delivery_address")
    for table, _rate in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_supply_kind"), type_="check")
            batch_op.drop_constraint(op.f(f"ck_{table}_vat_exemption"), type_="check")
            batch_op.drop_column("supply_kind")
            batch_op.drop_column("vat_exemption")
