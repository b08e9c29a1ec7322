"""The narrow search table keeps its text but the first character, trigram-indexed, and the 5-grams of its
digits (PostgreSQL): a search finds names that start with the term through the name index, the rest
through these

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYNC_FUNCTION = """
CREATE OR REPLACE FUNCTION institution_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO institution_search (id, is_archived, name_key, {column})
    VALUES (NEW.id, NEW.is_archived, NEW.name_key, {value})
    ON CONFLICT (id) DO UPDATE SET is_archived = EXCLUDED.is_archived, name_key = EXCLUDED.name_key,
                                   {column} = EXCLUDED.{column};
    RETURN NULL;
END
$$
"""
FILL = (
    "INSERT INTO institution_search (id, is_archived, name_key, {column}) "
    "SELECT id, is_archived, name_key, {value} FROM institutions ORDER BY name_key, id"
)
FURTHER = {"column": "further_text", "value": "substr({}search_text, 2)", "index": "ix_institution_search_further_trgm"}
WHOLE = {"column": "search_text", "value": "{}search_text", "index": "ix_institution_search_trgm"}


def _rebuild(old: str, new: dict[str, str]) -> None:
    """Swap the table's text column for `new`, on both databases (its index goes with the old column).
    PostgreSQL alone fills the table, a copy of the institutions: emptied, filled again in name order,
    and kept in step by the trigger's function, rewritten."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(sa.text("TRUNCATE institution_search"))
    with op.batch_alter_table("institution_search", schema=None) as batch_op:
        batch_op.add_column(sa.Column(new["column"], sa.Text(), nullable=False))
        batch_op.drop_column(old)
    if postgresql:
        op.execute(sa.text(SYNC_FUNCTION.format(column=new["column"], value=new["value"].format("NEW."))))
        op.execute(sa.text(FILL.format(column=new["column"], value=new["value"].format(""))))
        op.create_index(
            new["index"],
            "institution_search",
            [new["column"]],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={new["column"]: "gin_trgm_ops"},
        )


# The 5-grams of the runs of five digits or more of a text: a search for digits only (a postal code, a
# FINESS, a SIRET) finds the rows holding them all through a GIN index, where digit trigrams, a
# thousand in all, are each held by tens of thousands of rows.
DIGIT_GRAMS = """
CREATE FUNCTION institution_digit_grams(text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(run[1], start, 5)), '{}')
    FROM regexp_matches($1, '[0-9]{5,}', 'g') AS run, generate_series(1, length(run[1]) - 4) AS start
$$
"""


def upgrade() -> None:
    _rebuild("search_text", FURTHER)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(DIGIT_GRAMS))
        op.execute(
            sa.text(
                "CREATE INDEX ix_institution_search_digits_gin ON institution_search "
                "USING gin (institution_digit_grams(further_text))"
            )
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP INDEX ix_institution_search_digits_gin"))
        op.execute(sa.text("DROP FUNCTION institution_digit_grams(text)"))
    _rebuild("further_text", WHOLE)
