"""The header's global search: institutions and contacts as you type (quotes and invoices later)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm_app.institutions.models import Contact, Institution
from crm_app.platform.db import fetch_all
from crm_app.platform.models.base import table_of
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.text import contains_pattern, fold

MIN_LENGTH = 2
TRIGRAM_LENGTH = 3  # shorter terms cannot use the trigram index
_I = table_of(Institution).c
_C = table_of(Contact).c


class HitKind(StrEnum):
    INSTITUTION = "institution"
    CONTACT = "contact"


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: HitKind
    id: uuid.UUID
    title: str
    subtitle: str


def _rows(session: Session, statement: Any) -> list[Any]:
    return list(fetch_all(session, statement))


def _contacts(session: Session, match: Any, limit: int, *, exclude: list[uuid.UUID]) -> list[Any]:
    """The first contacts by name, then their institutions: the join sees a handful of rows."""
    best = (
        sa.select(_C.id, _C.first_name, _C.last_name, _C.title, _C.institution_id, _C.name_key)
        .where(~_C.is_archived, match, _C.id.not_in(exclude))
        .order_by(_C.name_key)
        .limit(limit * 3)
        .subquery()
    )
    return _rows(
        session,
        sa.select(best.c.id, best.c.first_name, best.c.last_name, best.c.title, _I.name)
        .join(table_of(Institution), _I.id == best.c.institution_id)
        .where(~_I.is_archived)
        .order_by(best.c.name_key)
        .limit(limit),
    )


def search_everything(session: Session, actor: Actor, q: str, *, limit: int = 6) -> list[SearchHit]:
    """Best matches first: names that start with the text, then those that contain it."""
    authorize(actor, "institution.view")
    term = fold(q)
    if len(term) < MIN_LENGTH:
        return []
    # Names that start with the text first, read off the name indexes (fast whatever the text);
    # then, if the list is not full, names and other fields that contain it (trigram index).
    upper = term[:-1] + chr(ord(term[-1]) + 1)
    institutions = _rows(
        session,
        sa.select(_I.id, _I.name, _I.postal_code, _I.city)
        .where(~_I.is_archived, _I.name_key >= term, _I.name_key < upper)
        .order_by(_I.name_key)
        .limit(limit),
    )
    if len(institutions) < limit and len(term) >= TRIGRAM_LENGTH:
        institutions += _rows(
            session,
            sa.select(_I.id, _I.name, _I.postal_code, _I.city)
            .where(
                ~_I.is_archived,
                _I.search_text.like(contains_pattern(term), escape="\\"),
                _I.id.not_in([row[0] for row in institutions]),
            )
            .order_by(_I.name_key)
            .limit(limit - len(institutions)),
        )
    contacts = _contacts(session, sa.and_(_C.name_key >= term, _C.name_key < upper), limit, exclude=[])
    if len(contacts) < limit and len(term) >= TRIGRAM_LENGTH:
        contacts += _contacts(
            session,
            _C.search_text.like(contains_pattern(term), escape="\\"),
            limit - len(contacts),
            exclude=[row[0] for row in contacts],
        )
    hits = [
        SearchHit(HitKind.INSTITUTION, row[0], row[1], " ".join(p for p in (row[2], row[3]) if p))
        for row in institutions
    ]
    hits += [
        SearchHit(
            HitKind.CONTACT, row[0], f"{row[1] or ''} {row[2]}".strip(), " · ".join(p for p in (row[3], row[4]) if p)
        )
        for row in contacts
    ]
    return hits
