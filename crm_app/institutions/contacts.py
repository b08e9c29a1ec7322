"""Contacts of institutions: one primary at most, archive instead of delete, audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.institutions import service as institution_service
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import audit, identifiers
from crm_app.platform import cleaners as fields
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, authorize, can
from crm_app.platform.text import fold, word_patterns

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "department",
    "email",
    "phone",
    "mobile",
    "is_primary",
    "email_opt_out",
)
CLEANERS: dict[str, fields.Cleaner] = {
    "first_name": fields.text(100),
    "last_name": fields.text(100, required=True),
    "title": fields.text(150),
    "department": fields.text(150),
    "email": fields.wrap(identifiers.clean_email),
    "phone": fields.text(30),
    "mobile": fields.text(30),
    "is_primary": fields.boolean(),
    "email_opt_out": fields.boolean(),
}


def clean(raw: Mapping[str, Any], *, partial: bool, country: str = "FR") -> dict[str, Any]:
    values, errors = fields.clean_fields(raw, CLEANERS, partial=partial)
    for name in ("phone", "mobile"):
        if values.get(name):
            try:
                values[name] = identifiers.clean_phone(values[name], country)
            except ValueError as exc:
                errors[name] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return values


def derived_columns(values: Mapping[str, Any]) -> dict[str, str]:
    """The sort and search columns of a contact."""
    return {
        "name_key": fold(f"{values.get('last_name')} {values.get('first_name') or ''}")[:200],
        "search_text": fold(
            " | ".join(
                p
                for p in (values.get("first_name"), values.get("last_name"), values.get("email"), values.get("title"))
                if p
            )
        ),
    }


def _refresh_keys(contact: Contact) -> None:
    for name, value in derived_columns({name: getattr(contact, name) for name in CONTACT_FIELDS}).items():
        setattr(contact, name, value)


def _clear_other_primary(session: Session, actor: Actor, institution_id: uuid.UUID, keep: uuid.UUID | None) -> None:
    """Before a contact becomes primary: the others stop being so (the unique index allows one)."""
    with session.no_autoflush:
        others = session.exec(
            select(Contact).where(
                Contact.institution_id == institution_id,
                Contact.id != keep,
                col(Contact.is_primary),
                ~col(Contact.is_archived),
            )
        ).all()
    for other in others:
        other.is_primary = False
        other.updated_by = actor.id if actor.id.int else None
        other.touch()
        session.add(other)
    session.flush()


def _edit_right(session: Session, actor: Actor, institution: Institution) -> None:
    authorize(actor, "contact.edit", institution)


def create_contact(session: Session, actor: Actor, institution_id: uuid.UUID, raw: Mapping[str, Any]) -> Contact:
    institution = institution_service.get_institution(session, institution_id)
    _edit_right(session, actor, institution)
    values = clean(raw, partial=False, country=institution.country)
    if values.get("is_primary"):
        _clear_other_primary(session, actor, institution.id, keep=None)
    actor_id = actor.id if actor.id.int else None
    contact = Contact(institution_id=institution.id, **values, created_by=actor_id, updated_by=actor_id)
    _refresh_keys(contact)
    session.add(contact)
    session.flush()
    institution_service.refresh_derived(session, institution)
    audit.record(
        session,
        actor,
        entity_type="contact",
        entity_id=contact.id,
        institution_id=institution.id,
        action="create",
        changes={"contact": (None, f"{contact.first_name or ''} {contact.last_name}")},
    )
    institution_service.announce_change(session, actor, institution.id, contact_id=contact.id, action="created")
    return contact


def get_contact(session: Session, contact_id: uuid.UUID, *, for_update: bool = False) -> Contact:
    """`for_update` locks the row until the end of the unit of work: two saves of the same version
    cannot both pass the version check."""
    contact = session.get(Contact, contact_id, with_for_update=for_update or None, populate_existing=for_update)
    if contact is None:
        raise NotFound(N_("This contact does not exist."))
    return contact


def update_contact(
    session: Session, actor: Actor, contact_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Contact:
    contact = get_contact(session, contact_id, for_update=True)
    institution = institution_service.get_institution(session, contact.institution_id)
    _edit_right(session, actor, institution)
    if contact.version != expected_version:
        name = institution_service.user_name(session, contact.updated_by)
        raise Conflict(changed_by=name or N_("Someone"))
    values = clean(raw, partial=True, country=institution.country)
    changes = {
        name: (getattr(contact, name), value)
        for name, value in values.items()
        if audit.as_text(getattr(contact, name)) != audit.as_text(value)
    }
    if not changes:
        return contact
    if changes.get("is_primary", (None, False))[1] and not contact.is_archived:
        _clear_other_primary(session, actor, institution.id, keep=contact.id)
    for name, (_old, value) in changes.items():
        setattr(contact, name, value)
    contact.updated_by = actor.id if actor.id.int else None
    contact.touch()
    _refresh_keys(contact)
    institution_service.refresh_derived(session, institution)
    audit.record(
        session,
        actor,
        entity_type="contact",
        entity_id=contact.id,
        institution_id=institution.id,
        action="update",
        changes=changes,
    )
    institution_service.announce_change(session, actor, institution.id, contact_id=contact.id, action="updated")
    return contact


def set_archived(session: Session, actor: Actor, contact_id: uuid.UUID, archived: bool) -> Contact:
    contact = get_contact(session, contact_id, for_update=True)
    institution = institution_service.get_institution(session, contact.institution_id)
    _edit_right(session, actor, institution)
    if contact.is_archived == archived:
        return contact
    contact.is_archived = archived
    if archived:
        contact.is_primary = False
    contact.updated_by = actor.id if actor.id.int else None
    contact.touch()
    session.flush()
    institution_service.refresh_derived(session, institution)
    audit.record(
        session,
        actor,
        entity_type="contact",
        entity_id=contact.id,
        institution_id=institution.id,
        action="archive" if archived else "restore",
        changes={"is_archived": (not archived, archived)},
    )
    institution_service.announce_change(
        session, actor, institution.id, contact_id=contact.id, action="archived" if archived else "restored"
    )
    return contact


@dataclass(frozen=True, slots=True)
class ContactRow:
    id: uuid.UUID
    institution_id: uuid.UUID
    institution_name: str
    first_name: str | None
    last_name: str
    title: str | None
    department: str | None
    email: str | None
    phone: str | None
    mobile: str | None
    is_primary: bool
    is_archived: bool
    email_opt_out: bool
    version: int
    # The institution's placement, for the right to edit its contacts.
    assigned_user_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    created_by: uuid.UUID | None = None
    can_edit: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name or ''} {self.last_name}".strip()


_C = table_of(Contact).c
_I = table_of(Institution).c


def _rows(session: Session, actor: Actor, statement: Any) -> list[ContactRow]:
    found = fetch_all(session, statement)
    return [ContactRow(**row._asdict(), can_edit=can(actor, "contact.edit", row)) for row in found]


def _select() -> Any:
    return sa.select(
        _C.id,
        _C.institution_id,
        _I.name.label("institution_name"),
        _C.first_name,
        _C.last_name,
        _C.title,
        _C.department,
        _C.email,
        _C.phone,
        _C.mobile,
        _C.is_primary,
        _C.is_archived,
        _C.email_opt_out,
        _C.version,
        _I.assigned_user_id,
        _I.team_id,
        _I.created_by,
    ).join(table_of(Institution), _I.id == _C.institution_id)


def search_condition(term: str) -> Any:
    """SQL: contacts whose name, email or function holds every word of the folded `term`, in any order
    ("jean dupont", "dupont jean" and "Jean-Dupont" find Jean Dupont; the lists, pickers and the
    header's search agree)."""
    return sa.and_(sa.true(), *(_C.search_text.like(pattern, escape="\\") for pattern in word_patterns(term)))


def list_for_institution(
    session: Session,
    actor: Actor,
    institution_id: uuid.UUID,
    *,
    include_archived: bool = False,
    request: PageRequest | None = None,
    q: str = "",
) -> Page[ContactRow]:
    """The contacts of one institution, primary first, paged; `q` searches name, email... (pickers)."""
    authorize(actor, "contact.view")
    request = request or PageRequest(1, 100)
    conditions = [_C.institution_id == institution_id]
    if not include_archived:
        conditions.append(~_C.is_archived)
    if term := fold(q):
        conditions.append(search_condition(term))
    statement = (
        _select()
        .where(*conditions)
        .order_by(_C.is_primary.desc(), _C.name_key, _C.id)
        .offset(request.offset)
        .limit(request.page_size)
    )
    total = session.exec(select(sa.func.count()).select_from(Contact).where(*conditions)).one()
    return Page(_rows(session, actor, statement), int(total), request.page, request.page_size)


def list_contacts(
    session: Session, actor: Actor, *, q: str = "", archived: str = "active", request: PageRequest | None = None
) -> Page[ContactRow]:
    """All contacts with their institution, searched by name, email or function, paged in SQL (an
    institution's contacts are on its Contacts tab; its name is not searched here, where it would
    bring every contact of "CHU..." before the people whose name matches)."""
    authorize(actor, "contact.view")
    request = request or PageRequest()
    conditions = []
    if archived == "active":
        conditions.append(~_C.is_archived)
    elif archived == "archived":
        conditions.append(_C.is_archived)
    if term := fold(q):
        conditions.append(search_condition(term))
    ids = (
        sa.select(_C.id)
        .where(*conditions)
        .order_by(_C.name_key, _C.id)
        .offset(request.offset)
        .limit(request.page_size)
        .subquery()
    )
    statement = _select().join(ids, ids.c.id == _C.id).order_by(_C.name_key, _C.id)
    total = session.exec(select(sa.func.count()).select_from(Contact).where(*conditions)).one()
    return Page(_rows(session, actor, statement), int(total), request.page, request.page_size)


def get_contact_row(session: Session, actor: Actor, contact_id: uuid.UUID) -> ContactRow:
    authorize(actor, "contact.view")
    rows = _rows(session, actor, _select().where(_C.id == contact_id))
    if not rows:
        raise NotFound(N_("This contact does not exist."))
    return rows[0]
