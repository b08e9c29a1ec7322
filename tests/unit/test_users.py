"""The directory of users: who may be invited or shared with."""

from __future__ import annotations

from sqlmodel import Session

from crm_app.accounts import users
from crm_app.platform.models.people import Role
from tests.factories import actor_of, make_team, make_user


def test_any_signed_in_user_lists_the_active_users_by_name(db: Session) -> None:
    rep = make_user(db, role=Role.USER, team=make_team(db), name="Zoé Zimmer")
    other_team = make_user(db, role=Role.USER, team=make_team(db), name="Alain Amiel")
    gone = make_user(db, role=Role.MANAGER, name="Bruno Blanc")
    gone.is_active = False
    db.add(gone)
    db.flush()

    listed = users.list_active_users(db, actor_of(rep))

    assert listed == [(other_team.id, "Alain Amiel"), (rep.id, "Zoé Zimmer")]
