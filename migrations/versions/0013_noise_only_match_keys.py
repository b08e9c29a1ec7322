"""Names made only of noise words ("CHU", "Clinique") get a duplicate key: those words

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_app.institutions.duplicates import match_key

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

institutions = sa.table("institutions", sa.column("id", sa.Uuid()), sa.column("name", sa.String()),
                        sa.column("match_key", sa.String()))


def upgrade() -> None:
    # Before, stripping the noise words left these names an empty key, which no name rule matches:
    # importing such a row twice created it twice. The key is the one the application computes.
    connection = op.get_bind()
    rows = connection.execute(sa.select(institutions.c.id, institutions.c.name)
                              .where(institutions.c.match_key == "")).all()
    changes = [{"row_id": row.id, "key": key[:200]} for row in rows if (key := match_key(row.name))]
    if changes:
        connection.execute(institutions.update().where(institutions.c.id == sa.bindparam("row_id"))
                           .values(match_key=sa.bindparam("key")), changes)


def downgrade() -> None:
    # Nothing to undo: the earlier code reads such a key as any other and computes none for new rows.
    pass
