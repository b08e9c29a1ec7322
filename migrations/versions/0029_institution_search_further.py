"""Index the institutions' search text after its first character (PostgreSQL): a search finds names
that start with the term through the name index, and the rest through this one

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 01:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_institution_search_further_trgm ON institution_search "
        "USING gin (substr(search_text, 2) gin_trgm_ops)"
    )
    op.drop_index("ix_institution_search_trgm", table_name="institution_search")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        "ix_institution_search_trgm",
        "institution_search",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.drop_index("ix_institution_search_further_trgm", table_name="institution_search")
