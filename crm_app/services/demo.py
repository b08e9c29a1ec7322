"""Demo data for a first start and for trying the product (never in production)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from ..models import Role, Team, User
from . import teams as team_service
from . import users
from .permissions import SYSTEM_ACTOR

DEMO_PASSWORD = "opex-demo-2026"  # noqa: S105 - printed on purpose: demo accounts on a development machine
DEMO_ADMIN_EMAIL = "admin@opex-crm.demo"

_TEAMS = ("Île-de-France", "Grand Ouest")
_USERS = (
    (DEMO_ADMIN_EMAIL, "Camille Martin", Role.SUPER_ADMIN, None),
    ("directeur@opex-crm.demo", "Julien Bernard", Role.ADMIN, None),
    ("chef.idf@opex-crm.demo", "Sophie Laurent", Role.TEAM_ADMIN, "Île-de-France"),
    ("manager.ouest@opex-crm.demo", "Nicolas Petit", Role.MANAGER, "Grand Ouest"),
    ("commercial.idf@opex-crm.demo", "Léa Moreau", Role.USER, "Île-de-France"),
    ("commercial.ouest@opex-crm.demo", "Hugo Lefebvre", Role.USER, "Grand Ouest"),
)


@dataclass(frozen=True)
class DemoSeed:
    created: bool
    admin_email: str = DEMO_ADMIN_EMAIL
    password: str = DEMO_PASSWORD


def seed_demo(session: Session) -> DemoSeed:
    """Create the demo teams and accounts once; a second run changes nothing."""
    if session.exec(select(User.id).where(User.email == DEMO_ADMIN_EMAIL)).first() is not None:
        return DemoSeed(created=False)
    teams = {}
    for name in _TEAMS:
        teams[name] = (session.exec(select(Team).where(Team.name == name)).first()
                       or team_service.create_team(session, SYSTEM_ACTOR, name))
    for email, full_name, role, team_name in _USERS:
        team_id = teams[team_name].id if team_name else None
        users.create_user(session, SYSTEM_ACTOR, email=email, full_name=full_name, role=role,
                          password=DEMO_PASSWORD, team_id=team_id)
    return DemoSeed(created=True)
