"""People and records for the activities tests, built through the services (never raw SQL)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from crm_app.activities import meetings, notes, tasks
from crm_app.activities.models import Meeting, Note, Task
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.notifications import Notification
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import Actor
from tests.factories import actor_of, make_team, make_user

_serial = itertools.count(1)


@dataclass(frozen=True)
class Person:
    user: User
    actor: Actor

    @property
    def id(self) -> Any:
        return self.user.id


@dataclass(frozen=True)
class Org:
    """Team A: two reps and their manager; team B: one rep; an admin without a team."""

    rep_a: Person
    rep_a2: Person
    manager_a: Person
    rep_b: Person
    admin: Person


def make_person(
    session: Session, *, role: Role = Role.USER, team: Any = None, name: str | None = None, email: str | None = None
) -> Person:
    user = make_user(session, role=role, team=team, name=name or f"Person {next(_serial)}", email=email)
    return Person(user, actor_of(user))


def make_org(session: Session) -> Org:
    team_a, team_b = make_team(session), make_team(session)
    return Org(
        rep_a=make_person(session, team=team_a, name="Anne Aubert", email=f"anne.aubert{next(_serial)}@ex.org"),
        rep_a2=make_person(session, team=team_a, name="Alain Amiel"),
        manager_a=make_person(session, role=Role.MANAGER, team=team_a, name="Marc Manager"),
        rep_b=make_person(session, team=team_b, name="Bruno Blanc"),
        admin=make_person(session, role=Role.ADMIN, name="Ada Admin"),
    )


def make_task(session: Session, actor: Actor, **values: Any) -> Task:
    return tasks.create_task(session, actor, {"title": values.pop("title", f"Task {next(_serial)}"), **values})


def make_note(session: Session, actor: Actor, **values: Any) -> Note:
    return notes.create_note(session, actor, {"body": values.pop("body", f"Note {next(_serial)}"), **values})


def make_meeting(session: Session, actor: Actor, *, starts_at: datetime | None = None, **values: Any) -> Meeting:
    start = starts_at or utcnow().replace(microsecond=0) + timedelta(days=1)
    return meetings.create_meeting(
        session,
        actor,
        {
            "title": values.pop("title", f"Meeting {next(_serial)}"),
            "starts_at": start,
            "ends_at": start + timedelta(hours=1),
            **values,
        },
    )


def notifications_of(session: Session, person: Person | User) -> list[Notification]:
    user_id = person.id
    session.flush()
    return list(
        session.exec(
            select(Notification)
            .where(Notification.recipient_id == user_id)
            .order_by(col(Notification.created_at), col(Notification.kind))
        ).all()
    )
