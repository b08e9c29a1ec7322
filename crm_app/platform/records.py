"""What the records of every area share: who sees them (in SQL and for one record), loading one
record, user names.

Every read path that names a record by kind and id (an audit entry, a notification) shows it only to
who may open the record's own page: each area declares, for each kind of record it owns, the SQL
condition of that page's read right (`RECORD_VISIBILITY`), and `crm_app.bootstrap` registers them
with `register_visibility`. `readable(...)` is then the one filter those read paths apply; a kind
no area declared is never shown."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from crm_app.platform.errors import NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.people import User
from crm_app.platform.permissions import Actor, Scope, scope_for

R = TypeVar("R", bound=SQLModel)


def get_record(session: Session, model: type[R], record_id: uuid.UUID, *, missing: str, for_update: bool = False) -> R:
    """The row, or NotFound(`missing`). `for_update` locks it until the end of the unit of work (two saves
    of the same version cannot both pass the version check)."""
    record = session.get(model, record_id, with_for_update=for_update or None, populate_existing=for_update)
    if record is None:
        raise NotFound(missing)
    return record


def actor_id(actor: Actor) -> uuid.UUID | None:
    """The actor's id as stored in `created_by` / `updated_by` (None for the system)."""
    return actor.id if actor.id.int else None


def scope_condition(actor: Actor, action: str, *, team_column: Any, owner_columns: Iterable[Any]) -> Any:
    """The SQL condition equivalent to `can(actor, action, row)` for rows owned through
    `owner_columns` (assignee, organiser, author...) and placed in a team by `team_column`."""
    scope = scope_for(actor, action)
    if scope is Scope.NONE:
        return sa.false()
    if scope is Scope.ALL:
        return sa.true()
    owned = sa.or_(*(column == actor.id for column in owner_columns))
    if scope is Scope.TEAM and actor.team_id is not None:
        return sa.or_(owned, team_column == actor.team_id)
    return owned


#: `condition(actor, record_id)` → SQL true when the actor may read the record that `record_id` (a
#: column or a value) names: the right of the record's own page.
Visibility = Callable[[Actor, Any], Any]
_VISIBILITY: dict[str, Visibility] = {}


def register_visibility(kinds: Mapping[str, Visibility]) -> None:
    """Declare who may read the records of each kind (an area's `RECORD_VISIBILITY`)."""
    _VISIBILITY.update(kinds)


def readable(actor: Actor, kind: Any, record_id: Any) -> Any:
    """SQL: the record named by the `kind` and `record_id` columns is one the actor may read. A kind no
    area declared reads as refused."""
    declared = (sa.and_(kind == name, condition(actor, record_id)) for name, condition in _VISIBILITY.items())
    return sa.or_(sa.false(), *declared)


def exists_visible(id_column: Any, condition: Any, record_id: Any) -> Any:
    """SQL: a row whose `id_column` is `record_id` matches `condition` (a `Visibility` made of a table's
    own read condition)."""
    return sa.exists().where(id_column == record_id, condition)


# --------------------------------------------------------------------------------------------
# Input


def active_user(session: Session, user_id: uuid.UUID | None, field: str) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        raise ValidationFailed({field: N_("This user does not exist or is deactivated.")})
    return user


def user_names(session: Session, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Full names of the given users in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.full_name).where(col(User.id).in_(wanted))).all())


def changed_by_name(session: Session, user_id: uuid.UUID | None) -> str:
    """Who saved a record last, for the stale-version message."""
    name = user_names(session, [user_id]).get(user_id) if user_id is not None else None
    return name or N_("Someone")


# --------------------------------------------------------------------------------------------
# Records an activity may be linked to (an opportunity), whatever area owns them


@dataclass(frozen=True, slots=True)
class LinkedRecord:
    """A record named by an activity's link: its institution, and whether the actor may see it."""

    id: uuid.UUID
    institution_id: uuid.UUID | None
    is_visible: bool


#: `resolve(session, actor, record_id)` → the record, or NotFound.
LinkResolver = Callable[[Session, Actor, uuid.UUID], LinkedRecord]
_LINKABLE: dict[str, LinkResolver] = {}


def register_linkable(kinds: Mapping[str, LinkResolver]) -> None:
    """Declare the kinds of records activities may be linked to (an area's `LINKABLE_RECORDS`)."""
    _LINKABLE.update(kinds)


def linked(session: Session, actor: Actor, kind: str, record_id: uuid.UUID) -> LinkedRecord:
    """The `kind` record named by an activity's link (NotFound when it does not exist)."""
    resolver = _LINKABLE.get(kind)
    if resolver is None:
        raise NotFound()
    return resolver(session, actor, record_id)


def check_link(
    session: Session,
    actor: Actor,
    kind: str,
    record_id: uuid.UUID | None,
    *,
    institution_id: uuid.UUID | None,
    field: str,
    missing: str = N_("This record does not exist."),
    elsewhere: str = N_("This record belongs to another institution."),
) -> uuid.UUID | None:
    """The institution an activity linked to the `kind` record `record_id` belongs to: the record's. It
    must exist, be visible to the actor and, when the activity names an institution too, be of that
    institution (else `ValidationFailed` on `field`). None when no record is named."""
    if record_id is None:
        return institution_id
    try:
        record = linked(session, actor, kind, record_id)
    except NotFound:
        raise ValidationFailed({field: missing}) from None
    if not record.is_visible:
        raise ValidationFailed({field: missing})
    if institution_id is not None and record.institution_id != institution_id:
        raise ValidationFailed({field: elsewhere})
    return record.institution_id
