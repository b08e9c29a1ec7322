"""Each user's choice of the columns shown in a list of the screens, kept per list: the same columns
on every browser they sign in from. The screens name their lists and columns; this module only keeps
what was chosen (a column that a list no longer has is ignored by the screen)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from crm_app.accounts.models import ListColumns
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.permissions import Actor

_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,39}")
MAX_COLUMNS = 60
_L = table_of(ListColumns)


def visible_columns(session: Session, actor: Actor, list_key: str) -> tuple[str, ...] | None:
    """The columns the actor chose for `list_key`, in the list's order; None when they never chose."""
    row = session.get(ListColumns, (actor.id, list_key), populate_existing=True)  # saved by a statement
    return tuple(row.visible) if row is not None else None


def save_visible_columns(session: Session, actor: Actor, list_key: str, columns: Sequence[str]) -> tuple[str, ...]:
    """Remember the columns the actor shows in `list_key` (names of the list's columns)."""
    names = list(dict.fromkeys(columns))
    if not _NAME.fullmatch(list_key) or len(names) > MAX_COLUMNS or not all(_NAME.fullmatch(n) for n in names):
        raise ValidationFailed({"columns": N_("These columns are not those of the list.")})
    # One statement, INSERT ... ON CONFLICT DO UPDATE: two saves at once (two quick clicks, two tabs)
    # neither fail on the primary key nor read a row the other is replacing; the last to commit wins.
    table = _L
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = {"user_id": actor.id, "list_key": list_key, "visible": names, "updated_at": utcnow()}
    statement = insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.list_key],
        set_={"visible": statement.excluded.visible, "updated_at": statement.excluded.updated_at},
    )
    session.flush()
    session.connection().execute(statement)
    return tuple(names)
