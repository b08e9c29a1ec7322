"""Logins with lockout, and revocable sessions shared by the web UI and the API (passwords: `passwords`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy import delete, func, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from crm_app.accounts.models import ApiToken, AuthSession, LoginAttempt, SessionKind
from crm_app.accounts.passwords import (
    burn_time_like_a_real_check,
    hash_password,
    password_problems,
    verify_password,
)
from crm_app.platform import lookups, security_log
from crm_app.platform import settings as app_settings
from crm_app.platform.config import get_settings
from crm_app.platform.db import autocommit_connection
from crm_app.platform.errors import NotAuthenticated, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import SecurityAction, Severity
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import User
from crm_app.platform.permissions import Actor, actor_from, actor_from_row
from crm_app.platform.scheduler import Job, cron
from crm_app.platform.security_log import ClientInfo

LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def normalize_email(email: str) -> str:
    return email.strip().lower()


class LoginFailure(StrEnum):
    INVALID = "invalid"
    LOCKED = "locked"

    @property
    def message(self) -> str:
        """The one answer given for this failure (it never says whether the email exists)."""
        return LOGIN_FAILURE_MESSAGES[self]


LOGIN_FAILURE_MESSAGES = {
    LoginFailure.INVALID: N_("Invalid email or password."),
    LoginFailure.LOCKED: N_("Too many failed attempts. Try again in 15 minutes."),
}


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Outcome of a login try. A failure is a result, not an exception, so that it is committed."""

    actor: Actor | None = None
    session_id: uuid.UUID | None = None
    failure: LoginFailure | None = None

    @property
    def succeeded(self) -> bool:
        return self.actor is not None


def _recent_failures(session: Session, *, email: str | None = None, ip: str | None = None) -> list[datetime]:
    """Failures in the lockout window, newest first. For an account, a success starts the count again
    (its owner got in); for an address, it does not: an address that tries many made-up accounts
    could otherwise slip a success of its own in between and never be locked."""
    settings = get_settings()
    since = utcnow() - timedelta(seconds=settings.login_window)
    key = LoginAttempt.email == email if email is not None else LoginAttempt.ip == ip
    if email is not None:
        last_success = session.exec(select(func.max(LoginAttempt.at)).where(key, col(LoginAttempt.succeeded))).one()
        if last_success is not None and last_success > since:
            since = last_success
    rows = session.exec(
        select(LoginAttempt.at)
        .where(key, ~col(LoginAttempt.succeeded), LoginAttempt.at > since)
        .order_by(col(LoginAttempt.at).desc())
    ).all()
    return [at if at.tzinfo else at.replace(tzinfo=since.tzinfo) for at in rows]


def _locked_until(failures: list[datetime], threshold: int) -> datetime | None:
    if len(failures) < threshold:
        return None
    # Locked from the failure that reached the threshold, for the lockout period.
    until = failures[threshold - 1] + timedelta(seconds=get_settings().login_lockout)
    return until if until > utcnow() else None


def lockout_until(session: Session, email: str, ip: str | None) -> datetime | None:
    settings = get_settings()
    candidates = [_locked_until(_recent_failures(session, email=email), settings.login_max_failures)]
    if ip:
        candidates.append(_locked_until(_recent_failures(session, ip=ip), settings.login_ip_max_failures))
    found = [c for c in candidates if c is not None]
    return max(found) if found else None


def login(
    session: Session, email: str, password: str, *, client: ClientInfo, kind: SessionKind, remember: bool = False
) -> LoginResult:
    """Check credentials, count failures, and open a session on success.

    The same answer is given for an unknown email, a wrong password and a deactivated account.
    """
    email = normalize_email(email)
    if lockout_until(session, email, client.ip) is not None:
        burn_time_like_a_real_check(password)
        security_log.record(session, SecurityAction.LOGIN_LOCKED, severity=Severity.MEDIUM, email=email, client=client)
        return LoginResult(failure=LoginFailure.LOCKED)

    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        burn_time_like_a_real_check(password)
        valid = False
    else:
        valid = verify_password(password, user.password_hash) and user.is_active

    session.add(LoginAttempt(email=email, ip=client.ip, succeeded=valid))
    if not valid:
        security_log.record(
            session,
            SecurityAction.LOGIN_FAILED,
            severity=Severity.MEDIUM,
            user_id=user.id if user else None,
            email=email,
            client=client,
            channel=kind.value,
        )
        session.flush()
        if lockout_until(session, email, client.ip) is not None:
            return LoginResult(failure=LoginFailure.LOCKED)
        return LoginResult(failure=LoginFailure.INVALID)

    assert user is not None
    auth_session = open_session(session, user, kind=kind, client=client, remember=remember)
    user.last_login_at = utcnow()
    security_log.record(
        session, SecurityAction.LOGIN_SUCCEEDED, user_id=user.id, email=email, client=client, channel=kind.value
    )
    return LoginResult(actor=actor_from(user, auth_session.id), session_id=auth_session.id)


def open_session(
    session: Session, user: User, *, kind: SessionKind, client: ClientInfo, remember: bool = False
) -> AuthSession:
    settings = get_settings()
    if kind is SessionKind.API:
        lifetime = settings.jwt_refresh_expires_in
    else:
        # The lifetime set in /admin/settings (default: SESSION_LIFETIME) applies to ordinary sessions.
        lifetime = settings.session_remember_lifetime if remember else app_settings.session_lifetime_seconds(session)
    auth_session = AuthSession(
        user_id=user.id,
        kind=kind,
        remember=remember,
        ip=client.ip,
        user_agent=(client.user_agent or "")[:300] or None,
        expires_at=utcnow() + timedelta(seconds=lifetime),
    )
    session.add(auth_session)
    session.flush()
    return auth_session


def resolve_session(session: Session, session_id: uuid.UUID | str | None) -> Actor:
    """The actor behind a live session, read in the caller's unit of work (which may have just written
    it); NotAuthenticated when it is unknown, expired, revoked or the user is deactivated."""
    sid = _session_uuid(session_id)
    session.flush()
    return _resolve_on(session.connection(), sid, settings_session=session)


def session_actor(session_id: uuid.UUID | str | None) -> Actor:
    """`resolve_session` before a request's unit of work begins (a REST call's access token, a page's
    browser session): read on a connection of its own in autocommit (`db.autocommit_connection`), so
    revocation still takes effect at the next request, whichever process serves it."""
    sid = _session_uuid(session_id)
    with autocommit_connection() as connection:
        return _resolve_on(connection, sid, settings_session=None)


async def awaited_session_actor(session_id: uuid.UUID | str | None) -> Actor:
    """`session_actor` awaited on the event loop (`lookups`: the REST API's look-up, one round trip,
    no thread), or in the thread pool where the loop has no look-up connections (SQLite) and for a
    browser's session under an idle limit (a setting, read in a unit of work)."""
    sid = _session_uuid(session_id)
    pool = lookups.here()
    if pool is None:
        return await to_thread.run_sync(session_actor, sid)
    row = await pool.first(_SESSION_OF_ID, {"sid": sid})
    if _idle_limited(row):
        return await to_thread.run_sync(session_actor, sid)
    now = utcnow()
    if _still_open(row, now, idle=None):
        await pool.execute(_TOUCH_SESSION, {"sid": sid, "now": now})
    return actor_from_row(row, session_id=sid)


def _session_uuid(session_id: uuid.UUID | str | None) -> uuid.UUID:
    if not session_id:
        raise NotAuthenticated()
    try:
        return session_id if isinstance(session_id, uuid.UUID) else uuid.UUID(str(session_id))
    except ValueError:
        raise NotAuthenticated() from None


def _resolve_on(connection: Connection, sid: uuid.UUID, *, settings_session: Session | None) -> Actor:
    """Every request asks this: one prepared Core statement of the few columns it needs (loading the two
    ORM entities cost more than PostgreSQL's answer). Refreshes `last_seen_at` at most once a minute."""
    row = connection.execute(_SESSION_OF_ID, {"sid": sid}).first()
    now = utcnow()
    idle = app_settings.idle_timeout(settings_session) if _idle_limited(row) else None
    if _still_open(row, now, idle=idle):
        connection.execute(_TOUCH_SESSION, {"sid": sid, "now": now})
    return actor_from_row(row, session_id=sid)


def _idle_limited(row: Any) -> bool:
    """Only a browser's session has an idle limit, and not when "remember me" was ticked."""
    return row is not None and row.kind == SessionKind.WEB and not row.remember


def _still_open(row: Any, now: datetime, *, idle: timedelta | None) -> bool:
    """NotAuthenticated when the session of `row` (None: no such session) has ended: revoked, expired,
    its user deactivated, or idle longer than `idle`. Otherwise whether its last use is to be noted
    (at most once a minute)."""
    if row is None:
        raise NotAuthenticated()
    if row.revoked_at is not None or row.expires_at <= now or not row.is_active:
        raise NotAuthenticated(N_("Your session has ended. Please log in again."))
    if idle is not None and now - row.last_seen_at > idle:
        raise NotAuthenticated(N_("Your session has ended. Please log in again."))
    return bool(now - row.last_seen_at > LAST_SEEN_RESOLUTION)


_AS, _U = table_of(AuthSession).c, table_of(User).c
_SESSION_OF_ID = (
    sa.select(
        _AS.user_id,
        _AS.kind,
        _AS.expires_at,
        _AS.last_seen_at,
        _AS.revoked_at,
        _AS.remember,
        _U.email,
        _U.full_name,
        _U.role,
        _U.team_id,
        _U.language,
        _U.theme,
        _U.is_active,
    )
    .join_from(table_of(AuthSession), table_of(User), _U.id == _AS.user_id)
    .where(_AS.id == sa.bindparam("sid", type_=sa.Uuid()))
)
_TOUCH_SESSION = (
    sa.update(table_of(AuthSession))
    .where(_AS.id == sa.bindparam("sid", type_=sa.Uuid()))
    .values(last_seen_at=sa.bindparam("now", type_=_AS.last_seen_at.type))
)


def end_session(session: Session, session_id: uuid.UUID, *, client: ClientInfo | None = None) -> None:
    """Log out: the session (and every token of its family) stops working at once."""
    auth_session = session.get(AuthSession, session_id)
    if auth_session is None or auth_session.revoked_at is not None:
        return
    auth_session.revoked_at = utcnow()
    security_log.record(
        session, SecurityAction.LOGOUT, user_id=auth_session.user_id, client=client, channel=auth_session.kind
    )


def logout(session: Session, actor: Actor, *, client: ClientInfo | None = None) -> None:
    """End the actor's current session (web or API token family)."""
    if actor.session_id is not None:
        end_session(session, actor.session_id, client=client)


def revoke_all_sessions(session: Session, user_id: uuid.UUID) -> int:
    """End every session and token of a user (deactivation, password change)."""
    result = session.exec(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def revoke_api_tokens(session: Session, user_id: uuid.UUID, *, revoked_by: uuid.UUID | None = None) -> int:
    """Revoke every live personal API token of a user (deactivation): each stops at its next request."""
    result = session.exec(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow(), revoked_by=revoked_by)
    )
    return int(result.rowcount or 0)


def purge_expired(session: Session, *, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete sessions and login attempts long past their use (scheduled housekeeping)."""

    cutoff = utcnow() - older_than
    removed = session.exec(delete(AuthSession).where(col(AuthSession.expires_at) < cutoff)).rowcount or 0
    removed += session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < cutoff)).rowcount or 0
    return int(removed)


# --- The signed-in user's own sessions and password -------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One live session of the actor, as their profile lists it."""

    id: uuid.UUID
    kind: SessionKind
    device: str
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    is_current: bool


# (token in the user agent, name): the first match wins, so more specific browsers come first
# (Edge and Opera also say "Chrome", Chrome also says "Safari").
_BROWSERS = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-httpx/", "HTTP client"),
    ("python-requests/", "HTTP client"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_device(user_agent: str | None) -> str:
    """ "Firefox · Windows" from a user agent string ("" when there is nothing to say)."""
    if not user_agent:
        return ""
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    return " · ".join(part for part in (browser, system) if part) or user_agent[:60]


def _live_sessions(session: Session, user_id: uuid.UUID) -> Any:
    now = utcnow()
    return select(AuthSession).where(
        AuthSession.user_id == user_id, col(AuthSession.revoked_at).is_(None), AuthSession.expires_at > now
    )


def list_sessions(session: Session, actor: Actor) -> list[SessionRow]:
    """The actor's live sessions (web and API), the current one first, then the most recently seen."""
    rows = session.exec(_live_sessions(session, actor.id)).all()
    found = [
        SessionRow(
            id=row.id,
            kind=SessionKind(row.kind),
            device=describe_device(row.user_agent),
            ip=row.ip,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            is_current=row.id == actor.session_id,
        )
        for row in rows
    ]
    return sorted(found, key=lambda s: (not s.is_current, -s.last_seen_at.timestamp()))


def end_other_sessions(session: Session, actor: Actor, *, client: ClientInfo | None = None) -> int:
    """ "Sign out everywhere else": every live session of the actor but the current one ends now."""
    conditions = [col(AuthSession.user_id) == actor.id, col(AuthSession.revoked_at).is_(None)]
    if actor.session_id is not None:
        conditions.append(col(AuthSession.id) != actor.session_id)
    ended = int(session.exec(update(AuthSession).where(*conditions).values(revoked_at=utcnow())).rowcount or 0)
    security_log.record(
        session,
        SecurityAction.SESSIONS_ENDED,
        severity=Severity.MEDIUM,
        user_id=actor.id,
        email=actor.email,
        client=client,
        ended=ended,
    )
    return ended


def change_password(
    session: Session, actor: Actor, *, current_password: str, new_password: str, client: ClientInfo | None = None
) -> int:
    """Replace the actor's password after checking the current one; every other session ends
    (someone who knew the old password is signed out). Returns how many sessions ended."""
    user = session.get(User, actor.id)
    if user is None or not user.is_active:
        raise NotAuthenticated()
    if not verify_password(current_password, user.password_hash):
        raise ValidationFailed({"current_password": N_("The current password is not correct.")})
    if problems := password_problems(new_password, user.email):
        raise ValidationFailed({"new_password": problems[0]})
    if verify_password(new_password, user.password_hash):
        raise ValidationFailed({"new_password": N_("Choose a password different from the current one.")})
    user.password_hash = hash_password(new_password)
    user.touch()
    session.add(user)
    security_log.record(
        session,
        SecurityAction.PASSWORD_CHANGED,
        severity=Severity.MEDIUM,
        user_id=user.id,
        email=user.email,
        client=client,
    )
    return end_other_sessions(session, actor, client=client)


JOBS = (
    Job(
        "session_cleanup",
        cron(hour=3, minute=30),
        purge_expired,
        "Delete sessions, refresh tokens and login attempts long expired.",
    ),
)
