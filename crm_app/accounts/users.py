"""User accounts: creation (CLI, demo, later the admin pages) and each user's own preferences."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import available_timezones

import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm_app.accounts import auth
from crm_app.accounts.passwords import hash_password, password_problems
from crm_app.platform import identifiers, lookups, security_log
from crm_app.platform.config import get_settings
from crm_app.platform.db import autocommit_connection
from crm_app.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_app.platform.i18n import N_, SUPPORTED_LOCALES
from crm_app.platform.models.audit import SecurityAction, SecurityEvent, Severity
from crm_app.platform.models.base import table_of
from crm_app.platform.models.people import Role, Team, Theme, User
from crm_app.platform.permissions import ROLE_LABELS, Actor, Placement, actor_from, authorize, can_grant_role


def _validate_new_user(session: Session, email: str, full_name: str, password: str | None) -> None:
    errors: dict[str, str] = {}
    try:
        identifiers.clean_email(email)
    except ValueError as exc:
        errors["email"] = str(exc)
    if "email" not in errors and session.exec(select(User.id).where(User.email == email)).first() is not None:
        errors["email"] = N_("A user with this email already exists.")
    if not full_name.strip():
        errors["full_name"] = N_("Enter a name.")
    if password is not None and (problems := password_problems(password, email)):
        errors["password"] = problems[0]
    if errors:
        raise ValidationFailed(errors)


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    role: Role,
    password: str | None = None,
    team_id: uuid.UUID | None = None,
) -> User:
    """Create an account; the actor must administer users and may not grant more than they hold."""
    authorize(actor, "user.administer", Placement(team_id=team_id))
    if not can_grant_role(actor, role):
        raise Forbidden("user.grant_role")
    email = auth.normalize_email(email)
    _validate_new_user(session, email, full_name, password)
    if team_id is not None and session.get(Team, team_id) is None:
        raise ValidationFailed({"team_id": N_("This team does not exist.")})
    user = User(
        email=email,
        full_name=full_name.strip(),
        role=role,
        team_id=team_id,
        password_hash=hash_password(password) if password else None,
        created_by=actor.id if actor.id.int else None,
    )
    session.add(user)
    session.flush()
    security_log.record(
        session,
        SecurityAction.USER_CREATED,
        severity=Severity.MEDIUM,
        user_id=actor.id if actor.id.int else None,
        email=email,
        role=role.value,
    )
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def list_active_users(session: Session, actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """Every active user (id, name), ordered by name: whom one may invite to a meeting or share a note
    with. Any signed-in user may list them (a team is hundreds of users at most)."""
    authorize(actor, "user.directory")
    rows = session.exec(
        select(User.id, User.full_name).where(col(User.is_active)).order_by(col(User.full_name), col(User.id))
    ).all()
    return [(user_id, full_name) for user_id, full_name in rows]


def team_name(session: Session, team_id: uuid.UUID | None) -> str | None:
    if team_id is None:
        return None
    team = session.get(Team, team_id)
    return team.name if team else None


_TEAM_NAME = sa.select(table_of(Team).c.name).where(table_of(Team).c.id == sa.bindparam("team_id", type_=sa.Uuid()))


async def current_team_name(team_id: uuid.UUID | None) -> str | None:
    """`team_name` for a request that needs no unit of work (`GET /api/auth/me`): one statement awaited
    on the event loop, as the actor's own look-up (`lookups`), or on an autocommit connection in the
    thread pool where the loop cannot (SQLite)."""
    if team_id is None:
        return None
    pool = lookups.here()
    if pool is None:
        return await to_thread.run_sync(_team_name, team_id)
    row = await pool.first(_TEAM_NAME, {"team_id": team_id})
    return None if row is None else str(row.name)


def _team_name(team_id: uuid.UUID) -> str | None:
    with autocommit_connection() as connection:
        name: str | None = connection.execute(_TEAM_NAME, {"team_id": team_id}).scalar_one_or_none()
        return name


#: Offered first in the time-zone list: mainland France, then overseas France.
COMMON_TIMEZONES = (
    "Europe/Paris",
    "America/Guadeloupe",
    "America/Martinique",
    "America/Cayenne",
    "Indian/Reunion",
    "Indian/Mayotte",
    "America/Miquelon",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Pacific/Wallis",
    "UTC",
)


@cache
def timezone_choices() -> tuple[str, ...]:
    """Every IANA time zone this system knows, the common French ones first."""
    known = available_timezones()
    first = tuple(zone for zone in COMMON_TIMEZONES if zone in known)
    return first + tuple(sorted(known - set(first)))


def clean_timezone(value: str) -> str:
    """An IANA time zone name, else ValueError with a message id."""
    zone = value.strip()
    if zone not in timezone_choices():
        raise ValueError(N_("This time zone is not known."))
    return zone


def _clean_phone_and_zone(
    phone: str | None, timezone: str | None, errors: dict[str, str]
) -> tuple[str | None, str | None]:
    """The cleaned phone (None: none given or removed) and time zone (None: unchanged); problems go to `errors`."""
    clean_phone: str | None = None
    if phone is not None and phone.strip():
        try:
            clean_phone = identifiers.clean_phone(phone)
        except ValueError as exc:
            errors["phone"] = str(exc)
    clean_zone: str | None = None
    if timezone is not None:
        try:
            clean_zone = clean_timezone(timezone)
        except ValueError as exc:
            errors["timezone"] = str(exc)
    return clean_phone, clean_zone


def update_preferences(
    session: Session,
    actor: Actor,
    *,
    language: str | None = None,
    theme: Theme | None = None,
    full_name: str | None = None,
    phone: str | None = None,
    timezone: str | None = None,
    expected_version: int | None = None,
) -> Actor:
    """A user's own settings: language, theme, display name, phone ("" removes it), time zone.
    Returns the refreshed actor."""
    user = get_user(session, actor.id)
    if expected_version is not None and user.version != expected_version:
        raise Conflict(changed_by=user.full_name)
    errors: dict[str, str] = {}
    if language is not None and language not in SUPPORTED_LOCALES:
        errors["language"] = N_("This language is not available.")
    if full_name is not None and not full_name.strip():
        errors["full_name"] = N_("Enter a name.")
    clean_phone, clean_zone = _clean_phone_and_zone(phone, timezone, errors)
    if errors:
        raise ValidationFailed(errors)
    if language is not None:
        user.language = language
    if theme is not None:
        user.theme = Theme(theme)
    if full_name is not None:
        user.full_name = full_name.strip()
    if phone is not None:
        user.phone = clean_phone
    if clean_zone is not None:
        user.timezone = clean_zone
    user.touch()
    session.add(user)
    return actor_from(user, actor.session_id)


def count_users(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(User)).one())


@dataclass(frozen=True, slots=True)
class Profile:
    """What a user sees and edits about themselves."""

    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    team_name: str | None
    phone: str | None
    language: str | None
    theme: Theme
    timezone: str
    version: int
    previous_login_at: datetime | None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


def get_profile(session: Session, actor: Actor) -> Profile:
    """The actor's own account, with the time of the login before the current one."""
    user = get_user(session, actor.id)
    logins = session.exec(
        select(SecurityEvent.at)
        .where(SecurityEvent.user_id == user.id, SecurityEvent.action == SecurityAction.LOGIN_SUCCEEDED.value)
        .order_by(col(SecurityEvent.at).desc())
        .limit(2)
    ).all()
    return Profile(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=Role(user.role),
        team_name=team_name(session, user.team_id),
        phone=user.phone,
        language=user.language,
        theme=Theme(user.theme),
        timezone=user.timezone or get_settings().timezone,
        version=user.version,
        previous_login_at=logins[1] if len(logins) > 1 else None,
    )
