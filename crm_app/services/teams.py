"""Teams: a user belongs to at most one; managers and team admins act within theirs."""

from __future__ import annotations

from sqlmodel import Session, select

from ..errors import ValidationFailed
from ..i18n import N_
from ..models import Team
from .permissions import Actor, authorize


def create_team(session: Session, actor: Actor, name: str) -> Team:
    authorize(actor, "team.administer")
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": N_("Enter a name.")})
    if session.exec(select(Team.id).where(Team.name == name)).first() is not None:
        raise ValidationFailed({"name": N_("A team with this name already exists.")})
    team = Team(name=name, created_by=actor.id if actor.id.int else None)
    session.add(team)
    session.flush()
    return team
