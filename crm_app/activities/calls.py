"""Calls: the log of phone calls (in, out, missed) with their date, duration, contact and summary,
filtered and paged in SQL. The user who logs a call owns it; calls are seen and edited within the
`record.*` scopes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from crm_app.activities.models import Call, CallDirection
from crm_app.institutions.links import check_links, check_opportunity
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import cleaners as fields
from crm_app.platform import events
from crm_app.platform.cleaners import long_text, moment, positive_duration
from crm_app.platform.days import within_days
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, Forbidden, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor, Placement, authorize, can
from crm_app.platform.records import actor_id, changed_by_name, get_record, scope_condition
from crm_app.platform.text import contains_pattern

CLEANERS: dict[str, fields.Cleaner] = {
    "direction": fields.choice(CallDirection, required=True),
    "called_at": moment(),
    "duration_seconds": positive_duration(),
    "summary": long_text(10_000),
    "institution_id": fields.identifier(),
    "opportunity_id": fields.identifier(),
    "contact_id": fields.identifier(),
}


def clean(raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    return fields.clean_all(raw, CLEANERS, partial=partial)


def placement(call: Call) -> Placement:
    return Placement(team_id=call.team_id, assigned_user_id=call.user_id, created_by=call.created_by)


def log_call(session: Session, actor: Actor, raw: Mapping[str, Any]) -> Call:
    """Log a call made, taken or missed by the actor (now, unless `called_at` says when)."""
    values = clean(raw, partial=False)
    check_links(session, values)
    check_opportunity(session, actor, values)
    if actor_id(actor) is None:
        raise Forbidden("call.log")  # a call is someone's
    if values.get("called_at") and values["called_at"] > utcnow():
        raise ValidationFailed({"called_at": N_("A call cannot be in the future.")})
    call = Call(
        direction=values["direction"],
        called_at=values.get("called_at") or utcnow(),
        duration_seconds=values.get("duration_seconds"),
        summary=values.get("summary"),
        user_id=actor.id,
        team_id=actor.team_id,
        institution_id=values.get("institution_id"),
        opportunity_id=values.get("opportunity_id"),
        contact_id=values.get("contact_id"),
        created_by=actor.id,
        updated_by=actor.id,
    )
    session.add(call)
    session.flush()
    _publish_changed(session, actor, call)
    return call


def _publish_changed(session: Session, actor: Actor, call: Call, *, deleted: bool = False) -> None:
    events.publish(
        session,
        events.CallChanged(
            call_id=call.id,
            user_id=call.user_id,
            team_id=call.team_id,
            deleted=deleted,
            institution_id=call.institution_id,
            actor_id=actor_id(actor),
        ),
    )


def get_call(session: Session, call_id: uuid.UUID, *, for_update: bool = False) -> Call:
    return get_record(session, Call, call_id, missing=N_("This call does not exist."), for_update=for_update)


def update_call(
    session: Session, actor: Actor, call_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Call:
    call = get_call(session, call_id, for_update=True)
    authorize(actor, "record.edit", placement(call))
    if call.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, call.updated_by))
    values = clean(raw, partial=True)
    for name in ("direction", "called_at"):
        if name in values and values[name] is None:
            raise ValidationFailed({name: N_("This field is required.")})
    if values.get("called_at") and values["called_at"] > utcnow():
        raise ValidationFailed({"called_at": N_("A call cannot be in the future.")})
    changes = {name: value for name, value in values.items() if getattr(call, name) != value}
    if "institution_id" in changes or "contact_id" in changes:
        links = {
            "institution_id": changes.get("institution_id", call.institution_id),
            "contact_id": changes.get("contact_id", call.contact_id),
        }
        if "contact_id" not in changes:
            links["contact_id"] = None  # the contact belonged to the previous institution
        check_links(session, links)
        changes.update(links)
    if "institution_id" in changes or "opportunity_id" in changes:
        check_opportunity(
            session, actor, changes, current_institution=call.institution_id, current_opportunity=call.opportunity_id
        )
    if not changes:
        return call
    for name, value in changes.items():
        setattr(call, name, value)
    call.updated_by = actor_id(actor)
    call.touch()
    session.add(call)
    session.flush()
    _publish_changed(session, actor, call)
    return call


def delete_call(session: Session, actor: Actor, call_id: uuid.UUID) -> None:
    call = get_call(session, call_id, for_update=True)
    authorize(actor, "record.edit", placement(call))
    _publish_changed(session, actor, call, deleted=True)
    session.delete(call)
    session.flush()


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class CallRow:
    id: uuid.UUID
    direction: CallDirection
    called_at: datetime
    duration_seconds: int | None
    summary: str | None
    user_id: uuid.UUID
    user_name: str
    team_id: uuid.UUID | None
    institution_id: uuid.UUID | None
    institution_name: str | None
    contact_id: uuid.UUID | None
    contact_name: str | None
    opportunity_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    can_edit: bool = False


@dataclass(frozen=True)
class CallQuery:
    mine: bool = False
    user_id: uuid.UUID | None = None
    directions: tuple[CallDirection, ...] = ()
    institution_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    called_from: datetime | None = None
    called_to: datetime | None = None  # excluded
    q: str = ""
    days_from: date | None = None  # called on these days (the organisation's time zone)
    days_to: date | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> CallQuery:
        """Parse URL or API parameters; unknown values are ignored."""
        read = Params(params)

        def when(name: str) -> datetime | None:
            try:
                return moment()(read.one(name))
            except ValueError:
                return None

        return cls(
            mine=read.flag("mine"),
            user_id=read.ident("user_id"),
            directions=read.choices("direction", CallDirection),
            institution_id=read.ident("institution_id"),
            contact_id=read.ident("contact_id"),
            opportunity_id=read.ident("opportunity_id"),
            called_from=when("from"),
            called_to=when("to"),
            q=read.one("q") or "",
        )


_K = table_of(Call).c
_I = table_of(Institution).c
_C = table_of(Contact).c
_U = table_of(User).alias("caller")


def _conditions(actor: Actor, query: CallQuery) -> list[Any]:
    conditions = [
        scope_condition(actor, "record.view", team_column=_K.team_id, owner_columns=(_K.user_id, _K.created_by)),
        *within_days(_K.called_at, query.days_from, query.days_to),
    ]
    if query.mine:
        conditions.append(_K.user_id == actor.id)
    if query.user_id is not None:
        conditions.append(_K.user_id == query.user_id)
    if query.directions:
        conditions.append(_K.direction.in_([d.value for d in query.directions]))
    if query.institution_id is not None:
        conditions.append(_K.institution_id == query.institution_id)
    if query.contact_id is not None:
        conditions.append(_K.contact_id == query.contact_id)
    if query.opportunity_id is not None:
        conditions.append(_K.opportunity_id == query.opportunity_id)
    if query.called_from is not None:
        conditions.append(_K.called_at >= query.called_from)
    if query.called_to is not None:
        conditions.append(_K.called_at < query.called_to)
    if query.q.strip():
        conditions.append(sa.func.lower(_K.summary).like(contains_pattern(query.q.strip().lower()), escape="\\"))
    return conditions


def _select() -> Any:
    contact_name = sa.func.trim(sa.func.coalesce(_C.first_name, "") + " " + _C.last_name)
    return (
        sa.select(
            _K.id,
            _K.direction,
            _K.called_at,
            _K.duration_seconds,
            _K.summary,
            _K.user_id,
            _U.c.full_name.label("user_name"),
            _K.team_id,
            _K.institution_id,
            _I.name.label("institution_name"),
            _K.contact_id,
            contact_name.label("contact_name"),
            _K.opportunity_id,
            _K.created_by,
            _K.created_at,
            _K.updated_at,
            _K.version,
        )
        .select_from(table_of(Call))
        .join(_U, _U.c.id == _K.user_id)
        .outerjoin(table_of(Institution), _I.id == _K.institution_id)
        .outerjoin(table_of(Contact), _C.id == _K.contact_id)
    )


def _rows(session: Session, actor: Actor, statement: Any) -> list[CallRow]:
    return [
        CallRow(
            **{**row._asdict(), "direction": CallDirection(row.direction)},
            can_edit=can(
                actor,
                "record.edit",
                Placement(team_id=row.team_id, assigned_user_id=row.user_id, created_by=row.created_by),
            ),
        )
        for row in fetch_all(session, statement)
    ]


def list_calls(
    session: Session, actor: Actor, query: CallQuery | None = None, request: PageRequest | None = None
) -> Page[CallRow]:
    """The calls the actor may see, newest first, filtered and paged in SQL."""
    query = query or CallQuery()
    request = request or PageRequest()
    conditions = _conditions(actor, query)
    statement = (
        _select()
        .where(*conditions)
        .order_by(_K.called_at.desc(), _K.id.desc())
        .offset(request.offset)
        .limit(request.page_size)
    )
    total = session.exec(select(sa.func.count()).select_from(Call).where(*conditions)).one()
    return Page(_rows(session, actor, statement), int(total), request.page, request.page_size)


def get_call_row(session: Session, actor: Actor, call_id: uuid.UUID) -> CallRow:
    call = get_call(session, call_id)
    authorize(actor, "record.view", placement(call))
    return _rows(session, actor, _select().where(_K.id == call_id))[0]
