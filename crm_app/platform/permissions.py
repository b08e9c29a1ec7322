"""The one place where roles become rights (DOMAIN.md "Users and roles").

Every service asks `authorize(actor, action, resource)`; lists ask `scope_for(actor, action)`
and filter in SQL. Pages and routes never compare roles themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from crm_app.platform.errors import Forbidden
from crm_app.platform.i18n import N_
from crm_app.platform.models.people import Role, Theme, User


class Scope(IntEnum):
    """How far a right reaches, from nothing to everything (ordered)."""

    NONE = 0
    OWN = 1  # assigned to or created by the actor
    OWN_OR_UNASSIGNED = 2  # own, or nobody's yet (sales reps pick up unassigned institutions)
    TEAM = 3  # own, or belonging to the actor's team
    ALL = 4


@dataclass(frozen=True, slots=True)
class Actor:
    """The acting user, as services see it (detached from any database session)."""

    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    team_id: uuid.UUID | None = None
    language: str | None = None
    theme: Theme = Theme.AUTO
    session_id: uuid.UUID | None = None
    #: A request made with a personal API token: the token, and the scopes that further limit what the
    #: owner's role allows (None: a login, limited by the role only).
    token_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None

    @property
    def uses_api_token(self) -> bool:
        return self.scopes is not None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a record is or would be (owner, team): what a right check needs before it exists."""

    team_id: uuid.UUID | None = None
    assigned_user_id: uuid.UUID | None = None
    created_by: uuid.UUID | None = None


def actor_from(user: User, session_id: uuid.UUID | None = None) -> Actor:
    """The actor a user row acts as (detached: safe to keep after the session closes)."""
    return Actor(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=Role(user.role),
        team_id=user.team_id,
        language=user.language,
        theme=Theme(user.theme),
        session_id=session_id,
    )


def actor_from_row(
    row: Any,
    *,
    session_id: uuid.UUID | None = None,
    token_id: uuid.UUID | None = None,
    scopes: frozenset[str] | None = None,
) -> Actor:
    """The actor of a Core row that selected a user's columns as `user_id`, `email`, `full_name`,
    `role`, `team_id`, `language` and `theme`: what a request's authentication reads in one statement
    (a login's session, a personal API token), with the session or the token it came with."""
    return Actor(
        id=row.user_id,
        email=row.email,
        full_name=row.full_name,
        role=Role(row.role),
        team_id=row.team_id,
        language=row.language,
        theme=Theme(row.theme),
        session_id=session_id,
        token_id=token_id,
        scopes=scopes,
    )


#: Each role's name (message ids, translated where shown).
ROLE_LABELS: dict[Role, str] = {
    Role.USER: N_("Sales rep"),
    Role.MANAGER: N_("Manager"),
    Role.TEAM_ADMIN: N_("Team administrator"),
    Role.ADMIN: N_("Administrator"),
    Role.SUPER_ADMIN: N_("Super administrator"),
}


SYSTEM_ACTOR = Actor(id=uuid.UUID(int=0), email="system@opex-crm", full_name="OPEx CRM", role=Role.SUPER_ADMIN)

_U, _M, _T, _A, _S = Role.USER, Role.MANAGER, Role.TEAM_ADMIN, Role.ADMIN, Role.SUPER_ADMIN


def _rule(user: Scope, manager: Scope, team_admin: Scope, admin: Scope, super_admin: Scope) -> dict[Role, Scope]:
    return {_U: user, _M: manager, _T: team_admin, _A: admin, _S: super_admin}


NO, OWN, OWN_U, TEAM, ALL = Scope.NONE, Scope.OWN, Scope.OWN_OR_UNASSIGNED, Scope.TEAM, Scope.ALL

#: action → scope per role. Later areas add their actions here, and nowhere else.
POLICY: dict[str, dict[Role, Scope]] = {
    "dashboard.view": _rule(OWN, TEAM, TEAM, ALL, ALL),
    "institution.view": _rule(ALL, ALL, ALL, ALL, ALL),
    "institution.create": _rule(ALL, ALL, ALL, ALL, ALL),
    "institution.edit": _rule(OWN_U, TEAM, TEAM, ALL, ALL),
    "institution.reassign": _rule(NO, NO, TEAM, ALL, ALL),
    "institution.import": _rule(NO, TEAM, TEAM, ALL, ALL),
    "institution.export": _rule(ALL, ALL, ALL, ALL, ALL),
    "contact.view": _rule(ALL, ALL, ALL, ALL, ALL),
    "contact.edit": _rule(OWN_U, TEAM, TEAM, ALL, ALL),
    "record.view": _rule(OWN, TEAM, TEAM, ALL, ALL),  # tasks, notes, quotes, invoices
    "record.edit": _rule(OWN, TEAM, TEAM, ALL, ALL),
    "opportunity.view": _rule(OWN, TEAM, TEAM, ALL, ALL),
    "opportunity.edit": _rule(OWN, TEAM, TEAM, ALL, ALL),
    "opportunity_settings.edit": _rule(NO, NO, NO, ALL, ALL),  # the list of lost reasons
    "user.directory": _rule(ALL, ALL, ALL, ALL, ALL),  # active users' names, to invite or share with
    "user.view": _rule(NO, TEAM, TEAM, ALL, ALL),
    "user.administer": _rule(NO, NO, TEAM, ALL, ALL),
    "team.administer": _rule(NO, NO, NO, ALL, ALL),
    "catalog.edit": _rule(NO, NO, NO, ALL, ALL),
    "document_template.edit": _rule(NO, NO, NO, ALL, ALL),
    "reminder_rule.edit": _rule(NO, NO, NO, ALL, ALL),
    "security_log.view": _rule(NO, NO, NO, ALL, ALL),
    "settings.system": _rule(NO, NO, NO, NO, ALL),
    "webhook.administer": _rule(NO, NO, NO, NO, ALL),
    "task.assign": _rule(OWN, TEAM, TEAM, ALL, ALL),  # who may be a task's assignee
}

#: What each right lets one do, in words (message ids): the security log names a refused action with
#: it. Every action of POLICY and every one a service refuses by name (`Forbidden("note.view")`) has
#: its words here (tests/unit/test_permissions.py checks the source).
RIGHT_LABELS: dict[str, str] = {
    "dashboard.view": N_("see the dashboard"),
    "institution.view": N_("see an institution"),
    "institution.create": N_("create an institution"),
    "institution.edit": N_("edit an institution"),
    "institution.reassign": N_("reassign an institution"),
    "institution.import": N_("import institutions"),
    "institution.export": N_("export institutions"),
    "contact.view": N_("see a contact"),
    "contact.edit": N_("edit a contact"),
    "record.view": N_("see a record (task, quote, invoice...)"),
    "record.edit": N_("edit a record (task, quote, invoice...)"),
    "opportunity.view": N_("see an opportunity"),
    "opportunity.edit": N_("edit an opportunity"),
    "opportunity_settings.edit": N_("edit the list of lost reasons"),
    "user.directory": N_("see the users' names"),
    "user.view": N_("see a user"),
    "user.administer": N_("manage a user"),
    "user.administer_self": N_("change one's own role or team"),
    "user.email_change": N_("change a user's email"),
    "user.grant_role": N_("give a role"),
    "team.administer": N_("manage teams"),
    "catalog.edit": N_("edit the catalog"),
    "document_template.edit": N_("edit the document templates"),
    "reminder_rule.edit": N_("edit the reminder rules"),
    "security_log.view": N_("see the security log"),
    "settings.system": N_("change the system settings"),
    "webhook.administer": N_("manage the webhooks"),
    "task.assign": N_("assign a task"),
    "api_token.scope": N_("use the API beyond the scopes of an API token"),
    "api_token.login_only": N_("use a personal API token where a login is needed"),
    "api_token.manage": N_("manage API tokens with an API token"),
    "call.log": N_("log a call"),
    "comment.edit": N_("edit a comment"),
    "comment.delete": N_("delete a comment"),
    "meeting.organize": N_("organise a meeting"),
    "meeting.respond": N_("answer a meeting invitation"),
    "note.view": N_("read a note"),
    "note.edit": N_("edit a note"),
    "note.delete": N_("delete a note"),
    "note.share": N_("share a note"),
    "saved_view.delete": N_("delete a saved view"),
}


#: the highest role each role may hand out ("never above one's own rights"; team admins up to manager).
_GRANTABLE_UP_TO: dict[Role, Role | None] = {_U: None, _M: None, _T: _M, _A: _A, _S: _S}


def scope_for(actor: Actor, action: str) -> Scope:
    """How far `action` reaches for this actor (unknown actions reach nothing)."""
    return POLICY.get(action, {}).get(actor.role, Scope.NONE)


def _owner_ids(resource: Any) -> set[uuid.UUID]:
    owners = (getattr(resource, name, None) for name in ("assigned_user_id", "owner_id", "created_by"))
    return {owner for owner in owners if owner is not None}


def _is_unassigned(resource: Any) -> bool:
    return hasattr(resource, "assigned_user_id") and resource.assigned_user_id is None


def can(actor: Actor, action: str, resource: Any = None) -> bool:
    """True when `actor` may do `action` (on `resource`, when the right depends on it)."""
    scope = scope_for(actor, action)
    if scope is Scope.NONE:
        return False
    if resource is None or scope is Scope.ALL:
        return True
    if actor.id in _owner_ids(resource):
        return True
    if scope is Scope.OWN_OR_UNASSIGNED:
        return _is_unassigned(resource)
    if scope is Scope.TEAM:
        # Each scope includes the narrower ones: nobody's records (no assignee, no team) too.
        team_id = getattr(resource, "team_id", None)
        if _is_unassigned(resource) and team_id is None:
            return True
        return actor.team_id is not None and team_id == actor.team_id
    return False


def authorize(actor: Actor, action: str, resource: Any = None) -> None:
    """Raise Forbidden unless `can(actor, action, resource)`."""
    if not can(actor, action, resource):
        raise Forbidden(action)


def can_grant_role(actor: Actor, role: Role) -> bool:
    ceiling = _GRANTABLE_UP_TO[actor.role]
    return ceiling is not None and role.rank <= ceiling.rank
