"""Tags and specialties with their institution's name key, in name order, kept by triggers (PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Statement-level triggers with transition tables: one statement per INSERT, DELETE or UPDATE on the
# labels (an import's batch, a COPY), not one per row. The institutions are locked FOR SHARE before
# their name key is copied: a rename or archive committing meanwhile is waited for, then read (each
# statement of the function takes a new snapshot). No foreign key and no ON CONFLICT: the rows mirror
# `institution_labels` (same primary key; an institution's deletion cascades there and the delete
# trigger follows), and both would double the cost of an import's labels (measured: 2,000
# labels in 20 ms without the copy, 55 ms with it, 76-144 ms with a foreign key and ON CONFLICT).
FUNCTIONS = {
    "institution_label_order_add": """
        PERFORM 1 FROM institutions WHERE id IN (SELECT institution_id FROM label_rows_added) FOR SHARE;
        INSERT INTO institution_label_order (institution_id, kind, value, is_archived, name_key)
        SELECT a.institution_id, a.kind, a.value, i.is_archived, i.name_key
        FROM label_rows_added a JOIN institutions i ON i.id = a.institution_id;""",
    "institution_label_order_remove": """
        DELETE FROM institution_label_order o USING label_rows_removed r
        WHERE o.institution_id = r.institution_id AND o.kind = r.kind AND o.value = r.value;""",
    "institution_label_order_replace": """
        DELETE FROM institution_label_order o USING label_rows_removed r
        WHERE o.institution_id = r.institution_id AND o.kind = r.kind AND o.value = r.value;
        PERFORM 1 FROM institutions WHERE id IN (SELECT institution_id FROM label_rows_added) FOR SHARE;
        INSERT INTO institution_label_order (institution_id, kind, value, is_archived, name_key)
        SELECT a.institution_id, a.kind, a.value, i.is_archived, i.name_key
        FROM label_rows_added a JOIN institutions i ON i.id = a.institution_id;""",
    "institution_label_order_follow": """
        UPDATE institution_label_order SET is_archived = NEW.is_archived, name_key = NEW.name_key
        WHERE institution_id = NEW.id;""",
}
TRIGGERS = {
    "institution_label_order_add": "AFTER INSERT ON institution_labels REFERENCING NEW TABLE AS label_rows_added "
                                   "FOR EACH STATEMENT",
    "institution_label_order_remove": "AFTER DELETE ON institution_labels REFERENCING OLD TABLE AS "
                                      "label_rows_removed FOR EACH STATEMENT",
    "institution_label_order_replace": "AFTER UPDATE ON institution_labels REFERENCING OLD TABLE AS "
                                       "label_rows_removed NEW TABLE AS label_rows_added FOR EACH STATEMENT",
    "institution_label_order_follow": "AFTER UPDATE OF is_archived, name_key ON institutions FOR EACH ROW WHEN "
                                      "(OLD.is_archived IS DISTINCT FROM NEW.is_archived "
                                      "OR OLD.name_key IS DISTINCT FROM NEW.name_key)",
}
TRIGGER_TABLES = {"institution_label_order_follow": "institutions"}


def upgrade() -> None:
    # The table exists on both databases (the models are one schema); only PostgreSQL fills and reads it.
    op.create_table('institution_label_order',
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=80), nullable=False),
    sa.Column('is_archived', sa.Boolean(), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('institution_id', 'kind', 'value', name=op.f('pk_institution_label_order'))
    )
    with op.batch_alter_table('institution_label_order', schema=None) as batch_op:
        batch_op.create_index('ix_institution_label_order', ['kind', 'value', 'is_archived', 'name_key',
                                                             'institution_id'], unique=False)
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(sa.text("INSERT INTO institution_label_order (institution_id, kind, value, is_archived, name_key) "
                       "SELECT l.institution_id, l.kind, l.value, i.is_archived, i.name_key "
                       "FROM institution_labels l JOIN institutions i ON i.id = l.institution_id"))
    for name, body in FUNCTIONS.items():
        op.execute(sa.text(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                           f"BEGIN{body}\n    RETURN NULL;\nEND\n$$"))
        op.execute(sa.text(f"CREATE TRIGGER {name} {TRIGGERS[name]} EXECUTE FUNCTION {name}()"))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name in FUNCTIONS:
            op.execute(sa.text(f"DROP TRIGGER {name} ON {TRIGGER_TABLES.get(name, 'institution_labels')}"))
            op.execute(sa.text(f"DROP FUNCTION {name}()"))
    with op.batch_alter_table('institution_label_order', schema=None) as batch_op:
        batch_op.drop_index('ix_institution_label_order')
    op.drop_table('institution_label_order')
