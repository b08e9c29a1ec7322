"""The dashboard's activities per salesperson read through covering indexes (index-only scans): tasks
done, meetings not cancelled, calls and notes of a period with their person and team. PostgreSQL keeps
the INCLUDE columns; SQLite gets the same keys and predicates without them.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DONE = sa.text("status = 'done'")
_HELD = sa.text("status <> 'cancelled'")
_AUTHORED = sa.text("created_by IS NOT NULL")

# (name, table, key columns, included columns, predicate)
INDEXES: list[tuple[str, str, list[str], list[str], sa.TextClause | None]] = [
    ("ix_tasks_done_at", "tasks", ["completed_at"], ["assignee_id", "team_id"], _DONE),
    ("ix_notes_written_figures", "notes", ["created_at"], ["created_by", "team_id"], _AUTHORED),
    ("ix_meetings_held_figures", "meetings", ["starts_at"], ["organizer_id", "team_id"], _HELD),
    ("ix_calls_logged_figures", "calls", ["called_at"], ["user_id", "team_id"], None),
]


def upgrade() -> None:
    op.drop_index("ix_tasks_done_at", table_name="tasks", postgresql_where=_DONE, sqlite_where=_DONE)
    for name, table, columns, included, where in INDEXES:
        op.create_index(name, table, columns, unique=False, postgresql_include=included,
                        postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, table, _columns, _included, where in reversed(INDEXES):
        op.drop_index(name, table_name=table, postgresql_where=where, sqlite_where=where)
    op.create_index("ix_tasks_done_at", "tasks", ["completed_at"], unique=False, postgresql_where=_DONE,
                    sqlite_where=_DONE)
