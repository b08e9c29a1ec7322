"""What the header's search finds of this area (`SEARCH_SOURCES`): institutions and contacts by name.

Names that start with the text come first, read off the name indexes (fast whatever the text); then, if
the list is not full, records whose search text contains it (the trigram indexes, from three letters).
Both are folded: accents, case, hyphens and apostrophes do not count.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm_app.institutions import contacts
from crm_app.institutions.models import Contact, Institution
from crm_app.platform.db import fetch_all
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.search import MIN_LENGTH, Found, SearchSource
from crm_app.platform.text import contains_pattern, fold, prefix_end, words

TRIGRAM_LENGTH = 3  # shorter terms cannot use the trigram index
_I = table_of(Institution).c
_C = table_of(Contact).c


def _prefix(column: Any, term: str) -> Any:
    """`column` starts with `term` (a range, so that a plain index serves it on both databases)."""
    return sa.and_(column >= term, column < prefix_end(term))


def _has_trigram(term: str) -> bool:
    return any(len(word) >= TRIGRAM_LENGTH for word in words(term))


def _institutions(session: Session, term: str, limit: int) -> list[Found]:
    columns = (_I.id, _I.name, _I.postal_code, _I.city)
    rows = list(
        fetch_all(
            session,
            sa.select(*columns).where(~_I.is_archived, _prefix(_I.name_key, term)).order_by(_I.name_key).limit(limit),
        )
    )
    if len(rows) < limit and len(term) >= TRIGRAM_LENGTH:
        rows += fetch_all(
            session,
            sa.select(*columns)
            .where(
                ~_I.is_archived,
                _I.search_text.like(contains_pattern(term), escape="\\"),
                _I.id.not_in([row.id for row in rows]),
            )
            .order_by(_I.name_key)
            .limit(limit - len(rows)),
        )
    return [Found(row.id, row.name, " ".join(p for p in (row.postal_code, row.city) if p)) for row in rows]


def find_institutions(session: Session, actor: Actor, q: str, *, limit: int) -> list[Found]:
    """Active institutions by name, city, postal code or identifier (the pickers ask this too)."""
    authorize(actor, "institution.view")
    term = fold(q)
    return _institutions(session, term, limit) if len(term) >= MIN_LENGTH else []


def _find_institutions(session: Session, actor: Actor, term: str, limit: int) -> list[Found]:
    return _institutions(session, term, limit)


def _contacts(session: Session, match: Any, limit: int, *, exclude: list[uuid.UUID]) -> list[Any]:
    """The first active contacts that match, then their institutions: the join sees a handful of rows."""
    best = (
        sa.select(_C.id, _C.first_name, _C.last_name, _C.title, _C.institution_id, _C.name_key)
        .where(~_C.is_archived, match, _C.id.not_in(exclude))
        .order_by(_C.name_key)
        .limit(limit * 3)
        .subquery()
    )
    return list(
        fetch_all(
            session,
            sa.select(best.c.id, best.c.first_name, best.c.last_name, best.c.title, _I.name)
            .join(table_of(Institution), _I.id == best.c.institution_id)
            .where(~_I.is_archived)
            .order_by(best.c.name_key)
            .limit(limit),
        )
    )


def _find_contacts(session: Session, actor: Actor, term: str, limit: int) -> list[Found]:
    """By name in either order ("dupont jean", "jean dupont", "Jean-Dupont"), email or function: names
    that start with the text (last name first) first, then contacts holding every word of it."""
    rows = _contacts(session, _prefix(_C.name_key, term), limit, exclude=[])
    if len(rows) < limit and _has_trigram(term):
        rows += _contacts(session, contacts.search_condition(term), limit - len(rows), exclude=[r.id for r in rows])
    return [
        Found(
            row.id, f"{row.first_name or ''} {row.last_name}".strip(), " · ".join(p for p in (row.title, row.name) if p)
        )
        for row in rows
    ]


SEARCH_SOURCES: tuple[SearchSource, ...] = (
    SearchSource(
        "institution",
        N_("Institutions"),
        "apartment",
        _find_institutions,
        link="/institutions/{id}",
        see_all="/institutions?q={q}",
        action="institution.view",
    ),
    SearchSource(
        "contact",
        N_("Contacts"),
        "person",
        _find_contacts,
        link="/contacts/{id}",
        see_all="/contacts?q={q}",
        action="contact.view",
    ),
)
