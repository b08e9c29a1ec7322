"""The header's global search: institutions and contacts as you type (quotes and invoices later)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from ..db import fetch_all
from ..models import Contact, Institution
from ..models.base import table_of
from .matching import fold
from .permissions import Actor, authorize

MIN_LENGTH = 2
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


def _pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_everything(session: Session, actor: Actor, q: str, *, limit: int = 6) -> list[SearchHit]:
    """Best matches first: names that start with the text, then those that contain it."""
    authorize(actor, "institution.view")
    term = fold(q)
    if len(term) < MIN_LENGTH:
        return []
    pattern, prefix = _pattern(term), term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    starts = sa.case((_I.name_key.like(prefix, escape="\\"), 0), else_=1)
    institutions = fetch_all(session, sa.select(_I.id, _I.name, _I.postal_code, _I.city)
                             .where(~_I.is_archived, _I.search_text.like(pattern, escape="\\"))
                             .order_by(starts, _I.name_key).limit(limit))
    contact_starts = sa.case((_C.name_key.like(prefix, escape="\\"), 0), else_=1)
    contacts = fetch_all(session, sa.select(_C.id, _C.first_name, _C.last_name, _C.title, _I.name)
                         .join(table_of(Institution), _I.id == _C.institution_id)
                         .where(~_C.is_archived, ~_I.is_archived, _C.search_text.like(pattern, escape="\\"))
                         .order_by(contact_starts, _C.name_key).limit(limit))
    hits = [SearchHit(HitKind.INSTITUTION, row[0], row[1], " ".join(p for p in (row[2], row[3]) if p))
            for row in institutions]
    hits += [SearchHit(HitKind.CONTACT, row[0], f"{row[1] or ''} {row[2]}".strip(),
                       " · ".join(p for p in (row[3], row[4]) if p)) for row in contacts]
    return hits
