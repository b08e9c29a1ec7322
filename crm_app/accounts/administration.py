"""Account administration and self-service: invitations, password resets, email changes, roles and
teams, deactivation (DOMAIN.md "Users and roles").

An invited person gets an account at once, inactive and without a password, plus a single-use
invitation link (72 h). Accepting sets the password and activates the account; revoking an
invitation that was never accepted deletes that account. A user's status is derived:
active; invited (inactive, never had a password or a login); deactivated (inactive otherwise).

Links carry a random token; the database holds only its SHA-256, so a leaked table opens nothing.
Every administrative action writes the security log.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import false, func, or_, update
from sqlmodel import Session, col, select

from crm_app.accounts import auth, passwords, users
from crm_app.accounts.models import AccountAction, AccountToken, AuthSession, TokenPurpose
from crm_app.platform import identifiers, security_log
from crm_app.platform import outbox as mail
from crm_app.platform.config import get_settings
from crm_app.platform.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from crm_app.platform.i18n import DEFAULT_LOCALE, N_, gettext, use_locale
from crm_app.platform.models.audit import Severity
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role, Team, User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, Scope, authorize, can_grant_role, scope_for
from crm_app.platform.security_log import ClientInfo
from crm_app.platform.settings import organisation, smtp_settings

INVITATION_LIFETIME = timedelta(hours=72)
RESET_LIFETIME = timedelta(minutes=30)
EMAIL_CHANGE_LIFETIME = timedelta(hours=24)
#: One reset email per account in this window, however often the form is sent.
RESET_THROTTLE = timedelta(minutes=1)
INVALID_LINK = N_("This link is invalid or has expired.")
LIFETIMES = {
    TokenPurpose.INVITATION: INVITATION_LIFETIME,
    TokenPurpose.PASSWORD_RESET: RESET_LIFETIME,
    TokenPurpose.EMAIL_CHANGE: EMAIL_CHANGE_LIFETIME,
}
LINK_PATHS = {
    TokenPurpose.INVITATION: "invitation",
    TokenPurpose.PASSWORD_RESET: "reset-password",
    TokenPurpose.EMAIL_CHANGE: "confirm-email",
}
EMAIL_TAKEN = N_("A user with this email already exists.")


class UserStatus(StrEnum):
    ACTIVE = "active"
    INVITED = "invited"
    DEACTIVATED = "deactivated"


STATUS_LABELS: dict[UserStatus, str] = {
    UserStatus.ACTIVE: N_("Active"),
    UserStatus.INVITED: N_("Invited"),
    UserStatus.DEACTIVATED: N_("Deactivated"),
}


def status_of(user: User) -> UserStatus:
    if user.is_active:
        return UserStatus.ACTIVE
    if user.password_hash is None and user.last_login_at is None:
        return UserStatus.INVITED
    return UserStatus.DEACTIVATED


# --- tokens ------------------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue_token(
    session: Session, user: User, purpose: TokenPurpose, actor: Actor | None, new_email: str | None = None
) -> str:
    """A new link token for `user`; earlier unspent ones of the same purpose stop working."""
    _withdraw_tokens(session, user.id, purpose)
    token = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=utcnow() + LIFETIMES[purpose],
            new_email=new_email,
            created_by=actor.id if actor is not None and actor.id.int else None,
        )
    )
    session.flush()
    return token


def _withdraw_tokens(session: Session, user_id: uuid.UUID, purpose: TokenPurpose | None = None) -> None:
    condition = [
        col(AccountToken.user_id) == user_id,
        col(AccountToken.used_at).is_(None),
        col(AccountToken.revoked_at).is_(None),
    ]
    if purpose is not None:
        condition.append(col(AccountToken.purpose) == purpose.value)
    session.exec(update(AccountToken).where(*condition).values(revoked_at=utcnow()))


def _live_token(session: Session, token: str, purpose: TokenPurpose) -> tuple[AccountToken, User]:
    """The unspent, unexpired token of this purpose and its user, else ValidationFailed(token)."""
    row = (
        session.exec(
            select(AccountToken, User)
            .join(User, col(User.id) == AccountToken.user_id)
            .where(AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose.value)
        ).first()
        if token
        else None
    )
    if row is None:
        raise ValidationFailed({"token": INVALID_LINK}, INVALID_LINK)
    stored, user = row
    if stored.used_at is not None or stored.revoked_at is not None or stored.expires_at <= utcnow():
        raise ValidationFailed({"token": INVALID_LINK}, INVALID_LINK)
    if purpose is TokenPurpose.INVITATION and status_of(user) is not UserStatus.INVITED:
        raise ValidationFailed({"token": INVALID_LINK}, INVALID_LINK)
    if purpose in (TokenPurpose.PASSWORD_RESET, TokenPurpose.EMAIL_CHANGE) and not user.is_active:
        raise ValidationFailed({"token": INVALID_LINK}, INVALID_LINK)
    return stored, user


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What the page behind a link shows before the password is chosen."""

    email: str
    full_name: str
    expires_at: datetime
    new_email: str | None = None  # the address an email-change link moves the account to


def check_token(session: Session, token: str, purpose: TokenPurpose) -> LinkTarget:
    """The account a still-valid link is for (ValidationFailed when it is not valid)."""
    stored, user = _live_token(session, token, purpose)
    return LinkTarget(
        email=user.email, full_name=user.full_name, expires_at=stored.expires_at, new_email=stored.new_email
    )


def link_url(purpose: TokenPurpose, token: str) -> str:
    settings = get_settings()
    base = (settings.base_url or f"http://localhost:{settings.port}").rstrip("/")
    return f"{base}/{LINK_PATHS[purpose]}/{token}"


def _check_password(password: str, email: str) -> None:
    if problems := passwords.password_problems(password, email):
        raise ValidationFailed({"password": problems[0]})


# --- emails ------------------------------------------------------------------------------------------


def _queue_invitation(session: Session, user: User, token: str, inviter: Actor) -> None:
    with use_locale(organisation(session)["default_language"] or DEFAULT_LOCALE):
        subject = gettext("Your invitation to OPEx CRM")
        text = (
            "\n\n".join(
                [
                    gettext("Hello {name},", name=user.full_name),
                    gettext(
                        "{inviter} invites you to use OPEx CRM with the address {email}.",
                        inviter=inviter.full_name,
                        email=user.email,
                    ),
                    gettext("Choose your password with this link (valid for 72 hours, usable once):"),
                    link_url(TokenPurpose.INVITATION, token),
                    gettext("If you did not expect this invitation, ignore this email."),
                ]
            )
            + "\n"
        )
    mail.enqueue(session, to=[(user.full_name, user.email)], subject=subject, text=text, related=("user", user.id))


def _queue_reset(session: Session, user: User, token: str) -> None:
    with use_locale(user.language or organisation(session)["default_language"] or DEFAULT_LOCALE):
        subject = gettext("Reset your OPEx CRM password")
        text = (
            "\n\n".join(
                [
                    gettext("Hello {name},", name=user.full_name),
                    gettext("Someone asked to reset the password of your OPEx CRM account {email}.", email=user.email),
                    gettext("Choose a new password with this link (valid for 30 minutes, usable once):"),
                    link_url(TokenPurpose.PASSWORD_RESET, token),
                    gettext("If you did not ask for it, ignore this email: your password stays the same."),
                ]
            )
            + "\n"
        )
    mail.enqueue(session, to=[(user.full_name, user.email)], subject=subject, text=text, related=("user", user.id))


def _queue_email_change(session: Session, user: User, new_email: str, token: str) -> None:
    """The confirmation link, sent to the new address (it proves the person reads it)."""
    with use_locale(user.language or organisation(session)["default_language"] or DEFAULT_LOCALE):
        subject = gettext("Confirm your new OPEx CRM email address")
        text = (
            "\n\n".join(
                [
                    gettext("Hello {name},", name=user.full_name),
                    gettext(
                        "Someone asked to use {new_email} instead of {email} for the OPEx CRM account of {name}.",
                        new_email=new_email,
                        email=user.email,
                        name=user.full_name,
                    ),
                    gettext("Confirm the new address with this link (valid for 24 hours, usable once):"),
                    link_url(TokenPurpose.EMAIL_CHANGE, token),
                    gettext("If you did not ask for it, ignore this email: the address stays the same."),
                ]
            )
            + "\n"
        )
    mail.enqueue(session, to=[(user.full_name, new_email)], subject=subject, text=text, related=("user", user.id))


def _queue_email_changed_notice(session: Session, user: User, old_email: str) -> None:
    """Tell the previous address that the account no longer uses it."""
    with use_locale(user.language or organisation(session)["default_language"] or DEFAULT_LOCALE):
        subject = gettext("Your OPEx CRM email address was changed")
        text = (
            "\n\n".join(
                [
                    gettext("Hello {name},", name=user.full_name),
                    gettext(
                        "The email address of your OPEx CRM account is now {new_email}, instead of {email}.",
                        new_email=user.email,
                        email=old_email,
                    ),
                    gettext("If you did not make this change, contact your administrator at once."),
                ]
            )
            + "\n"
        )
    mail.enqueue(session, to=[(user.full_name, old_email)], subject=subject, text=text, related=("user", user.id))


# --- rights ------------------------------------------------------------------------------------------


def _authorize_placement(actor: Actor, team_id: uuid.UUID | None) -> None:
    """The actor administers users placed in `team_id`: everyone for admins, their own team for
    team admins (an account with no team is outside every team)."""
    scope = scope_for(actor, "user.administer")
    if scope is Scope.ALL:
        return
    if scope is Scope.TEAM and actor.team_id is not None and team_id == actor.team_id:
        return
    raise Forbidden("user.administer")


def _authorize_target(actor: Actor, user: User) -> None:
    """The actor may administer this existing account: placement, not above their rights, not themselves."""
    _authorize_placement(actor, user.team_id)
    if user.id == actor.id:
        raise Forbidden("user.administer_self", N_("You cannot change your own account here."))
    if not can_grant_role(actor, Role(user.role)):
        raise Forbidden("user.grant_role")


def can_administer(actor: Actor, user: User) -> bool:
    try:
        _authorize_target(actor, user)
    except Forbidden:
        return False
    return True


def grantable_roles(actor: Actor) -> list[Role]:
    """The roles this actor may give (never above their own rights)."""
    return [role for role in Role if can_grant_role(actor, role)]


def _team_or_error(session: Session, team_id: uuid.UUID | None) -> None:
    if team_id is not None:
        team = session.get(Team, team_id)
        if team is None or team.is_archived:
            raise ValidationFailed({"team_id": N_("This team does not exist.")})


def _get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def _actor_id(actor: Actor) -> uuid.UUID | None:
    return actor.id if actor.id.int else None


# --- administration ----------------------------------------------------------------------------------


def invite_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    role: Role,
    team_id: uuid.UUID | None = None,
    client: ClientInfo | None = None,
) -> User:
    """Create an inactive account and email it a 72-hour link to choose a password."""
    return _invite(
        session, actor, email=email, full_name=full_name, role=role, team_id=team_id, client=client, issued=[]
    )


def _invite(
    session: Session,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    role: Role,
    team_id: uuid.UUID | None,
    client: ClientInfo | None,
    issued: list[str],
) -> User:
    _authorize_placement(actor, team_id)
    if not can_grant_role(actor, role):
        raise Forbidden("user.grant_role")
    _team_or_error(session, team_id)
    user = users.create_user(session, actor, email=email, full_name=full_name, role=role, team_id=team_id)
    user.is_active = False
    token = _issue_token(session, user, TokenPurpose.INVITATION, actor)
    issued.append(token)
    _queue_invitation(session, user, token, actor)
    security_log.record(
        session,
        AccountAction.USER_INVITED,
        severity=Severity.MEDIUM,
        user_id=_actor_id(actor),
        email=actor.email,
        client=client,
        target=user.email,
        role=role.value,
        team_id=str(team_id) if team_id else None,
    )
    return user


def invite_with_link(
    session: Session, actor: Actor, *, email: str, full_name: str, role: Role, team_id: uuid.UUID | None = None
) -> tuple[User, str]:
    """Invite, and also return the link (the command line prints it for an operator without mail)."""
    issued: list[str] = []
    user = _invite(
        session, actor, email=email, full_name=full_name, role=role, team_id=team_id, client=None, issued=issued
    )
    return user, link_url(TokenPurpose.INVITATION, issued[0])


def resend_invitation(session: Session, actor: Actor, user_id: uuid.UUID, *, client: ClientInfo | None = None) -> User:
    """A new invitation link (the previous one stops working)."""
    user = _get_user(session, user_id)
    _authorize_target(actor, user)
    if status_of(user) is not UserStatus.INVITED:
        raise InvalidTransition(status_of(user).value, N_("This person has already accepted the invitation."))
    token = _issue_token(session, user, TokenPurpose.INVITATION, actor)
    _queue_invitation(session, user, token, actor)
    security_log.record(
        session,
        AccountAction.INVITATION_RESENT,
        user_id=_actor_id(actor),
        email=actor.email,
        client=client,
        target=user.email,
    )
    return user


def revoke_invitation(session: Session, actor: Actor, user_id: uuid.UUID, *, client: ClientInfo | None = None) -> str:
    """Withdraw an invitation never accepted: the link stops working and the empty account goes.
    Returns the email that was invited."""
    user = _get_user(session, user_id)
    _authorize_target(actor, user)
    if status_of(user) is not UserStatus.INVITED:
        raise InvalidTransition(status_of(user).value, N_("This person has already accepted the invitation."))
    security_log.record(
        session,
        AccountAction.INVITATION_REVOKED,
        severity=Severity.MEDIUM,
        user_id=_actor_id(actor),
        email=actor.email,
        client=client,
        target=user.email,
    )
    session.delete(user)
    session.flush()
    return user.email


def change_role_and_team(
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    *,
    role: Role | None = None,
    team_id: uuid.UUID | None = None,
    change_team: bool = False,
    expected_version: int | None = None,
    client: ClientInfo | None = None,
) -> User:
    """Give another role and/or move to another team (`change_team` says whether `team_id` applies,
    so that None can mean "no team")."""
    user = _get_user(session, user_id)
    _authorize_target(actor, user)
    if expected_version is not None and user.version != expected_version:
        raise Conflict(changed_by=None)
    new_role = role if role is not None else Role(user.role)
    new_team = team_id if change_team else user.team_id
    if not can_grant_role(actor, new_role):
        raise Forbidden("user.grant_role")
    _authorize_placement(actor, new_team)
    if new_team != user.team_id:
        _team_or_error(session, new_team)
    changes: dict[str, dict[str, str | None]] = {}
    if new_role != Role(user.role):
        changes["role"] = {"old": Role(user.role).value, "new": new_role.value}
        user.role = new_role
    if new_team != user.team_id:
        changes["team_id"] = {
            "old": str(user.team_id) if user.team_id else None,
            "new": str(new_team) if new_team else None,
        }
        user.team_id = new_team
    if changes:
        user.touch()
        security_log.record(
            session,
            AccountAction.ROLE_CHANGED,
            severity=Severity.MEDIUM,
            user_id=_actor_id(actor),
            email=actor.email,
            client=client,
            target=user.email,
            changes=changes,
        )
    session.flush()
    return user


def deactivate_user(session: Session, actor: Actor, user_id: uuid.UUID, *, client: ClientInfo | None = None) -> User:
    """End the account's use at once: every web session and API token, every pending link. Records stay."""
    user = _get_user(session, user_id)
    _authorize_target(actor, user)
    status = status_of(user)
    if status is not UserStatus.ACTIVE:
        raise InvalidTransition(status.value, N_("Only an active account can be deactivated."))
    user.is_active = False
    user.touch()
    ended = auth.revoke_all_sessions(session, user.id)
    api_tokens = auth.revoke_api_tokens(session, user.id, revoked_by=_actor_id(actor))
    _withdraw_tokens(session, user.id)
    security_log.record(
        session,
        AccountAction.USER_DEACTIVATED,
        severity=Severity.HIGH,
        user_id=_actor_id(actor),
        email=actor.email,
        client=client,
        target=user.email,
        sessions_ended=ended,
        api_tokens_revoked=api_tokens or None,
    )
    session.flush()
    return user


def reactivate_user(session: Session, actor: Actor, user_id: uuid.UUID, *, client: ClientInfo | None = None) -> User:
    user = _get_user(session, user_id)
    _authorize_target(actor, user)
    status = status_of(user)
    if status is not UserStatus.DEACTIVATED:
        raise InvalidTransition(status.value, N_("Only a deactivated account can be reactivated."))
    user.is_active = True
    user.touch()
    security_log.record(
        session,
        AccountAction.USER_REACTIVATED,
        severity=Severity.MEDIUM,
        user_id=_actor_id(actor),
        email=actor.email,
        client=client,
        target=user.email,
    )
    session.flush()
    return user


def send_reset_link(session: Session, actor: Actor, user_id: uuid.UUID, *, client: ClientInfo | None = None) -> User:
    """Email an active user a 30-minute link to choose a new password (their current one still works)."""
    user = _get_user(session, user_id)
    _authorize_target(actor, user)
    if not user.is_active:
        raise InvalidTransition(status_of(user).value, N_("Only an active account can receive a reset link."))
    token = _issue_token(session, user, TokenPurpose.PASSWORD_RESET, actor)
    _queue_reset(session, user, token)
    security_log.record(
        session,
        AccountAction.RESET_LINK_SENT,
        severity=Severity.MEDIUM,
        user_id=_actor_id(actor),
        email=actor.email,
        client=client,
        target=user.email,
    )
    return user


def copyable_link(session: Session, actor: Actor, user_id: uuid.UUID, *, client: ClientInfo | None = None) -> str:
    """A fresh link for the administrator to pass on by hand where no SMTP server is set: the
    invitation link of an invited account, a password-reset link of an active one. Earlier links of
    that kind stop working; the security log records who took it. Refused while mail is set up: then
    the links go by email only, to the person themselves."""
    user = _get_user(session, user_id)
    _authorize_target(actor, user)
    if smtp_settings(session).smtp_host:
        raise InvalidTransition("mail_configured", N_("Links are sent by email: use the buttons that send them."))
    status = status_of(user)
    if status not in (UserStatus.INVITED, UserStatus.ACTIVE):
        raise InvalidTransition(status.value, N_("Only an invited or active account has a link."))
    purpose = TokenPurpose.INVITATION if status is UserStatus.INVITED else TokenPurpose.PASSWORD_RESET
    token = _issue_token(session, user, purpose, actor)
    security_log.record(
        session,
        AccountAction.LINK_SHOWN,
        severity=Severity.MEDIUM,
        user_id=_actor_id(actor),
        email=actor.email,
        client=client,
        target=user.email,
        purpose=purpose.value,
    )
    return link_url(purpose, token)


# --- self-service (no signed-in actor) ---------------------------------------------------------------


def accept_invitation(session: Session, token: str, password: str, *, client: ClientInfo | None = None) -> str:
    """Set the invited person's password and activate the account; returns its email (to log in)."""
    stored, user = _live_token(session, token, TokenPurpose.INVITATION)
    _check_password(password, user.email)
    now = utcnow()
    stored.used_at = now
    _withdraw_tokens(session, user.id, TokenPurpose.INVITATION)
    user.password_hash = passwords.hash_password(password)
    user.is_active = True
    user.touch()
    security_log.record(session, AccountAction.INVITATION_ACCEPTED, user_id=user.id, email=user.email, client=client)
    session.flush()
    return user.email


def request_password_reset(session: Session, email: str, *, client: ClientInfo | None = None) -> None:
    """Queue a reset email when an active account has this address. The caller always answers the
    same thing, whether or not it exists."""
    address = auth.normalize_email(email)
    user = session.exec(select(User).where(User.email == address)).first()
    security_log.record(
        session,
        AccountAction.RESET_REQUESTED,
        user_id=user.id if user else None,
        email=address,
        client=client,
        known=user is not None and user.is_active,
    )
    if user is None or not user.is_active:
        return
    recent = session.exec(
        select(func.count())
        .select_from(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == TokenPurpose.PASSWORD_RESET.value,
            AccountToken.created_at > utcnow() - RESET_THROTTLE,
        )
    ).one()
    if recent:
        return
    token = _issue_token(session, user, TokenPurpose.PASSWORD_RESET, None)
    _queue_reset(session, user, token)


def reset_password(session: Session, token: str, password: str, *, client: ClientInfo | None = None) -> str:
    """Set a new password from a reset link; every session and API token of the account ends.
    Returns the account's email (to log in)."""
    stored, user = _live_token(session, token, TokenPurpose.PASSWORD_RESET)
    _check_password(password, user.email)
    stored.used_at = utcnow()
    _withdraw_tokens(session, user.id, TokenPurpose.PASSWORD_RESET)
    user.password_hash = passwords.hash_password(password)
    user.touch()
    ended = auth.revoke_all_sessions(session, user.id)
    security_log.record(
        session,
        AccountAction.PASSWORD_RESET,
        severity=Severity.MEDIUM,
        user_id=user.id,
        email=user.email,
        client=client,
        sessions_ended=ended,
    )
    session.flush()
    return user.email


# --- email change ------------------------------------------------------------------------------------


def _address_taken(session: Session, email: str, user_id: uuid.UUID) -> bool:
    return session.exec(select(User.id).where(User.email == email, User.id != user_id)).first() is not None


def request_email_change(
    session: Session, actor: Actor, *, new_email: str, password: str, client: ClientInfo | None = None
) -> str:
    """Email the new address a 24-hour, single-use link that moves the actor's account to it (after
    checking the current password). The address changes only when the link is followed. Returns the
    normalised new address."""
    user = _get_user(session, actor.id)
    if not user.is_active:
        raise Forbidden("user.email_change")
    errors: dict[str, str] = {}
    address = auth.normalize_email(new_email)
    try:
        identifiers.clean_email(address)
    except ValueError as exc:
        errors["new_email"] = str(exc)
    else:
        if address == user.email:
            errors["new_email"] = N_("This is already your email address.")
        elif _address_taken(session, address, user.id):
            errors["new_email"] = EMAIL_TAKEN
    if not passwords.verify_password(password, user.password_hash):
        errors["password"] = N_("The current password is not correct.")
    if errors:
        raise ValidationFailed(errors)
    token = _issue_token(session, user, TokenPurpose.EMAIL_CHANGE, actor, new_email=address)
    _queue_email_change(session, user, address, token)
    security_log.record(
        session,
        AccountAction.EMAIL_CHANGE_REQUESTED,
        severity=Severity.MEDIUM,
        user_id=user.id,
        email=user.email,
        client=client,
        new_email=address,
    )
    return address


def confirm_email_change(
    session: Session, token: str, *, keep_session_id: uuid.UUID | None = None, client: ClientInfo | None = None
) -> str:
    """Move the account to the address of an email-change link; the account's other sessions end
    (`keep_session_id`, the browser that followed the link, stays signed in when it is the account's),
    and the previous address is told. Returns the new address."""
    stored, user = _live_token(session, token, TokenPurpose.EMAIL_CHANGE)
    new_email = stored.new_email
    if not new_email:
        raise ValidationFailed({"token": INVALID_LINK}, INVALID_LINK)
    if _address_taken(session, new_email, user.id):
        raise ValidationFailed({"token": EMAIL_TAKEN}, EMAIL_TAKEN)
    old_email = user.email
    stored.used_at = utcnow()
    _withdraw_tokens(session, user.id, TokenPurpose.EMAIL_CHANGE)
    # A password-reset link sent to the old address must not open the account any more.
    _withdraw_tokens(session, user.id, TokenPurpose.PASSWORD_RESET)
    user.email = new_email
    user.touch()
    conditions = [col(AuthSession.user_id) == user.id, col(AuthSession.revoked_at).is_(None)]
    if keep_session_id is not None:
        conditions.append(col(AuthSession.id) != keep_session_id)
    ended = int(session.exec(update(AuthSession).where(*conditions).values(revoked_at=utcnow())).rowcount or 0)
    security_log.record(
        session,
        AccountAction.EMAIL_CHANGED,
        severity=Severity.HIGH,
        user_id=user.id,
        email=new_email,
        client=client,
        changes={"email": {"old": old_email, "new": new_email}},
        sessions_ended=ended,
    )
    _queue_email_changed_notice(session, user, old_email)
    session.flush()
    return new_email


# --- the list ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRow:
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    team_id: uuid.UUID | None
    team_name: str | None
    status: UserStatus
    last_login_at: datetime | None
    version: int
    can_administer: bool = False  # for the page's buttons; not published by the API


SORTS = {
    "full_name": col(User.full_name),
    "email": col(User.email),
    "role": col(User.role),
    "last_login_at": col(User.last_login_at),
    "team_name": col(Team.name),
}


def list_users(
    session: Session,
    actor: Actor,
    *,
    q: str = "",
    status: UserStatus | None = None,
    request: PageRequest | None = None,
    sort: str = "full_name",
    descending: bool = False,
) -> Page[UserRow]:
    """Users the actor may see (admins: everyone; managers and team admins: their team), paged in SQL."""
    request = request or PageRequest()
    scope = scope_for(actor, "user.view")
    if scope is Scope.NONE:
        raise Forbidden("user.view")
    statement = select(User, Team.name).join(Team, col(Team.id) == User.team_id, isouter=True)
    if scope is not Scope.ALL:
        statement = statement.where(User.team_id == actor.team_id) if actor.team_id else statement.where(false())
    if q.strip():
        pattern = f"%{q.strip().lower()}%"
        statement = statement.where(or_(func.lower(User.full_name).like(pattern), col(User.email).like(pattern)))
    if status is UserStatus.ACTIVE:
        statement = statement.where(col(User.is_active))
    elif status is UserStatus.INVITED:
        statement = statement.where(
            ~col(User.is_active), col(User.password_hash).is_(None), col(User.last_login_at).is_(None)
        )
    elif status is UserStatus.DEACTIVATED:
        statement = statement.where(
            ~col(User.is_active), or_(col(User.password_hash).is_not(None), col(User.last_login_at).is_not(None))
        )
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    order = SORTS.get(sort, col(User.full_name))
    ordered = order.desc().nulls_last() if descending else order.asc().nulls_last()
    rows = session.exec(statement.order_by(ordered, col(User.id)).offset(request.offset).limit(request.page_size)).all()
    items = [
        UserRow(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            role=Role(user.role),
            team_id=user.team_id,
            team_name=name,
            status=status_of(user),
            last_login_at=user.last_login_at,
            version=user.version,
            can_administer=can_administer(actor, user),
        )
        for user, name in rows
    ]
    return Page(items=items, total=int(total), page=request.page, page_size=request.page_size)


def get_user_row(session: Session, actor: Actor, user_id: uuid.UUID) -> UserRow:
    authorize(actor, "user.view")  # no right to see accounts at all: 403, as the list answers
    user = _get_user(session, user_id)
    scope = scope_for(actor, "user.view")
    if scope is not Scope.ALL and (actor.team_id is None or user.team_id != actor.team_id):
        raise NotFound()  # beyond the actor's team: as if it did not exist
    return UserRow(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=Role(user.role),
        team_id=user.team_id,
        team_name=users.team_name(session, user.team_id),
        status=status_of(user),
        last_login_at=user.last_login_at,
        version=user.version,
        can_administer=can_administer(actor, user),
    )


@dataclass(frozen=True, slots=True)
class AdminChoices:
    """What the invite and edit forms offer this actor."""

    roles: list[Role]
    teams: list[tuple[uuid.UUID, str]]
    can_choose_no_team: bool
    #: No SMTP server: invitations and resets cannot reach anyone by email, so the page shows the
    #: administrator a link to pass on instead (`copyable_link`).
    mail_configured: bool = True


def admin_choices(session: Session, actor: Actor) -> AdminChoices:
    scope = scope_for(actor, "user.administer")
    if scope is Scope.NONE:
        raise Forbidden("user.administer")
    statement = select(Team.id, Team.name).where(~col(Team.is_archived)).order_by(col(Team.name))
    if scope is not Scope.ALL:
        statement = statement.where(Team.id == actor.team_id) if actor.team_id else statement.where(false())
    teams = [(team_id, name) for team_id, name in session.exec(statement).all()]
    return AdminChoices(
        roles=grantable_roles(actor),
        teams=teams,
        can_choose_no_team=scope is Scope.ALL,
        mail_configured=bool(smtp_settings(session).smtp_host),
    )


def find_team_id(session: Session, name: str) -> uuid.UUID:
    """The team with this name (CLI, scripts)."""
    team_id = session.exec(select(Team.id).where(Team.name == name.strip())).first()
    if team_id is None:
        raise ValidationFailed({"team": N_("This team does not exist.")})
    return team_id


def find_user_id(session: Session, email: str) -> uuid.UUID:
    """The account with this email (CLI, scripts)."""
    user_id = session.exec(select(User.id).where(User.email == auth.normalize_email(email))).first()
    if user_id is None:
        raise NotFound(N_("No user has this email."))
    return user_id
