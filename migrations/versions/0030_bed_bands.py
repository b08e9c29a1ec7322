"""Institutions by band of bed count, then name (PostgreSQL): a list filtered on a bed range alone reads
each band in name order

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The bands of institutions.service.BED_BANDS (a test holds the two together): the band of a count is
# how many of these thresholds it reaches.
BED_BAND = """
CREATE FUNCTION institution_bed_band(integer) RETURNS integer LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT width_bucket($1, ARRAY[10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 125, 150, 175, 200, 250, 300, 350,
                                  400, 450, 500, 600, 700, 800, 900, 1000, 1250, 1500, 1750, 2000, 2500, 3000])
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(BED_BAND))
    op.execute(
        sa.text(
            "CREATE INDEX ix_institutions_bed_band_pg ON institutions "
            "(is_archived, institution_bed_band(profile_beds), name_key, id) INCLUDE (profile_beds)"
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text("DROP INDEX ix_institutions_bed_band_pg"))
    op.execute(sa.text("DROP FUNCTION institution_bed_band(integer)"))
