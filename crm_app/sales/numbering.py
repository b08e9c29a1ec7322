"""Per-year document numbers (DEV-2026-00042, BC-…, FAC-…, AV-…), taken inside the caller's
transaction (DOMAIN.md: invoice numbers unique, chronological and without gaps).

The counter row is incremented by one UPDATE: concurrent transactions wait on its row lock until the
first commits (PostgreSQL) or serialise on the database lock (SQLite), and a rollback gives the
number back. The caller must use the number in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from crm_app.platform.models.base import table_of
from crm_app.sales.models.quotes import DocumentSequence, SequenceKind

_SEQUENCES = table_of(DocumentSequence)


def format_number(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:05d}"


def next_number(session: Session, kind: SequenceKind, year: int) -> int:
    """The next number of `kind` in `year` (1, 2, 3, ...), locked until the transaction ends."""
    bump = (
        sa.update(_SEQUENCES)
        .where(_SEQUENCES.c.kind == kind.value, _SEQUENCES.c.year == year)
        .values(last_number=_SEQUENCES.c.last_number + 1)
        .returning(_SEQUENCES.c.last_number)
    )
    number = session.execute(bump).scalar_one_or_none()
    if number is not None:
        return int(number)
    # First number of the year: create the row. Two first issuers race on the primary key; the loser
    # retries the UPDATE inside a savepoint so that its transaction survives.
    try:
        with session.begin_nested():
            session.execute(sa.insert(_SEQUENCES).values(kind=kind.value, year=year, last_number=1))
        return 1
    except sa.exc.IntegrityError:
        return int(session.execute(bump).scalar_one())
