"""Small factories that build test data through the services (never raw SQL)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from crm_app.accounts import teams, users
from crm_app.platform.models.people import Role, Team, User
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor, actor_from

PASSWORD = "correct-horse-battery"


def make_team(session: Session, name: str | None = None) -> Team:
    return teams.create_team(session, SYSTEM_ACTOR, name or f"Team {uuid.uuid4().hex[:6]}")


def make_user(
    session: Session,
    *,
    role: Role = Role.USER,
    team: Team | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    name: str = "Test User",
) -> User:
    return users.create_user(
        session,
        SYSTEM_ACTOR,
        email=email or f"u{uuid.uuid4().hex[:8]}@example.org",
        full_name=name,
        role=role,
        password=password,
        team_id=team.id if team else None,
    )


def actor_of(user: User) -> Actor:
    return actor_from(user)
