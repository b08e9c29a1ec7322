"""Notes: private (the author and the users it is shared with, for reading or writing) or shared
(everyone who sees the institution), optimistic concurrency, lists "mine" and "shared with me".

Who may do what:
* read: the author, the users it is shared with, and for a shared note everyone who sees institutions;
* edit the text: the author, users shared with for writing, and for a shared note the `record.edit`
  scope (the author's team managers, administrators);
* change visibility and sharing, delete: the author, and for a shared note the `record.edit` scope.
A private note stays private: managers and administrators do not read it unless it is shared
with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.activities.models import Note, NoteShare, NoteVisibility
from crm_app.institutions.links import check_links, check_opportunity
from crm_app.institutions.models import Institution
from crm_app.platform import cleaners as fields
from crm_app.platform import comments, events
from crm_app.platform.cleaners import long_text
from crm_app.platform.days import within_days
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, Forbidden, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, Placement, can
from crm_app.platform.records import active_user, actor_id, changed_by_name, get_record
from crm_app.platform.text import contains_pattern

CLEANERS: dict[str, fields.Cleaner] = {
    "body": long_text(20_000, required=True),
    "visibility": fields.choice(NoteVisibility),
    "institution_id": fields.identifier(),
    "opportunity_id": fields.identifier(),
}
SCOPES = ("all", "mine", "shared_with_me")


@dataclass(frozen=True, slots=True)
class Share:
    user_id: uuid.UUID
    can_write: bool = False


@dataclass(frozen=True, slots=True)
class ShareRow:
    user_id: uuid.UUID
    full_name: str
    can_write: bool


def _clean_shares(session: Session, raw: Any, author_id: uuid.UUID | None) -> list[Share]:
    """`[{"user_id": ..., "can_write": bool}, ...]` (or Share objects) → shares with active users."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise ValidationFailed({"shares": N_("Unknown value.")})
    shares: dict[uuid.UUID, Share] = {}
    for item in raw:
        values = {"user_id": item.user_id, "can_write": item.can_write} if isinstance(item, Share) else item
        if not isinstance(values, Mapping):
            raise ValidationFailed({"shares": N_("Unknown value.")})
        try:
            user_id = fields.identifier()(values.get("user_id"))
            can_write = fields.boolean()(values.get("can_write", False))
        except ValueError as exc:
            raise ValidationFailed({"shares": str(exc)}) from None
        active_user(session, user_id, "shares")
        assert user_id is not None
        if user_id != author_id:
            shares[user_id] = Share(user_id, can_write)
    return list(shares.values())


def clean(raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    return fields.clean_all({k: v for k, v in raw.items() if k != "shares"}, CLEANERS, partial=partial)


def _share_of(session: Session, note: Note, user_id: uuid.UUID) -> NoteShare | None:
    return session.get(NoteShare, (note.id, user_id))


def can_read(session: Session, actor: Actor, note: Note) -> bool:
    if note.created_by == actor.id:
        return True
    if note.visibility == NoteVisibility.SHARED and can(actor, "institution.view"):
        return True
    return _share_of(session, note, actor.id) is not None


def can_write(session: Session, actor: Actor, note: Note) -> bool:
    if can_manage(actor, note):
        return True
    share = _share_of(session, note, actor.id)
    return share is not None and share.can_write


def _may_manage(actor: Actor, *, author_id: uuid.UUID | None, visibility: str, team_id: uuid.UUID | None) -> bool:
    if author_id == actor.id:
        return True
    # The author owns the note: a note without a team is not "nobody's" to every manager.
    owner = Placement(team_id=team_id, assigned_user_id=author_id, created_by=author_id)
    return visibility == NoteVisibility.SHARED and can(actor, "record.edit", owner)


def can_manage(actor: Actor, note: Note) -> bool:
    """Change visibility and sharing, delete."""
    return _may_manage(actor, author_id=note.created_by, visibility=note.visibility, team_id=note.team_id)


def _set_shares(session: Session, note: Note, shares: Iterable[Share]) -> None:
    session.exec(sa.delete(NoteShare).where(col(NoteShare.note_id) == note.id))
    session.add_all(NoteShare(note_id=note.id, user_id=s.user_id, can_write=s.can_write) for s in shares)
    session.flush()


def _publish_changed(session: Session, actor: Actor, note: Note, *, deleted: bool = False) -> None:
    """Tell the open lists, pages and forms (in every process, once committed) that the note changed."""
    readers = session.exec(select(NoteShare.user_id).where(col(NoteShare.note_id) == note.id)).all()
    events.publish(
        session,
        events.NoteChanged(
            note_id=note.id,
            author_id=note.created_by,
            team_id=note.team_id,
            visibility=NoteVisibility(note.visibility).value,
            institution_id=note.institution_id,
            reader_ids=tuple(sorted(readers)),
            deleted=deleted,
            actor_id=actor_id(actor),
        ),
    )


def create_note(session: Session, actor: Actor, raw: Mapping[str, Any]) -> Note:
    """Write a note (private by default); `shares` lists the users it is shared with."""
    values = clean(raw, partial=False)
    check_links(session, values)
    check_opportunity(session, actor, values)
    author = actor_id(actor)
    shares = _clean_shares(session, raw.get("shares"), author)
    note = Note(
        body=values["body"],
        visibility=values.get("visibility") or NoteVisibility.PRIVATE,
        institution_id=values.get("institution_id"),
        opportunity_id=values.get("opportunity_id"),
        team_id=actor.team_id,
        created_by=author,
        updated_by=author,
    )
    session.add(note)
    session.flush()
    if shares:
        _set_shares(session, note, shares)
    _publish_changed(session, actor, note)
    return note


def get_note(session: Session, note_id: uuid.UUID, *, for_update: bool = False) -> Note:
    return get_record(session, Note, note_id, missing=N_("This note does not exist."), for_update=for_update)


def get_readable_note(session: Session, actor: Actor, note_id: uuid.UUID) -> Note:
    note = get_note(session, note_id)
    if not can_read(session, actor, note):
        raise Forbidden("note.view")
    return note


def update_note(
    session: Session, actor: Actor, note_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Note:
    """Edit the text (author or writers); visibility, institution and `shares` need the manage right."""
    note = get_note(session, note_id, for_update=True)
    if not can_read(session, actor, note):
        raise Forbidden("note.view")
    if not can_write(session, actor, note):
        raise Forbidden("note.edit")
    if note.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, note.updated_by))
    values = clean(raw, partial=True)
    if "body" in values and not values["body"]:
        raise ValidationFailed({"body": N_("This field is required.")})
    if values.get("visibility", note.visibility) is None:
        values["visibility"] = NoteVisibility.PRIVATE
    changes = {name: value for name, value in values.items() if getattr(note, name) != value}
    shares = _clean_shares(session, raw["shares"], note.created_by) if "shares" in raw else None
    if (set(changes) - {"body"} or shares is not None) and not can_manage(actor, note):
        raise Forbidden("note.share")
    if "institution_id" in changes:
        check_links(session, changes)
    if "institution_id" in changes or "opportunity_id" in changes:
        check_opportunity(
            session, actor, changes, current_institution=note.institution_id, current_opportunity=note.opportunity_id
        )
    if not changes and shares is None:
        return note
    for name, value in changes.items():
        setattr(note, name, value)
    if shares is not None:
        _set_shares(session, note, shares)
    note.updated_by = actor_id(actor)
    note.touch()
    session.add(note)
    session.flush()
    _publish_changed(session, actor, note)
    return note


def share_note(
    session: Session, actor: Actor, note_id: uuid.UUID, user_id: uuid.UUID, *, can_write: bool = False
) -> None:
    """Share (or change the right of) one user; the author and managers of the note only."""
    note = get_note(session, note_id, for_update=True)
    if not can_manage(actor, note):
        raise Forbidden("note.share")
    for share in _clean_shares(session, [Share(user_id, can_write)], note.created_by):  # none for the author
        existing = _share_of(session, note, share.user_id)
        if existing is None:
            session.add(NoteShare(note_id=note.id, user_id=share.user_id, can_write=share.can_write))
        else:
            existing.can_write = share.can_write
            session.add(existing)
    session.flush()
    _publish_changed(session, actor, note)


def unshare_note(session: Session, actor: Actor, note_id: uuid.UUID, user_id: uuid.UUID) -> None:
    note = get_note(session, note_id, for_update=True)
    if not can_manage(actor, note):
        raise Forbidden("note.share")
    existing = _share_of(session, note, user_id)
    if existing is not None:
        session.delete(existing)
        session.flush()
        _publish_changed(session, actor, note)


def delete_note(session: Session, actor: Actor, note_id: uuid.UUID) -> None:
    """Delete a note with its shares and comments (author, or a shared note's managers)."""
    note = get_note(session, note_id, for_update=True)
    if not can_read(session, actor, note):
        raise Forbidden("note.view")
    if not can_manage(actor, note):
        raise Forbidden("note.delete")
    _publish_changed(session, actor, note, deleted=True)  # with the readers it had
    comments.delete_for_target(session, CommentTarget.NOTE, note.id)
    session.delete(note)
    session.flush()


def _comment_target(session: Session, note_id: uuid.UUID) -> comments.Target:
    note = get_note(session, note_id)
    title = note.body.split("\n", 1)[0][:80]
    return comments.Target(CommentTarget.NOTE, note.id, title, lambda actor: can_read(session, actor, note))


COMMENT_TARGETS: dict[CommentTarget, comments.TargetResolver] = {CommentTarget.NOTE: _comment_target}


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class NoteRow:
    id: uuid.UUID
    body: str
    visibility: NoteVisibility
    institution_id: uuid.UUID | None
    institution_name: str | None
    opportunity_id: uuid.UUID | None
    author_id: uuid.UUID | None
    author_name: str | None
    team_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    shares: list[ShareRow] = field(default_factory=list)
    can_edit: bool = False
    can_manage: bool = False


_N = table_of(Note).c
_S = table_of(NoteShare).c
_I = table_of(Institution).c
_AUTHOR = table_of(User).alias("author")


def readable_condition(actor: Actor) -> Any:
    """SQL: the notes the actor may read (see the module docstring)."""
    shared_with_me = sa.exists().where(_S.note_id == _N.id, _S.user_id == actor.id)
    conditions = [_N.created_by == actor.id, shared_with_me]
    if can(actor, "institution.view"):
        conditions.append(_N.visibility == NoteVisibility.SHARED.value)
    return sa.or_(*conditions)


@dataclass(frozen=True)
class NoteQuery:
    scope: str = "all"  # "all" readable, "mine" (written by me), "shared_with_me" (shared with me by name)
    institution_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    q: str = ""
    author_id: uuid.UUID | None = None
    created_from: date | None = None  # written on these days (the organisation's time zone)
    created_to: date | None = None


def _conditions(actor: Actor, query: NoteQuery) -> list[Any]:
    conditions = [readable_condition(actor)]
    if query.scope == "mine":
        conditions.append(_N.created_by == actor.id)
    elif query.scope == "shared_with_me":
        conditions.append(sa.exists().where(_S.note_id == _N.id, _S.user_id == actor.id))
    if query.institution_id is not None:
        conditions.append(_N.institution_id == query.institution_id)
    if query.opportunity_id is not None:
        conditions.append(_N.opportunity_id == query.opportunity_id)
    if query.author_id is not None:
        conditions.append(_N.created_by == query.author_id)
    conditions += within_days(_N.created_at, query.created_from, query.created_to)
    if query.q.strip():
        conditions.append(sa.func.lower(_N.body).like(contains_pattern(query.q.strip().lower()), escape="\\"))
    return conditions


def _rows(session: Session, actor: Actor, statement: Any) -> list[NoteRow]:
    found = fetch_all(session, statement)
    shares: dict[uuid.UUID, list[ShareRow]] = {}
    if found:
        for note_id, user_id, name, writer in session.exec(
            select(NoteShare.note_id, NoteShare.user_id, User.full_name, NoteShare.can_write)
            .join(User, col(User.id) == NoteShare.user_id)
            .where(col(NoteShare.note_id).in_([r.id for r in found]))
            .order_by(col(User.full_name))
        ).all():
            shares.setdefault(note_id, []).append(ShareRow(user_id, name, writer))
    rows = []
    for row in found:
        note_shares = shares.get(row.id, [])
        managed = _may_manage(actor, author_id=row.author_id, visibility=row.visibility, team_id=row.team_id)
        writer = managed or any(s.user_id == actor.id and s.can_write for s in note_shares)
        rows.append(
            NoteRow(
                **{**row._asdict(), "visibility": NoteVisibility(row.visibility)},
                shares=note_shares,
                can_edit=writer,
                can_manage=managed,
            )
        )
    return rows


def _select() -> Any:
    return (
        sa.select(
            _N.id,
            _N.body,
            _N.visibility,
            _N.institution_id,
            _I.name.label("institution_name"),
            _N.opportunity_id,
            _N.created_by.label("author_id"),
            _AUTHOR.c.full_name.label("author_name"),
            _N.team_id,
            _N.created_at,
            _N.updated_at,
            _N.version,
        )
        .select_from(table_of(Note))
        .outerjoin(_AUTHOR, _AUTHOR.c.id == _N.created_by)
        .outerjoin(table_of(Institution), _I.id == _N.institution_id)
    )


def list_notes(
    session: Session, actor: Actor, query: NoteQuery | None = None, request: PageRequest | None = None
) -> Page[NoteRow]:
    """Notes the actor may read, most recently changed first, paged in SQL."""
    query = query or NoteQuery()
    request = request or PageRequest()
    conditions = _conditions(actor, query)
    statement = (
        _select()
        .where(*conditions)
        .order_by(_N.updated_at.desc(), _N.id.desc())
        .offset(request.offset)
        .limit(request.page_size)
    )
    total = session.exec(select(sa.func.count()).select_from(Note).where(*conditions)).one()
    return Page(_rows(session, actor, statement), int(total), request.page, request.page_size)


def get_note_row(session: Session, actor: Actor, note_id: uuid.UUID) -> NoteRow:
    get_readable_note(session, actor, note_id)
    return _rows(session, actor, _select().where(_N.id == note_id))[0]
