"""A narrow, name-ordered copy of the institutions' search text, kept by a trigger (PostgreSQL)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYNC_FUNCTION = """
CREATE FUNCTION institution_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO institution_search (id, is_archived, name_key, search_text)
    VALUES (NEW.id, NEW.is_archived, NEW.name_key, NEW.search_text)
    ON CONFLICT (id) DO UPDATE SET is_archived = EXCLUDED.is_archived, name_key = EXCLUDED.name_key,
                                   search_text = EXCLUDED.search_text;
    RETURN NULL;
END
$$
"""
SYNC_TRIGGER = """
CREATE TRIGGER institution_search_sync AFTER INSERT OR UPDATE OF is_archived, name_key, search_text
ON institutions FOR EACH ROW EXECUTE FUNCTION institution_search_sync()
"""


def upgrade() -> None:
    # The table exists on both databases (the models are one schema); only PostgreSQL fills and reads it.
    op.create_table('institution_search',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('is_archived', sa.Boolean(), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['institutions.id'], name=op.f('fk_institution_search_id_institutions'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institution_search'))
    )
    with op.batch_alter_table('institution_search', schema=None) as batch_op:
        batch_op.create_index('ix_institution_search_order', ['name_key', 'id'], unique=False)
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.create_index('ix_institution_search_trgm', 'institution_search', ['search_text'], unique=False,
                    postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.execute(sa.text("INSERT INTO institution_search (id, is_archived, name_key, search_text) "
                       "SELECT id, is_archived, name_key, search_text FROM institutions ORDER BY name_key, id"))
    op.execute(sa.text(SYNC_FUNCTION))
    op.execute(sa.text(SYNC_TRIGGER))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(sa.text("DROP TRIGGER institution_search_sync ON institutions"))
        op.execute(sa.text("DROP FUNCTION institution_search_sync()"))
        op.drop_index('ix_institution_search_trgm', table_name='institution_search', postgresql_using='gin',
                      postgresql_ops={'search_text': 'gin_trgm_ops'})
    with op.batch_alter_table('institution_search', schema=None) as batch_op:
        batch_op.drop_index('ix_institution_search_order')
    op.drop_table('institution_search')
