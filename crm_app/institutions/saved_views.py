"""Saved list views: a named filter, private or shared with the owner's team. The institutions' views
are also the segments: the dashboard shows their live counts (`segments`), and a bulk action can work
on every institution of one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.institutions.models import SavedView
from crm_app.institutions.service import InstitutionQuery, count_institutions
from crm_app.platform.errors import Forbidden, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.permissions import Actor, Scope, scope_for


@dataclass(frozen=True, slots=True)
class ViewRow:
    id: uuid.UUID
    name: str
    query: dict[str, Any]
    is_shared: bool
    is_mine: bool


def save_view(
    session: Session, actor: Actor, *, page: str, name: str, query: dict[str, Any], shared: bool = False
) -> SavedView:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed({"name": N_("This field is required.")})
    if shared and actor.team_id is None:
        raise ValidationFailed({"shared": N_("You are not in a team to share with.")})
    existing = session.exec(
        select(SavedView).where(SavedView.created_by == actor.id, SavedView.page == page, SavedView.name == name)
    ).first()
    view = existing or SavedView(page=page, name=name, created_by=actor.id)
    view.query, view.is_shared = query, shared
    view.team_id = actor.team_id if shared else None
    if existing:
        view.touch()
    session.add(view)
    session.flush()
    return view


def list_views(session: Session, actor: Actor, page: str) -> list[ViewRow]:
    """The actor's own views, then those shared with their team."""
    visible = col(SavedView.created_by) == actor.id
    if actor.team_id is not None:
        visible = sa.or_(visible, sa.and_(col(SavedView.is_shared), col(SavedView.team_id) == actor.team_id))
    rows = session.exec(select(SavedView).where(SavedView.page == page, visible).order_by(col(SavedView.name))).all()
    return [ViewRow(v.id, v.name, dict(v.query), v.is_shared, v.created_by == actor.id) for v in rows]


def delete_view(session: Session, actor: Actor, view_id: uuid.UUID) -> bool:
    view = session.get(SavedView, view_id)
    if view is None:
        raise NotFound()
    if view.created_by != actor.id and scope_for(actor, "team.administer") is not Scope.ALL:
        raise Forbidden("saved_view.delete")
    session.delete(view)
    return True


#: The list page whose views are the institutions' segments.
INSTITUTIONS_PAGE = "institutions"


@dataclass(frozen=True, slots=True)
class SegmentRow:
    id: uuid.UUID
    name: str
    query: dict[str, Any]  # the list's URL parameters
    is_shared: bool
    count: int  # institutions matching the view's filter now


def segments(session: Session, actor: Actor, *, limit: int = 12) -> list[SegmentRow]:
    """The actor's institution views (their own, then their team's shared ones) with how many
    institutions each one's filter matches, counted in SQL as the list counts them."""
    rows = list_views(session, actor, INSTITUTIONS_PAGE)[:limit]
    return [
        SegmentRow(
            view.id,
            view.name,
            view.query,
            view.is_shared,
            count_institutions(session, InstitutionQuery.from_params(view.query)),
        )
        for view in rows
    ]
