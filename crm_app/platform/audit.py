"""The audit trail: every changed field of an audited record (institutions, contacts, quotes, invoices,
credit notes...), who, when, old → new; and how each kind's entries read in words (`Wording`, declared
by its area as `HISTORY_WORDING`)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from crm_app.platform import cache
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Team, User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor


def as_text(value: Any) -> str | None:
    """How a value is kept in the trail (and shown back)."""
    if value is None or value in ([], ""):
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def entry_values(
    actor: Actor, *, entity_type: str, entity_id: uuid.UUID, institution_id: uuid.UUID | None, action: str
) -> dict[str, Any]:
    """The columns every entry of one change shares (bulk writers such as the import use them too)."""
    return {
        "at": utcnow(),
        "actor_id": actor.id if actor.id.int else None,
        "actor_name": actor.full_name,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "institution_id": institution_id,
        "action": action,
    }


def record(
    session: Session,
    actor: Actor,
    *,
    entity_type: str,
    entity_id: uuid.UUID,
    institution_id: uuid.UUID | None,
    action: str,
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> None:
    """One entry per changed field (or one for the action itself when no field changed)."""
    cache.mark_changed(session)  # every change to an institution or a contact is recorded here
    base = entry_values(
        actor, entity_type=entity_type, entity_id=entity_id, institution_id=institution_id, action=action
    )
    rows = [
        AuditEntry(**base, field=name, old_value=as_text(old), new_value=as_text(new))
        for name, (old, new) in (changes or {}).items()
        if as_text(old) != as_text(new)
    ]
    session.add_all(rows or [AuditEntry(**base)])


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: uuid.UUID
    at: datetime
    actor_name: str | None
    entity_type: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    old_name: str | None = None  # the name of the record that `old_value` refers to (REFERENCE_FIELDS)
    new_name: str | None = None
    entity_name: str | None = None  # the name of the record the entry is about (its number, its name)


#: The audited fields whose value is the id of another record: shown by that record's (current) name.
REFERENCE_FIELDS = {
    "assigned_user_id": "user",
    "owner_id": "user",
    "team_id": "team",
    "institution_id": "institution",
    "contact_id": "contact",
    "opportunity_id": "opportunity",
}
#: kind → (id column, name expression); the areas add their kinds with `register_names`.
_NAMES: dict[str, tuple[Any, Any]] = {"user": (User.id, User.full_name), "team": (Team.id, Team.name)}


def register_names(*kinds: tuple[str, Any, Any]) -> None:
    """Let history show the records of a kind by name: (kind, id column, name expression)."""
    for kind, id_column, name in kinds:
        _NAMES[kind] = (id_column, name)


def referenced_names(session: Session, values: Iterable[tuple[str | None, str | None]]) -> dict[str, str]:
    """The names of the records that the `(field, value)` pairs of a page refer to, by value (a query per
    kind of record at most)."""
    return record_names(
        session,
        ((REFERENCE_FIELDS[name], value) for name, value in values if value and name and name in REFERENCE_FIELDS),
    )


def record_names(session: Session, records: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """The names of the `(kind, id)` records (kinds registered with `register_names`), by id as text (a
    query per kind at most). A record without a name, or gone, has none."""
    wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
    for kind, value in records:
        if kind not in _NAMES or not value:
            continue
        try:
            wanted[kind].add(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            continue
    names: dict[str, str] = {}
    for kind, ids in wanted.items():
        id_column, name = _NAMES[kind]
        found = session.exec(select(id_column, name).where(id_column.in_(ids)))
        names.update((str(id_), text) for id_, text in found if text)
    return names


def history_page(session: Session, where: Sequence[Any], request: PageRequest) -> Page[HistoryRow]:
    """The entries matching `where`, newest first, paged, with the names their ids refer to."""
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*where)).one()
    rows = session.exec(
        select(AuditEntry)
        .where(*where)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id))
        .offset(request.offset)
        .limit(request.page_size)
    ).all()
    names = referenced_names(session, ((r.field, v) for r in rows for v in (r.old_value, r.new_value)))
    entity_names = record_names(session, ((r.entity_type, r.entity_id) for r in rows))
    return Page(
        [
            HistoryRow(
                r.id,
                r.at,
                r.actor_name,
                r.entity_type,
                r.action,
                r.field,
                r.old_value,
                r.new_value,
                names.get(r.old_value or ""),
                names.get(r.new_value or ""),
                entity_names.get(str(r.entity_id)),
            )
            for r in rows
        ],
        int(total),
        request.page,
        request.page_size,
    )


# --------------------------------------------------------------------------------------------
# In words


@dataclass(frozen=True)
class Wording:
    """How the entries of one audited kind read: message ids, translated where shown.

    `actions` say what was done, `{name}` standing for the record's name (its number; `unnamed` when it
    has none, a draft); `fields` name the fields; the values of `codes` fields read as their labels,
    those of `dates`, `money`, `numbers` and `yes_no` as dates, amounts, numbers and yes or no, in the
    reader's language (`components.history_values`). An area declares its kinds as `HISTORY_WORDING`
    and `crm_app.bootstrap` registers them."""

    name: str
    actions: Mapping[str, str]
    fields: Mapping[str, str] = field(default_factory=dict)
    codes: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    dates: frozenset[str] = frozenset()
    money: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    yes_no: frozenset[str] = frozenset()
    unnamed: str | None = None


_WORDING: dict[str, Wording] = {}


def register_wording(kinds: Mapping[str, Wording]) -> None:
    """Declare how the entries of audited kinds read (an area's `HISTORY_WORDING`)."""
    _WORDING.update(kinds)


def wording(kind: str) -> Wording | None:
    """How the entries of `kind` read (None for a kind no area declared)."""
    return _WORDING.get(kind)
